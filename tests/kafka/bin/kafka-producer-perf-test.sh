#!/bin/sh
# The image's kafka-producer-perf-test.sh: org.apache.kafka.tools.ProducerPerformance
exec "$(dirname "$0")/kafka-run-class.sh" org.apache.kafka.tools.ProducerPerformance "$@"
