#!/bin/bash
# kpa-agent's controller mode against real Apache Kafka controllers, by hand (issue 8, section
# 4 "Controller-only nodes"). For the lead to fold into the harness; needs root.
#
# Pods, each a network namespace on bridge kqbr (10.81.0.0/24) with its own hosts file:
#   kafka-controller-0..2  (kq0..kq2, 10.81.0.10-12)  process.roles=controller, node.id 0-2
#   kafka-0                (kq3, 10.81.0.13)           process.roles=broker, node.id 100
# all configured by kpa-init with KPA_CONTROLLER_STATEFULSET=kafka-controller (the broker with
# KPA_NODE_ID_OFFSET=100: with the default offsets its node.id 0 would collide with controller
# 0's). A kpa-agent runs beside each (on POD_IP:8080) with kpa-init's server.properties and
# client.properties, as the StatefulSet runs it.
#
# Steps (each wait bounded; timings printed):
#   1. every controller's agent reaches /readyz 200; `kpa-agent check` shows the decoded
#      DescribeQuorum next to Kafka's own kafka-metadata-quorum describe --replication;
#   2. one follower controller is stopped (SIGTERM): the other two agents' /prestop hold,
#      and /status and the /prestop answer say why (the quorum would lose its caught-up
#      majority);
#   3. it is started again: both held /prestop requests are released, and its own agent gets
#      ready again.
#
#   sudo tests/kafka/manual-quorum.sh [--kafka 4.4.0|4.1.1] [--security plaintext|ssl|sasl_ssl]
#                                     [--client-auth required] [--build DIR] [--keep]
#                                     [--dump-answers DIR] [--stop follower|leader] [--signal TERM|KILL]
# --security ssl: SSL on both listeners, certificates issued by kpa-init from a throw-away CA
# (KPA_TLS_CA_DIR, made here with openssl); sasl_ssl: SASL_SSL (PLAIN) on both listeners.
# --stop leader stops the quorum's leader instead of a follower (the others elect a new one);
# --signal KILL makes the stop a crash instead of a controlled shutdown.
# --dump-answers DIR (plaintext only): saves the raw DescribeQuorum v2 answers (frames without
# their size) of the leader and of a follower, for the codec's test vectors.
# --client-auth required: KPA_TLS_CLIENT_AUTH=required (mutual TLS: the agent presents the pod's
# keystore.p12, as kpa-init's client.properties says).
# Needs /tmp/kpom/lib-<version>/ (the Kafka jars), Java 17, curl, openssl, and a build folder
# with kpa-init and kpa-agent.
set -euo pipefail

KAFKA=4.4.0
SECURITY=plaintext
BUILD=build/dev
KEEP=0
CLIENT_AUTH=none
DUMP=""
STOP_WHO=follower
SIG=TERM
while [ $# -gt 0 ]; do
        case "$1" in
        --kafka) KAFKA=$2; shift 2 ;;
        --security) SECURITY=$2; shift 2 ;;
        --build) BUILD=$2; shift 2 ;;
        --keep) KEEP=1; shift ;;
        --client-auth) CLIENT_AUTH=$2; shift 2 ;;
        --dump-answers) DUMP=$2; shift 2 ;;
        --stop) STOP_WHO=$2; shift 2 ;;
        --signal) SIG=$2; shift 2 ;;
        *) echo "usage: $0 [--kafka VERSION] [--security plaintext|ssl|sasl_ssl] [--build DIR] [--keep]" >&2; exit 2 ;;
        esac
done
case "$SECURITY" in plaintext|ssl|sasl_ssl) ;; *) echo "--security: plaintext, ssl or sasl_ssl" >&2; exit 2 ;; esac
REPO=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$(cd "$REPO" && cd "$BUILD" && pwd)
LIB=/tmp/kpom/lib-$KAFKA
for f in "$BUILD/kpa-init" "$BUILD/kpa-agent" "$LIB/kafka-server-$KAFKA.jar"; do
        [ -e "$f" ] || { echo "missing $f" >&2; exit 2; }
done
[ "$(id -u)" -eq 0 ] || { echo "needs root (network namespaces)" >&2; exit 2; }

NET=10.81.0
BR=kqbr
CLUSTER_ID=kqQuorumTestClusterIdA
DOMAIN=kafka.svc.cluster.local
PODS=(kafka-controller-0 kafka-controller-1 kafka-controller-2 kafka-0)
HOSTS=(kafka-controller-0.kafka-controller-headless.$DOMAIN kafka-controller-1.kafka-controller-headless.$DOMAIN
       kafka-controller-2.kafka-controller-headless.$DOMAIN kafka-0.kafka-headless.$DOMAIN)
RUN=$(mktemp -d /tmp/kq-run.XXXXXX)
declare -A JVM AGENT
T0=$(date +%s.%N)

log() { printf '[%6.1fs] %s\n' "$(echo "$(date +%s.%N) - $T0" | bc)" "$*"; }
now() { date +%s.%N; }
since() { echo "$(now) - $1" | bc | xargs printf '%.1f'; }
ip_of() { echo "$NET.$((10 + $1))"; }

cleanup() {
        set +e
        for k in "${!AGENT[@]}"; do kill "${AGENT[$k]}" 2>/dev/null; done
        for k in "${!JVM[@]}"; do kill "${JVM[$k]}" 2>/dev/null; done
        # A broker's controlled shutdown needs the controllers, which stop at the same time:
        # give everything 10 s, then kill what is left (only our own pids).
        for _ in $(seq 50); do
                alive=0
                for p in "${AGENT[@]}" "${JVM[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
                [ $alive = 0 ] && break
                sleep 0.2
        done
        for p in "${AGENT[@]}" "${JVM[@]}"; do kill -9 "$p" 2>/dev/null; done
        wait 2>/dev/null
        for i in 0 1 2 3; do
                ip netns del kq$i 2>/dev/null
                rm -rf /etc/netns/kq$i
        done
        ip link del $BR 2>/dev/null
        if [ "$KEEP" = 1 ]; then echo "kept $RUN"; else rm -rf "$RUN"; fi
}
trap cleanup EXIT

# ---- pods: namespaces, addresses, names ----
ip link add $BR type bridge
ip addr add $NET.1/24 dev $BR
ip link set $BR up
hosts="127.0.0.1 localhost"
for i in 0 1 2 3; do hosts="$hosts
$(ip_of $i) ${HOSTS[$i]}"; done
for i in 0 1 2 3; do
        ip netns add kq$i
        ip link add kqv$i type veth peer name eth0 netns kq$i
        ip link set kqv$i master $BR up
        ip -n kq$i addr add "$(ip_of $i)/24" dev eth0
        ip -n kq$i link set eth0 up
        ip -n kq$i link set lo up
        mkdir -p /etc/netns/kq$i
        printf '%s\n' "$hosts" > /etc/netns/kq$i/hosts
done

# ---- kpa-init, as each pod's init container ----
ENV_SEC=()
case "$SECURITY" in
ssl|sasl_ssl)
        mkdir -p "$RUN/ca"
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$RUN/ca/ca.key" \
                -out "$RUN/ca/ca.crt" -days 2 -subj /CN=kq-test-ca \
                -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
        proto=$([ "$SECURITY" = ssl ] && echo SSL || echo SASL_SSL)
        ENV_SEC+=(KPA_TLS_CA_DIR="$RUN/ca" KPA_SECURITY_PROTOCOL_MAP="INTERNAL:$proto,CONTROLLER:$proto"
                  KPA_TLS_CLIENT_AUTH="$CLIENT_AUTH")
        ;;
esac
if [ "$SECURITY" = sasl_ssl ]; then
        mkdir -p "$RUN/users"
        openssl rand -hex 16 > "$RUN/users/kafka"
        chmod 600 "$RUN/users/kafka"
        ENV_SEC+=(KPA_SASL_USERS_DIR="$RUN/users")
fi
for i in 0 1 2 3; do
        pod=${PODS[$i]}
        mkdir -p "$RUN/$pod/conf" "$RUN/$pod/data"
        offset=()
        [ "$i" = 3 ] && offset=(KPA_NODE_ID_OFFSET=100)
        env POD_NAME="$pod" POD_NAMESPACE=kafka POD_IP="$(ip_of $i)" KPA_CLUSTER_ID=$CLUSTER_ID \
                KPA_CONTROLLER_STATEFULSET=kafka-controller KPA_LOG_DIRS="$RUN/$pod/data" \
                KPA_OUTPUT_DIR="$RUN/$pod/conf" "${ENV_SEC[@]}" "${offset[@]}" "$BUILD/kpa-init" >/dev/null
done
log "kpa-init wrote the four pods' configs ($SECURITY); controller-1's client.properties:"
sed -e 's/^\(sasl.password\|ssl.keystore.password\)=.*/\1=<masked>/' "$RUN/kafka-controller-1/conf/client.properties"

cat > "$RUN/log4j2.properties" <<'EOF'
status = warn
appender.console.type = Console
appender.console.name = STDOUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.stdout.ref = STDOUT
EOF
sed 's/^rootLogger.level = INFO/rootLogger.level = WARN/' "$RUN/log4j2.properties" > "$RUN/log4j2-tools.properties"

start_kafka() {
        local i=$1 pod=${PODS[$1]}
        ip netns exec kq$i java -Xms128m -Xmx384m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
                -Dlog4j2.configurationFile="$RUN/log4j2.properties" -cp "$LIB/*" kafka.Kafka \
                "$RUN/$pod/conf/server.properties" >> "$RUN/$pod/kafka.log" 2>&1 &
        JVM[$i]=$!
}

start_agent() {
        local i=$1 pod=${PODS[$1]}
        ip netns exec kq$i "$BUILD/kpa-agent" --broker-config "$RUN/$pod/conf/server.properties" \
                --client-config "$RUN/$pod/conf/client.properties" --listen "$(ip_of $i):8080" \
                --interval 1s --check-timeout 2s --prestop-timeout 90s >> "$RUN/$pod/agent.log" 2>&1 &
        AGENT[$i]=$!
}

# The HTTP status of GET path on pod i's agent (000: no answer).
http() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://$(ip_of "$1"):8080$2" || true; }
status_json() { curl -s --max-time 5 "http://$(ip_of "$1"):8080/status"; }

wait_http() {   # pod path code seconds
        local deadline=$(( $(date +%s) + $4 ))
        while [ "$(http "$1" "$2")" != "$3" ]; do
                if [ "$(date +%s)" -ge "$deadline" ]; then
                        log "TIMEOUT: ${PODS[$1]} $2 is not $3 after $4 s"
                        curl -s "http://$(ip_of "$1"):8080$2?verbose" || true
                        tail -5 "$RUN/${PODS[$1]}/kafka.log"
                        exit 1
                fi
                sleep 0.2
        done
}

# ---- 1. start everything, wait for ready ----
for i in 0 1 2 3; do
        java -cp "$LIB/*" -Dlog4j2.configurationFile="$RUN/log4j2.properties" kafka.tools.StorageTool format \
                --ignore-formatted --cluster-id $CLUSTER_ID --config "$RUN/${PODS[$i]}/conf/server.properties" \
                > "$RUN/${PODS[$i]}/format.log" 2>&1
done
T_START=$(now)
for i in 0 1 2 3; do start_kafka $i; start_agent $i; done
log "started Kafka $KAFKA: 3 controllers and 1 broker, each with kpa-agent"
for i in 0 1 2; do
        wait_http $i /readyz 200 180
        log "${PODS[$i]}: /readyz 200 after $(since "$T_START") s"
done
if [ "$SECURITY" != sasl_ssl ]; then
        wait_http 3 /readyz 200 180
        log "kafka-0 (broker semantics): /readyz 200 after $(since "$T_START") s"
fi
for i in 0 1 2; do
        echo "--- ${PODS[$i]} /readyz?verbose"
        curl -s "http://$(ip_of $i):8080/readyz?verbose"
done

LEADER=$(status_json 0 | python3 -c 'import json,sys; print(json.load(sys.stdin)["quorum"]["leader"])')
log "quorum leader: controller $LEADER"
echo "--- kpa-agent check on kafka-controller-0 (DescribeQuorum decoded):"
ip netns exec kq0 "$BUILD/kpa-agent" check --broker-config "$RUN/kafka-controller-0/conf/server.properties" \
        --client-config "$RUN/kafka-controller-0/conf/client.properties" | python3 -c '
import json, sys
j = json.load(sys.stdin)
q = j["quorum"]
print("ready=%s leader=%s epoch=%s high_watermark=%s majority=%s caught_up=%s" % (j["ready"], q["leader"], q["epoch"], q["high_watermark"], q["majority"], q["caught_up_voters"]))
for v in q["voters"]:
    print("  voter %s caught_up=%s log_end_offset=%s lag=%s caught_up_ms_ago=%s fetched_ms_ago=%s" % (v["id"], v["caught_up"], v["log_end_offset"], v["lag"], v["caught_up_ms_ago"], v["fetched_ms_ago"]))
print("  observers: %s; safe_to_stop: %s" % (q["observers"], q["safe_to_stop"]))'
echo "--- Kafka's own kafka-metadata-quorum describe --replication:"
cmdcfg="$RUN/quorum-tool.properties"
: > "$cmdcfg"
chmod 600 "$cmdcfg"
if [ "$SECURITY" != plaintext ]; then
        pw=$(cat "$RUN/kafka-controller-0/conf/store.password")
        {
                echo "security.protocol=$([ "$SECURITY" = ssl ] && echo SSL || echo SASL_SSL)"
                echo "ssl.truststore.location=$RUN/kafka-controller-0/conf/truststore.p12"
                echo "ssl.truststore.password=$pw"
                echo "ssl.truststore.type=PKCS12"
                if [ "$CLIENT_AUTH" = required ]; then
                        echo "ssl.keystore.location=$RUN/kafka-controller-0/conf/keystore.p12"
                        echo "ssl.keystore.password=$pw"
                        echo "ssl.keystore.type=PKCS12"
                fi
                if [ "$SECURITY" = sasl_ssl ]; then
                        echo "sasl.mechanism=PLAIN"
                        echo "sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username=\"kafka\" password=\"$(cat "$RUN/users/kafka")\";"
                fi
        } >> "$cmdcfg"
fi
ip netns exec kq0 java -Xmx256m -XX:TieredStopAtLevel=1 -Dlog4j2.configurationFile="$RUN/log4j2-tools.properties" \
        -cp "$LIB/*" org.apache.kafka.tools.MetadataQuorumCommand --bootstrap-controller "${HOSTS[0]}:9093" \
        --command-config "$cmdcfg" describe --replication 2>/dev/null || true

if [ -n "$DUMP" ] && [ "$SECURITY" = plaintext ]; then
        mkdir -p "$DUMP"
        for i in 0 1 2; do
                role=$([ "$i" = "$LEADER" ] && echo leader || echo follower)
                # The request is check_kwire's vector: DescribeQuorum v2, correlation id 7.
                ip netns exec kq$i python3 - "${HOSTS[$i]}" "$DUMP/describequorum-v2-$KAFKA-$role-$i.bin" <<'PY'
import socket, struct, sys
name = b"__cluster_metadata"
body = struct.pack(">hhih", 55, 2, 7, 9) + b"kpa-agent" + b"\x00" + b"\x02" + bytes([len(name) + 1]) + name \
       + b"\x02" + struct.pack(">i", 0) + b"\x00\x00\x00"
s = socket.create_connection((sys.argv[1], 9093), timeout=5)
s.sendall(struct.pack(">i", len(body)) + body)
def read(n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise SystemExit("closed")
        b += c
    return b
n = struct.unpack(">i", read(4))[0]
open(sys.argv[2], "wb").write(read(n))
PY
        done
        log "saved the raw answers in $DUMP"
fi

# ---- 2. stop a controller: the others' /prestop hold ----
STOP=$LEADER
if [ "$STOP_WHO" = follower ]; then
        for i in 0 1 2; do [ "$i" != "$LEADER" ] && { STOP=$i; break; }; done
fi
OTHERS=()
for i in 0 1 2; do [ "$i" != "$STOP" ] && OTHERS+=("$i"); done
T_STOP=$(now)
kill -"$SIG" "${JVM[$STOP]}"
wait "${JVM[$STOP]}" 2>/dev/null || true
unset "JVM[$STOP]"
log "stopped controller $STOP, the $STOP_WHO (SIG$SIG, exited after $(since "$T_STOP") s)"
# Wait until both remaining agents see the quorum without a spare caught-up voter.
for i in "${OTHERS[@]}"; do
        deadline=$(( $(date +%s) + 60 ))
        until status_json "$i" | grep -q '"safe_to_stop":{"safe":false'; do
                [ "$(date +%s)" -lt "$deadline" ] || { log "TIMEOUT: ${PODS[$i]} still safe to stop"; exit 1; }
                sleep 0.2
        done
        log "${PODS[$i]}: safe_to_stop false $(since "$T_STOP") s after the stop"
done
declare -A HELD
for i in "${OTHERS[@]}"; do
        ( code=$(curl -s -o "$RUN/prestop-$i.body" -w '%{http_code}' --max-time 120 "http://$(ip_of "$i"):8080/prestop")
          echo "$code $(date +%s.%N)" > "$RUN/prestop-$i.done" ) &
        HELD[$i]=$!
done
sleep 5
for i in "${OTHERS[@]}"; do
        if [ -e "$RUN/prestop-$i.done" ]; then
                log "FAIL: ${PODS[$i]} /prestop answered while controller $STOP is down: $(cat "$RUN/prestop-$i.body")"
                exit 1
        fi
        log "${PODS[$i]}: /prestop still held after 5 s; /status says:"
        status_json "$i" | python3 -c 'import json,sys; q=json.load(sys.stdin)["quorum"]; print("    leader %s epoch %s: %s" % (q.get("leader"), q.get("epoch"), q["safe_to_stop"]["reason"]))'
done

# ---- 3. start it again: released ----
T_RESTART=$(now)
start_kafka "$STOP"
log "started controller $STOP again"
for i in "${OTHERS[@]}"; do
        wait "${HELD[$i]}" || true
        read -r code at < "$RUN/prestop-$i.done"
        log "${PODS[$i]}: /prestop answered $code $(echo "$at - $T_RESTART" | bc | xargs printf '%.1f') s after the restart: $(cat "$RUN/prestop-$i.body")"
        [ "$code" = 200 ] && grep -q '^safe to stop: ' "$RUN/prestop-$i.body" || { log "FAIL: not released as safe"; exit 1; }
done
wait_http "$STOP" /readyz 200 120
log "${PODS[$STOP]}: /readyz 200 again $(since "$T_RESTART") s after the restart"
grep -h '"event":"\(prestop\|prestop_done\|not_ready\|ready\)"' "$RUN"/kafka-controller-*/agent.log | cut -c1-220 | tail -12
log "PASS (Kafka $KAFKA, $SECURITY, client auth $CLIENT_AUTH, SIG$SIG to the $STOP_WHO)"
