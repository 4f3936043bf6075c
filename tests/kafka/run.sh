#!/bin/sh
# The real-Kafka suites: every topology (test_topologies.py), every agent verdict
# (test_verdicts.py), the fail-closed gate (test_gate.py) and its distrust of a stale local view
# (test_stale_view.py), a log dir that fills up and goes offline (test_disk.py), leadership
# restored after a restart (test_leadership.py), a scale-down from 4 brokers to 3 under load
# (test_scaledown.py), a certificate renewed without a restart (test_tls_rotation.py), one
# re-issued by the agent from KPA_TLS_CA_DIR once due (test_ca_issue.py), a CA
# changed across 3 brokers in the gated order (test_ca_rotation.py), a same-CA renewal carried
# into the Raft clients by one gated restart per broker (test_raft_renewal.py) and a
# rolling update under load, gated versus naive (test_rollout.py)
# against real Apache Kafka brokers,
# once per release in tests/kafka/versions, except the long rolling updates: gated versus naive
# (test_rollout.py) on the shipped release and faults during a gated roll (test_faults.py) on the
# newest, and the scale-down (test_scaledown.py, 4 brokers) and the CA re-issue, CA rotation and Raft leaf renewal on the shipped release, when no
# names are given (the leaf renewal, test_tls_rotation.py, runs on every release: 4.4.0's network
# processors reload seconds apart, which is what its confirmation and retry are for); then the rolling upgrade from the shipped release to the
# newest and its finalization (test_upgrade.py), once, since it needs both.
# The shipped release runs kpa's plain build, the newest the ASan+UBSan build
# (KPA_KAFKA_BUILDS="plain asan" by default, matched to the versions in order).
# Needs root (network and mount namespaces), Java 17, Maven, kcat, /usr/bin/python3 + PyYAML.
# Usage: tests/kafka/run.sh [unittest names...]   e.g. test_verdicts.RealVerdicts
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
[ "$(id -u)" -eq 0 ] || { echo "tests/kafka/run.sh: needs root (ip netns, mount namespaces)" >&2; exit 1; }
all=${*:-test_topologies test_verdicts test_gate test_stale_view test_disk test_leadership test_tls_rotation test_upgrade}
suites=
once=
for s in $all; do
        case $s in
        test_upgrade*) once="$once $s" ;;
        *) suites="$suites $s" ;;
        esac
done
# The rolling-update suites run on one release each when no names are given: each is several
# minutes of rolls, and what they prove (nothing lost, the gate's holds, the quorum's majority)
# does not change between 4.x releases as much as the wall time they cost.
shipped_only=""
newest_only=""
[ $# -gt 0 ] || { shipped_only="test_rollout test_scaledown test_ca_issue test_ca_rotation test_raft_renewal"; newest_only="test_faults"; }
builds=${KPA_KAFKA_BUILDS:-plain asan}
export KPA_KAFKA_FIGURES="${KPA_KAFKA_FIGURES:-$repo/build/kafka-figures.jsonl}"
rm -f "$KPA_KAFKA_FIGURES"
start=$(date +%s)
[ -n "$suites" ] && grep -v '^#' "$here/versions" | while read -r version role; do
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
                /usr/bin/python3 -m unittest -v $suites $([ "$role" = newest ] && echo "$newest_only") \
                        $([ "$role" = shipped ] && echo "$shipped_only"))
        echo "== real Kafka $version: $(( $(date +%s) - t ))s =="
done
if [ -n "$once" ]; then
        from=$(awk '$2 == "shipped" {print $1}' "$here/versions")
        to=$(awk '$2 == "newest" {print $1}' "$here/versions")
        build=${builds%% *}
        "$here/provision.sh" "$from" >/dev/null
        "$here/provision.sh" "$to" >/dev/null
        echo "== real Kafka upgrade $from -> $to; kpa build: $build =="
        t=$(date +%s)
        (cd "$here" && KPA_KAFKA_VERSION=$from KPA_KAFKA_UPGRADE_FROM=$from KPA_KAFKA_UPGRADE_TO=$to \
                KPA_BUILD_DIR="$repo/build/test-$build" \
                ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
                /usr/bin/python3 -m unittest -v $once)
        echo "== real Kafka upgrade: $(( $(date +%s) - t ))s =="
fi
echo "== real Kafka, all versions: $(( $(date +%s) - start ))s; figures in $KPA_KAFKA_FIGURES =="
