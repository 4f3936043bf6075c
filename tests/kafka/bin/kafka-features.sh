#!/bin/sh
# The image's kafka-features.sh: org.apache.kafka.tools.FeatureCommand
exec "$(dirname "$0")/kafka-run-class.sh" org.apache.kafka.tools.FeatureCommand "$@"
