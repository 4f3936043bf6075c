#!/bin/sh
# The image's kafka-cluster.sh: org.apache.kafka.tools.ClusterTool
exec "$(dirname "$0")/kafka-run-class.sh" org.apache.kafka.tools.ClusterTool "$@"
