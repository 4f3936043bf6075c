#!/bin/sh
# The image's kafka-configs.sh: ConfigCommand is kafka.admin.ConfigCommand up to Kafka 4.1 and
# org.apache.kafka.tools.ConfigCommand from 4.2.
lib=${KPA_KAFKA_LIB:-/opt/kafka/libs}
class=org.apache.kafka.tools.ConfigCommand
for jar in "$lib"/kafka_2.13-4.0.*.jar "$lib"/kafka_2.13-4.1.*.jar; do
        [ -f "$jar" ] && class=kafka.admin.ConfigCommand
done
exec "$(dirname "$0")/kafka-run-class.sh" "$class" "$@"
