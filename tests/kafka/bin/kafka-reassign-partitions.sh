#!/bin/sh
# The image's kafka-reassign-partitions.sh: org.apache.kafka.tools.reassign.ReassignPartitionsCommand
exec "$(dirname "$0")/kafka-run-class.sh" org.apache.kafka.tools.reassign.ReassignPartitionsCommand "$@"
