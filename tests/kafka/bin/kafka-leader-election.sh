#!/bin/sh
# The image's kafka-leader-election.sh: org.apache.kafka.tools.LeaderElectionCommand
exec "$(dirname "$0")/kafka-run-class.sh" org.apache.kafka.tools.LeaderElectionCommand "$@"
