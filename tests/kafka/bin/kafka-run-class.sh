#!/bin/sh
# Stands in for the apache/kafka image's /opt/kafka/bin/kafka-run-class.sh: runs CLASS from the
# jars of one Kafka release (the image's /opt/kafka/libs, where the harness mounts the folder
# tests/kafka/provision.sh made; $KPA_KAFKA_LIB elsewhere) with the same environment knobs the
# image's script reads (KAFKA_HEAP_OPTS, KAFKA_JVM_PERFORMANCE_OPTS, KAFKA_LOG4J_OPTS,
# KAFKA_OPTS). The harness mounts this folder at /opt/kafka/bin in each pod, so the
# StatefulSet's own container command runs unchanged.
set -eu
KPA_KAFKA_LIB=${KPA_KAFKA_LIB:-/opt/kafka/libs}
class=$1
shift
# shellcheck disable=SC2086 # the *_OPTS variables are word lists, as in Kafka's own script
exec java ${KAFKA_HEAP_OPTS:--Xmx256m} ${KAFKA_JVM_PERFORMANCE_OPTS:-} ${KAFKA_LOG4J_OPTS:-} \
        ${KAFKA_OPTS:-} -cp "$KPA_KAFKA_LIB/*" "$class" "$@"
