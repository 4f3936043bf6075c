#!/bin/sh
# The image's kafka-server-start.sh: the broker (kafka.Kafka) on the given server.properties,
# with the image's default heap when KAFKA_HEAP_OPTS is unset.
export KAFKA_HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xmx1G -Xms1G}"
exec "$(dirname "$0")/kafka-run-class.sh" kafka.Kafka "$@"
