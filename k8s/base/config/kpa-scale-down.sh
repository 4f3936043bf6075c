#!/bin/bash
# Scale-down of a kpa StatefulSet (docs/scale-down.md), with Kafka's own tools only.
#
#   kpa-scale-down.sh reassign   --bootstrap-server HOST:PORT WHICH [--command-config FILE] [--timeout SECONDS]
#       Moves every partition replica off the brokers being removed onto the other live
#       brokers (kafka-reassign-partitions.sh --execute), each replaced by the kept broker
#       holding fewest replicas that the partition does not already use, then runs --verify
#       until every reassignment completed (at most --timeout, default 3600 s), and checks that
#       no partition lists a removed broker any more. Exit 0 only then.
#   kpa-scale-down.sh unregister --bootstrap-server HOST:PORT WHICH [--command-config FILE]
#       After the removed pods are gone: kafka-cluster.sh unregister --id N for each, so that
#       no fenced registration lingers (it would block a later metadata.version upgrade).
#
# WHICH brokers are removed, one of:
#   --remove IDS                 their node ids, comma-separated
#   --target-replicas N [--node-id-offset K]
#                                the StatefulSet's new spec.replicas: every broker id at or
#                                above K + N (node.id = K + ordinal; K is kpa-init's
#                                KPA_NODE_ID_OFFSET, default 0, 100 with a separate controller
#                                set) that is registered, fenced or not, or named as a replica.
#                                Brokers of another set with higher ids would be counted too:
#                                give --remove then. unregister refuses (exit 1, nothing done)
#                                while any of them is still unfenced: its pod still runs.
# --command-config FILE: a Java client properties file (TLS, SASL) for every tool;
# --command-config-if-exists FILE: the same when FILE exists, else none (the Job mounts an
# optional Secret there, so one manifest serves plain and TLS/SASL clusters).
#
# KAFKA_BIN (default /opt/kafka/bin) is where the tools are. Each tool is a JVM of its own, run
# beside the broker in its container: KPA_TOOL_HEAP_OPTS (default -Xmx256m) replaces the
# broker's KAFKA_HEAP_OPTS, which would give every tool the broker's heap within its limit.
set -euo pipefail

bin=${KAFKA_BIN:-/opt/kafka/bin}
export KAFKA_HEAP_OPTS=${KPA_TOOL_HEAP_OPTS:--Xmx256m}
cmd=${1:-}
[ $# -gt 0 ] && shift
bootstrap="" remove="" config="" config_if="" timeout=3600 target="" offset=0
while [ $# -gt 0 ]; do
        [ $# -ge 2 ] || { echo "kpa-scale-down.sh: option \"$1\" needs a value" >&2; exit 2; }
        case $1 in
        --bootstrap-server) bootstrap=$2; shift 2 ;;
        --remove) remove=$2; shift 2 ;;
        --target-replicas) target=$2; shift 2 ;;
        --node-id-offset) offset=$2; shift 2 ;;
        --command-config) config=$2; shift 2 ;;
        --command-config-if-exists) config_if=$2; shift 2 ;;
        --timeout) timeout=$2; shift 2 ;;
        *) echo "kpa-scale-down.sh: unknown option \"$1\" (expected --bootstrap-server, --remove, --target-replicas, --node-id-offset, --command-config, --command-config-if-exists, --timeout)" >&2; exit 2 ;;
        esac
done
if [ "$cmd" != reassign ] && [ "$cmd" != unregister ]; then
        echo "kpa-scale-down.sh: expected the command reassign or unregister, got \"$cmd\"" >&2
        exit 2
fi
[ -n "$bootstrap" ] || { echo "kpa-scale-down.sh: --bootstrap-server HOST:PORT is required" >&2; exit 2; }
if [ -n "$target" ]; then
        [ -z "$remove" ] || { echo "kpa-scale-down.sh: give --remove or --target-replicas, not both" >&2; exit 2; }
        [[ $target =~ ^(0|[1-9][0-9]{0,8})$ ]] || { echo "kpa-scale-down.sh: --target-replicas \"$target\" is not a whole number from 0 to 999999999" >&2; exit 2; }
        [[ $offset =~ ^(0|[1-9][0-9]{0,8})$ ]] || { echo "kpa-scale-down.sh: --node-id-offset \"$offset\" is not a whole number from 0 to 999999999" >&2; exit 2; }
        # Scaled to 0 the whole cluster stops: nothing to move to, nobody to unregister with.
        [ "$target" != 0 ] || { echo "kpa-scale-down.sh: --target-replicas 0 removes every broker: there is nowhere to move the replicas" >&2; exit 2; }
else
        [[ $remove =~ ^[0-9]+(,[0-9]+)*$ ]] || { echo "kpa-scale-down.sh: --remove \"$remove\" is not a comma-separated list of node ids (or give --target-replicas)" >&2; exit 2; }
fi
[[ $timeout =~ ^[0-9]+$ ]] || { echo "kpa-scale-down.sh: --timeout \"$timeout\" is not a number of seconds" >&2; exit 2; }
if [ -n "$config_if" ]; then
        [ -z "$config" ] || { echo "kpa-scale-down.sh: give --command-config or --command-config-if-exists, not both" >&2; exit 2; }
        if [ -e "$config_if" ]; then
                config=$config_if
        else
                echo "no client config at $config_if: the tools connect without one (PLAINTEXT)"
        fi
fi
if [ -n "$config" ]; then
        [ -r "$config" ] || { echo "kpa-scale-down.sh: --command-config \"$config\" is not a readable file" >&2; exit 2; }
        echo "client config: $config"
fi
cc=()
[ -n "$config" ] && cc=(--command-config "$config")
ccc=()
[ -n "$config" ] && ccc=(--config "$config")

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# --target-replicas: the ids at or above offset + target among the registered brokers (fenced
# ones too: a removed pod may be gone already) and, for reassign, the replicas partitions name.
if [ -n "$target" ]; then
        first=$((offset + target))
        "$bin/kafka-cluster.sh" list-endpoints --bootstrap-server "$bootstrap" "${ccc[@]}" --include-fenced-brokers >"$work/endpoints"
        : >"$work/topics"
        [ "$cmd" = reassign ] && "$bin/kafka-topics.sh" --bootstrap-server "$bootstrap" "${cc[@]}" --describe >"$work/topics"
        remove=$( { awk 'NR > 1 && $1 ~ /^[0-9]+$/ { print $1 }' "$work/endpoints"
                    awk -F'\t' '{ for (i = 1; i <= NF; i++) { f = $i; sub(/^ +/, "", f); if (index(f, "Replicas: ") == 1) { m = split(substr(f, 11), rs, ","); for (j = 1; j <= m; j++) print rs[j] } } }' "$work/topics"
                  } | awk -v first="$first" '$1 + 0 >= first + 0 && !seen[$1]++ { print $1 + 0 }' | sort -n | paste -sd, -)
        if [ -z "$remove" ]; then
                echo "no broker has a node id at or above $first (offset $offset + $target replicas): nothing to $cmd"
                exit 0
        fi
        echo "brokers removed by a scale to $target replicas (node ids >= $first): $remove"
        # Unregistering a broker that still runs would only make it register again (or
        # worse): by the target, only fenced brokers (their pods are gone) are unregistered,
        # and any that is still unfenced stops the step before anything is done.
        if [ "$cmd" = unregister ]; then
                live=$(awk -v first="$first" 'NR > 1 && $1 ~ /^[0-9]+$/ && $1 + 0 >= first + 0 {
                                for (i = 2; i <= NF; i++) if ($i == "unfenced") { printf "%s%s", sep, $1; sep = "," } }' "$work/endpoints")
                if [ -n "$live" ]; then
                        echo "kpa-scale-down.sh: brokers $live are still registered and not fenced (do their pods still run?): unregister them once their pods are gone" >&2
                        exit 1
                fi
        fi
fi

if [ "$cmd" = unregister ]; then
        for id in ${remove//,/ }; do
                echo "unregistering broker $id"
                "$bin/kafka-cluster.sh" unregister --bootstrap-server "$bootstrap" "${ccc[@]}" --id "$id"
        done
        exit 0
fi

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
