#!/bin/bash
# Hand checks of kpa-agent against real Apache Kafka (helper h-agentfix; to be folded into the
# tests/kafka harness). A 3-node combined-mode KRaft cluster from kpa-init's own files, each
# pod a network namespace on bridge kabr (10.82.0.0/24) with its own hosts file.
#
#   tests/kafka/manual-agentfix.sh up [N]     # N pods (default 3): kpa-init, format, start
#   tests/kafka/manual-agentfix.sh start I    # (re)start broker I
#   tests/kafka/manual-agentfix.sh stop I     # SIGTERM broker I, wait for it
#   tests/kafka/manual-agentfix.sh down       # kill our JVMs by pid, remove namespaces
#
# Needs root, iproute2, Java 17 and the jars in $KAFKA_LIB (default /tmp/kpom/lib-4.4.0).
# KPA_INIT_ENV adds kpa-init variables (space-separated NAME=VALUE, no spaces in values), e.g.
#   KPA_INIT_ENV="KPA_SECURITY_PROTOCOL_MAP=INTERNAL:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT
#                 KPA_SASL_USERS_DIR=/tmp/ka-sasl/users KPA_SASL_AGENT_USER=probe
#                 KPA_CONFIG_TEMPLATE=/tmp/ka-sasl/template.properties"
#
# The agent checks run by hand with it (commands and results in the h-agentfix report):
#  - DescribeConfigs size: `kpa-agent check` with debug=protocol in the client config; the
#    DescribeConfigsResponse of broker 0 (2 topics) fell from 34684 to 322 bytes.
#  - /prestop on node 0 held while broker 2 is stopped (orders min.insync.replicas=2 on the
#    topic; then events with the cluster-wide default set to 2 by ConfigCommand
#    --entity-default) and released once broker 2 was back in the ISR (11.1 s / 10.9 s).
#  - With StandardAuthorizer and the agent's user allowed Describe but not DescribeConfigs:
#    /prestop holds to its timeout saying "min=?" and "Cluster authorization failed", /readyz
#    stays 200; once DescribeConfigs is allowed /prestop answers "safe to stop" at once.
#  - A SASL password ending in spaces (KPA_SASL_USERS_DIR/probe = "pr0be pw  "): the old agent
#    failed "Invalid username or password", the new one authenticates.
#  - Start-up: every check refused ("nothing accepts connections there yet ...") until 2 ms
#    after the broker log's "The broker has been unfenced".
#  - --node-id 1 --bootstrap 10.82.0.12:9092 (broker 2's IP) in ka1: old agent ready, new one
#    "is node 2, not the local node 1"; localhost:9092 fails closed, 10.82.0.11:9092 passes.
#  - /etc/netns/ka1/resolv.conf naming an address nobody has, --check-timeout 2s and a name
#    outside the hosts file: old check 6.1 s, new 2.0 s ("cannot resolve ...").
set -euo pipefail
KAFKA_LIB=${KAFKA_LIB:-/tmp/kpom/lib-4.4.0}
BUILD=${BUILD:-$(cd "$(dirname "$0")/../.." && pwd)/build/dev}
WORK=${WORK:-/tmp/ka-work}
CLUSTER_ID=${CLUSTER_ID:-MkU3OEVBNTcwNTJENDM2Qg}
BR=kabr NET=10.82.0
N=${N:-${2:-3}}
SUFFIX=kafka-headless.kafka.svc.cluster.local

hosts() {
        printf '127.0.0.1 localhost\n'
        for j in $(seq 0 $((N - 1))); do printf '%s.%d kafka-%d.%s\n' $NET $((10 + j)) $j $SUFFIX; done
}

up() {
        mkdir -p "$WORK"
        ip link show $BR >/dev/null 2>&1 || { ip link add $BR type bridge; ip addr add $NET.1/24 dev $BR; ip link set $BR up; }
        cat > "$WORK/log4j2.properties" <<'L4J'
status = warn
appender.f.type = Console
appender.f.name = out
appender.f.layout.type = PatternLayout
appender.f.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.f.ref = out
L4J
        for i in $(seq 0 $((N - 1))); do
                ns=ka$i
                ip netns list | grep -qw $ns || {
                        ip netns add $ns
                        ip link add kav$i type veth peer name eth0 netns $ns
                        ip link set kav$i master $BR up
                        ip -n $ns addr add $NET.$((10 + i))/24 dev eth0
                        ip -n $ns link set eth0 up; ip -n $ns link set lo up
                }
                mkdir -p /etc/netns/$ns; hosts > /etc/netns/$ns/hosts
                d=$WORK/pod$i; mkdir -p $d/out $d/data
                env -i PATH=/usr/bin:/bin POD_NAME=kafka-$i POD_NAMESPACE=kafka KPA_CLUSTER_ID=$CLUSTER_ID \
                        POD_IP=$NET.$((10 + i)) KPA_OUTPUT_DIR=$d/out KPA_LOG_DIRS=$d/data \
                        ${KPA_INIT_ENV:-} "$BUILD/kpa-init"
                java -cp "$KAFKA_LIB/*" -Dlog4j2.configurationFile=$WORK/log4j2.properties kafka.tools.StorageTool \
                        format --ignore-formatted --cluster-id $CLUSTER_ID --config $d/out/server.properties >/dev/null
                start $i
        done
}

start() {
        local i=$1 d=$WORK/pod$1
        if [ -f $d/broker.pid ] && kill -0 "$(cat $d/broker.pid)" 2>/dev/null; then
                echo "broker $i already runs (pid $(cat $d/broker.pid))"; return 0
        fi
        ip netns exec ka$i java -Xmx384m -cp "$KAFKA_LIB/*" -Dlog4j2.configurationFile=$WORK/log4j2.properties \
                kafka.Kafka $d/out/server.properties >>$d/broker.log 2>&1 &
        echo $! > $d/broker.pid
        echo "broker $i pid $(cat $d/broker.pid)"
}

stop() {
        local d=$WORK/pod$1 pid
        pid=$(cat $d/broker.pid)
        kill -TERM $pid 2>/dev/null || true
        for _ in $(seq 1 600); do kill -0 $pid 2>/dev/null || return 0; sleep 0.1; done
        kill -KILL $pid
}

down() {
        for d in "$WORK"/pod*; do
                [ -f $d/broker.pid ] && kill -KILL "$(cat $d/broker.pid)" 2>/dev/null || true
        done
        for ns in $(ip netns list | awk '{print $1}' | grep -E '^ka[0-9]$'); do ip netns del $ns; rm -rf /etc/netns/$ns; done
        # A deleted namespace may outlive its name for a while: drop our end of each veth.
        for v in $(ip -o link show | awk -F': ' '{print $2}' | cut -d@ -f1 | grep -E '^kav[0-9]+$'); do
                ip link del $v 2>/dev/null || true
        done
        ip link del $BR 2>/dev/null || true
}

case ${1:-} in
up) up ;; start) start "$2" ;; stop) stop "$2" ;; down) down ;;
*) sed -n '2,12p' "$0"; exit 2 ;;
esac
