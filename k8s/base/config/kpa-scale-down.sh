#!/bin/bash
# Scale-down of a kpa StatefulSet (docs/scale-down.md), with Kafka's own tools only.
#
#   kpa-scale-down.sh reassign   --bootstrap-server HOST:PORT --remove IDS [--command-config FILE] [--timeout SECONDS]
#       Moves every partition replica off the brokers IDS (comma-separated node ids) onto the
#       other live brokers (kafka-reassign-partitions.sh --execute), each replaced by the kept
#       broker holding fewest replicas that the partition does not already use, then runs
#       --verify until every reassignment completed (at most --timeout, default 3600 s), and
#       checks that no partition lists a removed broker any more. Exit 0 only then.
#   kpa-scale-down.sh unregister --bootstrap-server HOST:PORT --remove IDS [--command-config FILE]
#       After the removed pods are gone: kafka-cluster.sh unregister --id N for each, so that
#       no fenced registration lingers (it would block a later metadata.version upgrade).
#
# KAFKA_BIN (default /opt/kafka/bin) is where the tools are. Each tool is a JVM of its own, run
# beside the broker in its container: KPA_TOOL_HEAP_OPTS (default -Xmx256m) replaces the
# broker's KAFKA_HEAP_OPTS, which would give every tool the broker's heap within its limit.
set -euo pipefail

bin=${KAFKA_BIN:-/opt/kafka/bin}
export KAFKA_HEAP_OPTS=${KPA_TOOL_HEAP_OPTS:--Xmx256m}
cmd=${1:-}
[ $# -gt 0 ] && shift
bootstrap="" remove="" config="" timeout=3600
while [ $# -gt 0 ]; do
        case $1 in
        --bootstrap-server) bootstrap=$2; shift 2 ;;
        --remove) remove=$2; shift 2 ;;
        --command-config) config=$2; shift 2 ;;
        --timeout) timeout=$2; shift 2 ;;
        *) echo "kpa-scale-down.sh: unknown option \"$1\" (expected --bootstrap-server, --remove, --command-config, --timeout)" >&2; exit 2 ;;
        esac
done
if [ "$cmd" != reassign ] && [ "$cmd" != unregister ]; then
        echo "kpa-scale-down.sh: expected the command reassign or unregister, got \"$cmd\"" >&2
        exit 2
fi
[ -n "$bootstrap" ] || { echo "kpa-scale-down.sh: --bootstrap-server HOST:PORT is required" >&2; exit 2; }
[[ $remove =~ ^[0-9]+(,[0-9]+)*$ ]] || { echo "kpa-scale-down.sh: --remove \"$remove\" is not a comma-separated list of node ids" >&2; exit 2; }
[[ $timeout =~ ^[0-9]+$ ]] || { echo "kpa-scale-down.sh: --timeout \"$timeout\" is not a number of seconds" >&2; exit 2; }
cc=()
[ -n "$config" ] && cc=(--command-config "$config")

if [ "$cmd" = unregister ]; then
        ccc=()
        [ -n "$config" ] && ccc=(--config "$config")
        for id in ${remove//,/ }; do
                echo "unregistering broker $id"
                "$bin/kafka-cluster.sh" unregister --bootstrap-server "$bootstrap" "${ccc[@]}" --id "$id"
        done
        exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The live brokers: kafka-configs lists every registered broker by id.
"$bin/kafka-configs.sh" --bootstrap-server "$bootstrap" "${cc[@]}" --entity-type brokers --describe >"$work/brokers"
keep=$(sed -n 's/^Dynamic configs for broker \([0-9][0-9]*\) are:.*/\1/p' "$work/brokers" |
        awk -v remove="$remove" 'BEGIN { n = split(remove, r, ","); for (i = 1; i <= n; i++) gone[r[i]] = 1 }
                                 !($1 in gone) { printf "%s%s", sep, $1; sep = "," }')
[ -n "$keep" ] || { echo "kpa-scale-down.sh: no broker would be left besides $remove" >&2; exit 1; }
echo "moving replicas off brokers $remove onto brokers $keep"

"$bin/kafka-topics.sh" --bootstrap-server "$bootstrap" "${cc[@]}" --describe >"$work/topics"
# One line per partition: "Topic: t<TAB>...Partition: p<TAB>...Replicas: a,b,c<TAB>...".
awk -F'\t' -v remove="$remove" -v keep="$keep" -v plan="$work/plan.json" '
BEGIN {
        n = split(remove, r, ","); for (i = 1; i <= n; i++) gone[r[i]] = 1
        nk = split(keep, k, ","); for (i = 1; i <= nk; i++) load[k[i]] = 0
}
function field(name,   i, f) {
        for (i = 1; i <= NF; i++) { f = $i; sub(/^ +/, "", f); if (index(f, name ": ") == 1) return substr(f, length(name) + 3) }
        return ""
}
{
        t = field("Topic"); p = field("Partition"); reps = field("Replicas")
        if (p == "" || reps == "") next
        m = split(reps, rs, ",")
        for (i = 1; i <= m; i++) if (rs[i] in load) load[rs[i]]++
        lines[++np] = t SUBSEP p SUBSEP reps
}
END {
        out = ""; moved = 0
        for (j = 1; j <= np; j++) {
                split(lines[j], a, SUBSEP); m = split(a[3], rs, ",")
                change = 0; delete used
                for (i = 1; i <= m; i++) used[rs[i]] = 1
                for (i = 1; i <= m; i++) {
                        if (!(rs[i] in gone)) continue
                        best = ""
                        for (x = 1; x <= nk; x++) { b = k[x]; if (!(b in used) && (best == "" || load[b] < load[best])) best = b }
                        if (best == "") { printf "partition %s-%s has %d replicas, more than the %d brokers kept\n", a[1], a[2], m, nk > "/dev/stderr"; exit 1 }
                        used[best] = 1; load[best]++; rs[i] = best; change = 1
                }
                if (!change) continue
                list = rs[1]; for (i = 2; i <= m; i++) list = list "," rs[i]
                out = out (moved ? "," : "") "{\"topic\":\"" a[1] "\",\"partition\":" a[2] ",\"replicas\":[" list "]}"
                moved++
        }
        printf "{\"version\":1,\"partitions\":[%s]}\n", out > plan
        print moved
}' "$work/topics" >"$work/count"
count=$(cat "$work/count")
if [ "$count" = 0 ]; then
        echo "no partition has a replica on brokers $remove: nothing to move"
        exit 0
fi
echo "reassigning $count partitions (plan: $(cat "$work/plan.json"))"
"$bin/kafka-reassign-partitions.sh" --bootstrap-server "$bootstrap" "${cc[@]}" --execute \
        --reassignment-json-file "$work/plan.json"

deadline=$((SECONDS + timeout))
while :; do
        # --verify also lifts the replication throttle once everything is done.
        "$bin/kafka-reassign-partitions.sh" --bootstrap-server "$bootstrap" "${cc[@]}" --verify \
                --reassignment-json-file "$work/plan.json" >"$work/verify" || true
        if ! grep -q "still in progress" "$work/verify" && grep -q "is completed" "$work/verify"; then
                break
        fi
        if [ "$SECONDS" -ge "$deadline" ]; then
                echo "kpa-scale-down.sh: the reassignment did not complete within ${timeout}s:" >&2
                cat "$work/verify" >&2
                exit 1
        fi
        sleep 2
done
"$bin/kafka-topics.sh" --bootstrap-server "$bootstrap" "${cc[@]}" --describe >"$work/after"
left=$(awk -F'\t' -v remove="$remove" 'BEGIN { n = split(remove, r, ","); for (i = 1; i <= n; i++) gone[r[i]] = 1 }
        { for (i = 1; i <= NF; i++) { f = $i; sub(/^ +/, "", f); if (index(f, "Replicas: ") == 1) { m = split(substr(f, 11), rs, ","); for (j = 1; j <= m; j++) if (rs[j] in gone) c++ } } }
        END { print c + 0 }' "$work/after")
if [ "$left" != 0 ]; then
        echo "kpa-scale-down.sh: $left partitions still list a removed broker after the reassignment" >&2
        exit 1
fi
echo "done: no partition has a replica on brokers $remove"
