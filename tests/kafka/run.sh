#!/bin/sh
# The real-Kafka suites: every topology (test_topologies.py), every agent verdict
# (test_verdicts.py), the fail-closed gate (test_gate.py) and a rolling update under load, gated
# versus naive (test_rollout.py) against real Apache Kafka brokers,
# once per release in tests/kafka/versions.
# The shipped release runs kpa's plain build, the newest the ASan+UBSan build
# (KPA_KAFKA_BUILDS="plain asan" by default, matched to the versions in order).
# Needs root (network and mount namespaces), Java 17, Maven, kcat, /usr/bin/python3 + PyYAML.
# Usage: tests/kafka/run.sh [unittest names...]   e.g. test_verdicts.RealVerdicts
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
[ "$(id -u)" -eq 0 ] || { echo "tests/kafka/run.sh: needs root (ip netns, mount namespaces)" >&2; exit 1; }
suites=${*:-test_topologies test_verdicts test_gate test_rollout}
builds=${KPA_KAFKA_BUILDS:-plain asan}
export KPA_KAFKA_FIGURES="${KPA_KAFKA_FIGURES:-$repo/build/kafka-figures.jsonl}"
rm -f "$KPA_KAFKA_FIGURES"
start=$(date +%s)
grep -v '^#' "$here/versions" | while read -r version role; do
        [ -n "$version" ] || continue
        build=${builds%% *}
        builds=${builds#* }
        t=$(date +%s)
        lib=$("$here/provision.sh" "$version")
        echo "== real Kafka $version ($role): jars in $lib ($(( $(date +%s) - t ))s); kpa build: $build =="
        [ -x "$repo/build/test-$build/kpa-agent" ] || {
                echo "tests/kafka/run.sh: $repo/build/test-$build/kpa-agent missing: run tests/run.sh (or cmake --build) first" >&2
                exit 1
        }
        t=$(date +%s)
        (cd "$here" && KPA_KAFKA_VERSION=$version KPA_BUILD_DIR="$repo/build/test-$build" \
                ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
                /usr/bin/python3 -m unittest -v $suites)
        echo "== real Kafka $version: $(( $(date +%s) - t ))s =="
done
echo "== real Kafka, all versions: $(( $(date +%s) - start ))s; figures in $KPA_KAFKA_FIGURES =="
