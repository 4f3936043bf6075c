#!/bin/bash
# Hand checks of kpa-init's outputs against real Apache Kafka brokers (issue 8, section 4):
# every pod is a network namespace with its own IP and hosts file, its configuration is
# written by kpa-init and used unmodified, and the broker is started as k8s/base does it
# (kafka-storage format --ignore-formatted, then the server on server.properties).
#
#   tests/kafka/manual-init.sh SCENARIO [KAFKA_VERSION]     (as root; KAFKA_VERSION 4.4.0)
#
# Scenarios:
#   separate-defaults   3 controllers (StatefulSet kraft) + 3 brokers (kafka), default node-id
#                       offsets: every node starts and the 3 brokers register.
#   separate-overlap    the same with KPA_NODE_ID_OFFSET=0: kpa-init refuses the broker (exit 2)
#                       and writes nothing; the old output is then fed to Kafka to show it
#                       refuses it too (set KPA_SHOW_KAFKA_REFUSAL=1).
#   sasl-controller     3 controllers + 3 brokers, SASL_SSL on every listener, certificates
#                       issued by kpa-init from a CA (KPA_TLS_CA_DIR): the brokers register
#                       with the controllers over SASL_SSL; a topic is produced and consumed.
#   elr-min-isr         3 controllers whose template says min.insync.replicas=2 + 3 brokers
#                       with no template: the cluster-wide (entity-default) value is 2, a broker
#                       template edit does not change it, kafka-configs.sh does.
#   elr-unset           controllers without min.insync.replicas, brokers with 2: kpa-init
#                       refuses the controller (with an older kpa-init the cluster comes up
#                       with a cluster-wide 1, which the brokers' 2 cannot change).
#   fake-facts          what tests/fakebroker/fakecluster.py's header says of Kafka 4.x, asked
#                       of real brokers (tests/kafka/wire_probe.py, python3-kafka structs):
#                       the port of a fenced broker, ApiVersions ranges, DescribeConfigs v0/v1
#                       and its config sources, fencing after kill -9 / SIGTERM, ELR's empty ISR.
#   all                 each of the above in turn (fake-facts included).
#
# Environment: KPA_INIT (default build/dev/kpa-init), KAFKA_LIB (default /tmp/kpom/lib-VERSION),
# KPA_NET_PREFIX (ki: bridge kibr, namespaces ki0..ki9, veths kiv0..kiv9), KPA_NET (10.83.0),
# KPA_WORK (/tmp/ki-work). Clean-up (JVMs by pid, namespaces, bridge, /etc/netns/*) always runs.
set -euo pipefail

scenario=${1:?usage: $0 separate-defaults|separate-overlap|sasl-controller|elr-unset|elr-min-isr|fake-facts|all [KAFKA_VERSION]}
version=${2:-4.4.0}
here=$(cd "$(dirname "$0")/../.." && pwd)
KPA_INIT=${KPA_INIT:-$here/build/dev/kpa-init}
KAFKA_LIB=${KAFKA_LIB:-/tmp/kpom/lib-$version}
PFX=${KPA_NET_PREFIX:-ki}
NET=${KPA_NET:-10.83.0}
WORK=${KPA_WORK:-/tmp/$PFX-work}
K8S_NS=kafka
DOMAIN=cluster.local
CID=MkU3OEVBNTcwNTJENDM2Qg
WAIT=${KPA_WAIT:-90}

# Kafka 4.1.1's dependency tree resolves slf4j-api 1.7 beside log4j-slf4j2-impl, which needs
# slf4j 2: the broker would then log nothing at all. An slf4j 2 API jar ahead on the class
# path restores its log (only logging changes; the broker's own jars are untouched).
CP="$KAFKA_LIB/*"
if ls "$KAFKA_LIB"/slf4j-api-1.* >/dev/null 2>&1; then
        slf4j2=$(ls /tmp/kpom/lib-*/slf4j-api-2.*.jar 2>/dev/null | head -1)
        [ -n "$slf4j2" ] || { echo "$0: $KAFKA_LIB has slf4j-api 1.x and no slf4j 2 jar is at hand" >&2; exit 2; }
        CP="$slf4j2:$CP"
fi

# kafka-configs.sh's class moved from kafka.admin (4.1) to org.apache.kafka.tools (4.2+).
CONFIG_CMD=kafka.admin.ConfigCommand
for j in "$KAFKA_LIB"/kafka-tools-[0-9]*.jar; do
        jar tf "$j" 2>/dev/null | grep -q '^org/apache/kafka/tools/ConfigCommand.class$' &&
                CONFIG_CMD=org.apache.kafka.tools.ConfigCommand
done

[ "$(id -u)" = 0 ] || { echo "$0: run as root (ip netns)" >&2; exit 2; }
[ -x "$KPA_INIT" ] || { echo "$0: $KPA_INIT is not built" >&2; exit 2; }
[ -d "$KAFKA_LIB" ] || { echo "$0: no Kafka jars in $KAFKA_LIB" >&2; exit 2; }

# Pods of the scenario: "name" in slot i gets namespace $PFX$i and address $NET.(10+i).
pods=()
declare -A slot=()

log() { printf '%s %s\n' "$(date +%T)" "$*" >&2; }
die() { log "FAIL: $*"; exit 1; }

fqdn() {                 # pod -> its headless-service DNS name
        local sts=${1%-*}
        printf '%s.%s-headless.%s.svc.%s' "$1" "$sts" "$K8S_NS" "$DOMAIN"
}

# stop POD...: SIGTERM, then SIGKILL after 15 s.
stop() {
        local p pid
        for p in "$@"; do
                [ -n "$p" ] && [ -f "$WORK/$p/pid" ] || continue
                kill "$(cat "$WORK/$p/pid")" 2>/dev/null || true
        done
        for p in "$@"; do
                [ -n "$p" ] && [ -f "$WORK/$p/pid" ] || continue
                pid=$(cat "$WORK/$p/pid")
                for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
                kill -9 "$pid" 2>/dev/null || true
                wait "$pid" 2>/dev/null || true
                rm -f "$WORK/$p/pid"
        done
}

cleanup() {
        local p brokers_first=() controllers_last=()
        # Brokers first: their controlled shutdown needs the controllers.
        for p in "${pods[@]:-}"; do
                case $p in kraft-*) controllers_last+=("$p") ;; *) brokers_first+=("$p") ;; esac
        done
        stop "${brokers_first[@]:-}"
        stop "${controllers_last[@]:-}"
        for i in $(seq 0 9); do
                ip link del "${PFX}v$i" 2>/dev/null || true
                ip netns del "$PFX$i" 2>/dev/null || true
                rm -rf "/etc/netns/$PFX$i"
        done
        ip link del "${PFX}br" 2>/dev/null || true
        pods=()
        slot=()
}
trap cleanup EXIT

# net_up POD...: one namespace per pod on bridge ${PFX}br, every pod's name in every hosts file.
net_up() {
        local i=0 p hosts
        pods=("$@")
        ip link add "${PFX}br" type bridge
        ip addr add "$NET.1/24" dev "${PFX}br"
        ip link set "${PFX}br" up
        hosts="127.0.0.1 localhost"$'\n'
        for p in "${pods[@]}"; do
                slot[$p]=$i
                hosts+="$NET.$((10 + i)) $(fqdn "$p")"$'\n'
                i=$((i + 1))
        done
        for p in "${pods[@]}"; do
                i=${slot[$p]}
                ip netns add "$PFX$i"
                ip link add "${PFX}v$i" type veth peer name eth0 netns "$PFX$i"
                ip link set "${PFX}v$i" master "${PFX}br" up
                ip -n "$PFX$i" addr add "$NET.$((10 + i))/24" dev eth0
                ip -n "$PFX$i" link set eth0 up
                ip -n "$PFX$i" link set lo up
                mkdir -p "/etc/netns/$PFX$i"
                printf '%s' "$hosts" > "/etc/netns/$PFX$i/hosts"
        done
}

# init POD [VAR=VALUE...]: kpa-init with the pod's environment; output in $WORK/POD/kpa.
init() {
        local p=$1
        shift
        mkdir -p "$WORK/$p/kpa" "$WORK/$p/data"
        env -i PATH="$PATH" POD_NAME="$p" POD_NAMESPACE=$K8S_NS POD_IP="$NET.$((10 + ${slot[$p]}))" \
                KPA_CLUSTER_ID=$CID KPA_LOG_DIRS="$WORK/$p/data" KPA_OUTPUT_DIR="$WORK/$p/kpa" \
                "$@" "$KPA_INIT"
}

in_pod() {               # in_pod POD CMD...: run in the pod's namespace
        local p=$1
        shift
        ip netns exec "$PFX${slot[$p]}" "$@"
}

java_in() {              # java_in POD MAINCLASS ARGS...
        local p=$1
        shift
        in_pod "$p" java -Xmx256m -Dlog4j2.configurationFile="$WORK/tools-log4j2.yaml" -cp "$CP" "$@"
}

# start POD: format the log dir with kpa-init's cluster.id, then start the broker, as
# k8s/base's broker container does.
start() {
        local p=$1 cfg="$WORK/$1/kpa/server.properties"
        in_pod "$p" java -Xmx256m -Dlog4j2.configurationFile="$WORK/log4j2.yaml" -cp "$CP" \
                kafka.tools.StorageTool format --ignore-formatted \
                --cluster-id "$(cat "$WORK/$p/kpa/cluster.id")" --config "$cfg" > "$WORK/$p/format.log" 2>&1 ||
                die "$p: kafka-storage format failed: $(tail -3 "$WORK/$p/format.log")"
        # exec twice (subshell -> ip -> java): the recorded pid is the JVM's own.
        (exec ip netns exec "$PFX${slot[$p]}" java -Xmx384m -Dlog4j2.configurationFile="$WORK/log4j2.yaml" \
                -cp "$CP" kafka.Kafka "$cfg" > "$WORK/$p/server.log" 2>&1) &
        echo $! > "$WORK/$p/pid"
}

# wait_log POD REGEX: until the pod's log matches, bounded by $WAIT seconds; fails if the
# process exits first.
wait_log() {
        local p=$1 re=$2 pid
        pid=$(cat "$WORK/$p/pid")
        for _ in $(seq 1 $((WAIT * 5))); do
                grep -Eq "$re" "$WORK/$p/server.log" && return 0
                kill -0 "$pid" 2>/dev/null || die "$p exited: $(grep -E 'ERROR|Exception' "$WORK/$p/server.log" | head -3)"
                sleep 0.2
        done
        die "$p: no '$re' in its log within ${WAIT}s"
}

# admin_props POD [sasl]: Java client properties for Kafka's tools, from kpa-init's outputs.
admin_props() {
        local p=$1 out="$WORK/$1/admin.properties"
        : > "$out"
        if [ "${2:-}" = sasl ]; then
                local pw spw
                pw=$(cat "$WORK/users/kafka")
                spw=$(cat "$WORK/$p/kpa/store.password")
                cat > "$out" <<EOF
security.protocol=SASL_SSL
sasl.mechanism=PLAIN
sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="kafka" password="$pw";
ssl.truststore.location=$WORK/$p/kpa/truststore.p12
ssl.truststore.password=$spw
ssl.truststore.type=PKCS12
EOF
        fi
        chmod 600 "$out"
        echo "$out"
}

setup_common() {
        rm -rf "$WORK"
        mkdir -p "$WORK"
        cat > "$WORK/log4j2.yaml" <<'EOF'
Configuration:
  Appenders:
    Console:
      name: STDOUT
      PatternLayout:
        pattern: "[%d] %p %m (%c)%n"
  Loggers:
    Root:
      level: INFO
      AppenderRef:
        - ref: STDOUT
EOF
        # Kafka's tools: warnings only, on stderr, so that stdout holds only their answers.
        cat > "$WORK/tools-log4j2.yaml" <<'EOF'
Configuration:
  Appenders:
    Console:
      name: STDERR
      target: SYSTEM_ERR
      PatternLayout:
        pattern: "[%d] %p %m (%c)%n"
  Loggers:
    Root:
      level: WARN
      AppenderRef:
        - ref: STDERR
EOF
}

controllers=(kraft-0 kraft-1 kraft-2)
brokers=(kafka-0 kafka-1 kafka-2)
SEP=(KPA_CONTROLLER_STATEFULSET=kraft)

# Starts every pod of "${controllers[@]}" "${brokers[@]}" and waits until each has started.
boot_all() {
        local p t0 t1
        t0=$(date +%s.%N)
        for p in "${controllers[@]}" "${brokers[@]}"; do start "$p"; done
        for p in "${controllers[@]}" "${brokers[@]}"; do wait_log "$p" 'Kafka Server started'; done
        t1=$(date +%s.%N)
        log "all ${#controllers[@]} controllers and ${#brokers[@]} brokers started in $(printf '%.1f' "$(echo "$t1 - $t0" | bc)") s"
}

# Every broker is registered: the quorum lists it as an observer and a topic with one
# replica on each broker is created, produced to and consumed from.
expect_cluster_serves() {
        local cfg=$1 b0 bs n=${#brokers[@]} topic=kpa-check
        b0="$(fqdn "${brokers[0]}"):9092"
        java_in "${brokers[0]}" org.apache.kafka.tools.MetadataQuorumCommand --bootstrap-server "$b0" \
                --command-config "$cfg" describe --replication > "$WORK/quorum.txt" 2>&1 ||
                die "describe --replication: $(tail -3 "$WORK/quorum.txt")"
        sed 's/^/    /' "$WORK/quorum.txt" >&2
        local observers
        observers=$(grep -c 'Observer' "$WORK/quorum.txt" || true)
        [ "$observers" = "$n" ] || die "expected $n observers (brokers), got $observers"
        java_in "${brokers[0]}" org.apache.kafka.tools.TopicCommand --bootstrap-server "$b0" \
                --command-config "$cfg" --create --topic $topic --partitions $n --replication-factor $n \
                > "$WORK/topic.txt" 2>&1 || die "create topic: $(tail -3 "$WORK/topic.txt")"
        for _ in $(seq 1 50); do
                java_in "${brokers[0]}" org.apache.kafka.tools.TopicCommand --bootstrap-server "$b0" \
                        --command-config "$cfg" --describe --topic $topic > "$WORK/topic.txt" 2>&1 || true
                [ "$(grep -c "Isr: [0-9]*,[0-9]*,[0-9]*" "$WORK/topic.txt")" = "$n" ] && break
                sleep 0.2
        done
        sed 's/^/    /' "$WORK/topic.txt" >&2
        seq 1 100 | java_in "${brokers[0]}" org.apache.kafka.tools.ConsoleProducer --bootstrap-server "$b0" \
                --producer.config "$cfg" --topic $topic --producer-property acks=all > "$WORK/produce.txt" 2>&1 ||
                die "produce: $(tail -3 "$WORK/produce.txt")"
        bs="$(fqdn "${brokers[$((n - 1))]}"):9092"
        java_in "${brokers[$((n - 1))]}" org.apache.kafka.tools.consumer.ConsoleConsumer --bootstrap-server "$bs" \
                --consumer.config "$cfg" --topic $topic --from-beginning --max-messages 100 --timeout-ms 30000 \
                > "$WORK/consume.txt" 2> "$WORK/consume.err" || die "consume: $(tail -3 "$WORK/consume.err")"
        # (4.2+ prints a deprecation note for --consumer.config on stdout: records are the numbers.)
        [ "$(grep -E '^[0-9]+$' "$WORK/consume.txt" | sort -n | tr '\n' ' ')" = "$(seq 1 100 | tr '\n' ' ')" ] ||
                die "consumed $(grep -cE '^[0-9]+$' "$WORK/consume.txt") records, not 1..100"
        log "OK: $n brokers registered; 100 records produced (acks=all) and consumed back"
}

scenario_separate_defaults() {
        setup_common
        net_up "${controllers[@]}" "${brokers[@]}"
        local p
        for p in "${controllers[@]}" "${brokers[@]}"; do init "$p" "${SEP[@]}" KPA_MIN_INSYNC_REPLICAS=2; done
        for p in "${controllers[@]}" "${brokers[@]}"; do
                log "$p: $(grep -E '^(node.id|process.roles)=' "$WORK/$p/kpa/server.properties" | tr '\n' ' ')"
        done
        log "voters: $(grep '^controller.quorum.voters=' "$WORK/kafka-0/kpa/server.properties")"
        boot_all
        expect_cluster_serves "$(admin_props kafka-0)"
        cleanup
}

scenario_separate_overlap() {
        setup_common
        net_up kafka-0
        local rc=0
        init kafka-0 "${SEP[@]}" KPA_NODE_ID_OFFSET=0 2> "$WORK/init.err" || rc=$?
        log "kpa-init exit $rc: $(cat "$WORK/init.err")"
        [ "$rc" = 2 ] || die "expected exit 2"
        [ ! -e "$WORK/kafka-0/kpa/server.properties" ] || die "kpa-init wrote server.properties"
        if [ "${KPA_SHOW_KAFKA_REFUSAL:-0}" = 1 ]; then
                # What Kafka says to the configuration kpa-init used to write here.
                cat > "$WORK/kafka-0/kpa/server.properties" <<EOF
node.id=0
process.roles=broker
controller.quorum.voters=0@$(fqdn kraft-0):9093,1@$(fqdn kraft-1):9093,2@$(fqdn kraft-2):9093
controller.listener.names=CONTROLLER
listeners=INTERNAL://:9092
advertised.listeners=INTERNAL://$(fqdn kafka-0):9092
listener.security.protocol.map=INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=INTERNAL
log.dirs=$WORK/kafka-0/data
EOF
                rc=0
                java_in kafka-0 kafka.tools.StorageTool format --ignore-formatted --cluster-id $CID \
                        --config "$WORK/kafka-0/kpa/server.properties" > "$WORK/kafka-0/format.log" 2>&1 || rc=$?
                log "kafka-storage format on the old output: exit $rc: $(grep -m1 -o 'requirement failed.*' "$WORK/kafka-0/format.log" || true)"
        fi
        cleanup
}

make_ca_and_users() {
        mkdir -p "$WORK/ca" "$WORK/users"
        chmod 700 "$WORK/ca" "$WORK/users"
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
                -keyout "$WORK/ca/ca.key" -out "$WORK/ca/ca.crt" -days 30 -subj "/CN=kpa manual CA" \
                -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
        openssl rand -base64 18 > "$WORK/users/kafka"
        openssl rand -base64 18 > "$WORK/users/alice"
}

scenario_sasl_controller() {
        setup_common
        make_ca_and_users
        net_up "${controllers[@]}" "${brokers[@]}"
        local p sec=(KPA_SECURITY_PROTOCOL_MAP=INTERNAL:SASL_SSL,CONTROLLER:SASL_SSL
                     KPA_TLS_CA_DIR="$WORK/ca" KPA_SASL_USERS_DIR="$WORK/users")
        for p in "${controllers[@]}" "${brokers[@]}"; do
                init "$p" "${SEP[@]}" "${sec[@]}" KPA_MIN_INSYNC_REPLICAS=2
        done
        log "kafka-0 SASL keys: $(grep -oE '^(listener\.name\.[a-z]+\.[a-z.]+|sasl\.[a-z.]+)=' "$WORK/kafka-0/kpa/server.properties" | tr '\n' ' ')"
        log "kraft-0 SASL keys: $(grep -oE '^(listener\.name\.[a-z]+\.[a-z.]+|sasl\.[a-z.]+)=' "$WORK/kraft-0/kpa/server.properties" | tr '\n' ' ')"
        boot_all
        expect_cluster_serves "$(admin_props kafka-0 sasl)"
        cleanup
}

# The effective cluster-wide min.insync.replicas and its source, as DescribeConfigs reports
# it for the cluster default (entity-default) resource.
describe_default_min_isr() {
        local cfg=$1 b0
        b0="$(fqdn "${brokers[0]}"):9092"
        java_in "${brokers[0]}" "$CONFIG_CMD" --bootstrap-server "$b0" \
                --command-config "$cfg" --entity-type brokers --entity-default --describe --all \
                2>&1 | grep -E '^ *min.insync.replicas=' || true
}

# The trap kpa-init now closes: controllers without min.insync.replicas, brokers with 2. On a
# new 4.1+ cluster the cluster-wide value is then the controllers' default, 1, and the
# brokers' 2 counts for nothing. kpa-init refuses such a controller (exit 2); with
# KPA_INIT pointing at an older build the cluster starts and shows the 1.
scenario_elr_unset() {
        setup_common
        net_up "${controllers[@]}" "${brokers[@]}"
        local p rc=0 cfg got
        printf 'num.partitions=3\n' > "$WORK/controller-template.properties"
        printf 'min.insync.replicas=2\n' > "$WORK/broker-template.properties"
        init kraft-0 "${SEP[@]}" KPA_CONFIG_TEMPLATE="$WORK/controller-template.properties" 2> "$WORK/init.err" || rc=$?
        if [ "$rc" != 0 ]; then
                log "kpa-init on kraft-0 without min.insync.replicas: exit $rc: $(cat "$WORK/init.err")"
                [ "$rc" = 2 ] || die "expected exit 2"
                cleanup
                return
        fi
        for p in kraft-1 kraft-2; do
                init "$p" "${SEP[@]}" KPA_CONFIG_TEMPLATE="$WORK/controller-template.properties"
        done
        for p in "${brokers[@]}"; do
                init "$p" "${SEP[@]}" KPA_CONFIG_TEMPLATE="$WORK/broker-template.properties"
        done
        boot_all
        cfg=$(admin_props kafka-0)
        got=$(describe_default_min_isr "$cfg")
        log "brokers' static min.insync.replicas=2, controllers' unset; entity-default: $got"
        java_in kafka-0 "$CONFIG_CMD" --bootstrap-server "$(fqdn kafka-0):9092" \
                --entity-type brokers --entity-name 100 --describe --all 2>&1 |
                grep -E '^ *min.insync.replicas=' | sed 's/^/    broker 100: /' >&2
        cleanup
}

scenario_elr_min_isr() {
        setup_common
        net_up "${controllers[@]}" "${brokers[@]}"
        local p cfg
        printf 'min.insync.replicas=2\n' > "$WORK/controller-template.properties"
        printf 'num.partitions=3\n' > "$WORK/broker-template.properties"
        for p in "${controllers[@]}"; do
                init "$p" "${SEP[@]}" KPA_CONFIG_TEMPLATE="$WORK/controller-template.properties"
        done
        for p in "${brokers[@]}"; do
                init "$p" "${SEP[@]}" KPA_CONFIG_TEMPLATE="$WORK/broker-template.properties"
        done
        log "kraft-0: $(grep '^min.insync.replicas=' "$WORK/kraft-0/kpa/server.properties" || echo 'no min.insync.replicas')"
        log "kafka-0: $(grep '^min.insync.replicas=' "$WORK/kafka-0/kpa/server.properties" || echo 'no min.insync.replicas')"
        boot_all
        cfg=$(admin_props kafka-0)
        java_in kafka-0 org.apache.kafka.tools.FeatureCommand --bootstrap-server "$(fqdn kafka-0):9092" \
                describe 2>&1 | grep -E 'eligible.leader.replicas.version' >&2 || true
        local got
        got=$(describe_default_min_isr "$cfg")
        log "entity-default: $got"
        echo "$got" | grep -q 'min.insync.replicas=2 sensitive=false synonyms={DYNAMIC_DEFAULT_BROKER_CONFIG:min.insync.replicas=2' ||
                die "the cluster-wide min.insync.replicas is not the controllers' 2"
        # A later template edit on a broker: restart kafka-2 with min.insync.replicas=3.
        printf 'num.partitions=3\nmin.insync.replicas=3\n' > "$WORK/broker-template.properties"
        stop kafka-2
        init kafka-2 "${SEP[@]}" KPA_CONFIG_TEMPLATE="$WORK/broker-template.properties"
        start kafka-2
        wait_log kafka-2 'Kafka Server started'
        java_in kafka-2 "$CONFIG_CMD" --bootstrap-server "$(fqdn kafka-2):9092" \
                --entity-type brokers --entity-name "$(grep '^node.id=' "$WORK/kafka-2/kpa/server.properties" | cut -d= -f2)" \
                --describe --all 2>&1 | grep -E '^ *min.insync.replicas=' | sed 's/^/kafka-2 after a template edit to 3: /' >&2
        # The documented way to change it: the cluster default, with kafka-configs.sh.
        java_in kafka-0 "$CONFIG_CMD" --bootstrap-server "$(fqdn kafka-0):9092" \
                --command-config "$cfg" --entity-type brokers --entity-default --alter \
                --add-config min.insync.replicas=3 >&2
        for _ in $(seq 1 25); do
                got=$(describe_default_min_isr "$cfg")
                echo "$got" | grep -q 'min.insync.replicas=3 ' && break
                sleep 0.2
        done
        log "entity-default after kafka-configs --alter: $got"
        echo "$got" | grep -q 'min.insync.replicas=3 sensitive=false synonyms={DYNAMIC_DEFAULT_BROKER_CONFIG:min.insync.replicas=3' ||
                die "kafka-configs.sh --entity-default did not change it"
        # What Kafka answers to the other ways one might try while ELR is on.
        java_in kafka-0 "$CONFIG_CMD" --bootstrap-server "$(fqdn kafka-0):9092" \
                --command-config "$cfg" --entity-type brokers --entity-name 100 --alter \
                --add-config min.insync.replicas=2 2>&1 | grep -m1 -E 'Exception: |Completed' |
                sed 's/^/    per-broker alter: /' >&2 || true
        java_in kafka-0 "$CONFIG_CMD" --bootstrap-server "$(fqdn kafka-0):9092" \
                --command-config "$cfg" --entity-type brokers --entity-default --alter \
                --delete-config min.insync.replicas 2>&1 | grep -m1 -E 'Exception: |Completed' |
                sed 's/^/    entity-default delete: /' >&2 || true
        log "OK: min.insync.replicas is cluster-wide, from the controllers' config; changed with kafka-configs.sh"
        cleanup
}

probe() {               # probe POD ARGS...: tests/kafka/wire_probe.py from inside the pod
        local p=$1
        shift
        in_pod "$p" /usr/bin/python3 "$here/tests/kafka/wire_probe.py" "$@"
}

# until_probe SECONDS REGEX POD ARGS...: repeats the probe until its answer matches; prints
# the matching answer and how long it took.
until_probe() {
        local limit=$1 re=$2 t0 ans
        shift 2
        t0=$(date +%s.%N)
        while :; do
                ans=$(probe "$@" 2>&1 || true)
                if echo "$ans" | grep -Eq "$re"; then
                        printf '%.1f s: %s\n' "$(echo "$(date +%s.%N) - $t0" | bc)" "$ans"
                        return 0
                fi
                [ "$(echo "$(date +%s.%N) - $t0 > $limit" | bc)" = 1 ] && { echo "no match in ${limit}s: $ans"; return 1; }
                sleep 0.25
        done
}

# What tests/fakebroker/fakecluster.py's header says of Kafka 4.x, asked of real brokers with
# the fake's own python3-kafka structs (tests/kafka/wire_probe.py) and kcat's librdkafka.
scenario_fake_facts() {
        setup_common
        net_up "${controllers[@]}" "${brokers[@]}"
        local p b0
        for p in "${controllers[@]}" "${brokers[@]}"; do init "$p" "${SEP[@]}" KPA_MIN_INSYNC_REPLICAS=2; done
        b0="$(fqdn kafka-0):9092"
        # 1. The listener of a broker that cannot register (no controller yet).
        # (A broker gives up after initial.broker.registration.timeout.ms, 60 s: the
        # controllers are started 8 s later.)
        start kafka-0
        sleep 8
        log "fact: kafka-0 up 8 s, controllers down: $(probe kafka-0 "$b0" connect)"
        for p in "${controllers[@]}"; do start "$p"; done
        log "fact: after the controllers start, kafka-0's port: $(until_probe 120 accepted kafka-0 "$b0" connect)"
        wait_log kafka-0 'Kafka Server started'
        log "fact: kafka-0's log: $(grep -m1 -oE 'Transition from [A-Z_]+ to RUNNING' "$WORK/kafka-0/server.log") at $(grep -m1 'Transition from [A-Z_]* to RUNNING' "$WORK/kafka-0/server.log" | cut -c2-24); unfenced: $(grep -m1 -oE 'The broker has been unfenced[^(]*' "$WORK/kafka-0/server.log" || true)"
        for p in kafka-1 kafka-2; do start "$p"; done
        for p in "${controllers[@]}" kafka-1 kafka-2; do wait_log "$p" 'Kafka Server started'; done
        # 2. Versions.
        log "fact: ApiVersions v0 of a broker: $(probe kafka-0 "$b0" api-versions)"
        log "fact: ApiVersions v0 of a controller: $(probe kraft-0 "$(fqdn kraft-0):9093" api-versions)"
        in_pod kafka-0 kcat -b "$b0" -L -d protocol 2>&1 | grep -m3 -oE 'ApiKey (Metadata|ApiVersion|DescribeConfigs) \([0-9]+\) Versions [0-9]+\.\.[0-9]+' | sed 's/^/    kcat (librdkafka) sees: /' >&2 || true
        in_pod kafka-0 kcat -b "$b0" -L -d protocol 2>&1 | grep -m2 -oE 'Sent MetadataRequest \(v[0-9]+' | sed 's/^/    librdkafka: /' >&2 || true
        # 3. DescribeConfigs and its config sources (1 TOPIC_CONFIG, 3 DYNAMIC_DEFAULT_BROKER_CONFIG,
        # 4 STATIC_BROKER_CONFIG, 5 DEFAULT_CONFIG).
        local cfg
        cfg=$(admin_props kafka-0)
        java_in kafka-0 org.apache.kafka.tools.TopicCommand --bootstrap-server "$b0" --command-config "$cfg" \
                --create --topic plain --replica-assignment 100:101:102 > /dev/null
        java_in kafka-0 org.apache.kafka.tools.TopicCommand --bootstrap-server "$b0" --command-config "$cfg" \
                --create --topic override --replica-assignment 100:101:102 --config min.insync.replicas=3 > /dev/null
        java_in kafka-0 org.apache.kafka.tools.TopicCommand --bootstrap-server "$b0" --command-config "$cfg" \
                --create --topic pair --replica-assignment 101:102 > /dev/null
        log "fact: DescribeConfigs v0: $(probe kafka-0 "$b0" describe-configs 0 100 plain)"
        log "fact: DescribeConfigs v1: $(probe kafka-0 "$b0" describe-configs 1 100 plain override absent)"
        log "fact: DescribeConfigs v1 of the cluster default: $(probe kafka-0 "$b0" describe-configs 1 "" )"
        log "fact: DescribeConfigs v1 of another broker: $(probe kafka-0 "$b0" describe-configs 1 101)"
        log "fact: Metadata v5: $(until_probe 30 '"isr": \[101, 102\]' kafka-0 "$b0" metadata 5 pair)"
        # 4. Fencing: a crash (SIGKILL) and a controlled shutdown (SIGTERM).
        kill -9 "$(cat "$WORK/kafka-2/pid")"
        log "fact: right after kill -9 of kafka-2 (102): $(probe kafka-0 "$b0" metadata 5 pair)"
        log "fact: kafka-2 (102) killed -9; pair leaves 102 from its ISR after $(until_probe 60 '"isr": \[101\]' kafka-0 "$b0" metadata 5 pair)"
        log "fact: meanwhile the broker list: $(probe kafka-0 "$b0" metadata 5 pair)"
        stop kafka-1
        log "fact: kafka-1 (101), the last ISR member of pair, stopped with SIGTERM: $(until_probe 60 '"isr": \[\]|"leader": -1' kafka-0 "$b0" metadata 5 pair)"
        sleep 1
        log "fact: a second later: $(probe kafka-0 "$b0" metadata 5 pair plain)"
        start kafka-1
        wait_log kafka-1 'Kafka Server started'
        log "fact: kafka-1 restarted: $(until_probe 60 '"leader": 101' kafka-0 "$b0" metadata 5 pair)"
        cleanup
}

log "Kafka $version from $KAFKA_LIB, kpa-init $KPA_INIT"
case $scenario in
separate-defaults) scenario_separate_defaults ;;
separate-overlap) scenario_separate_overlap ;;
sasl-controller) scenario_sasl_controller ;;
elr-min-isr) scenario_elr_min_isr ;;
elr-unset) scenario_elr_unset ;;
fake-facts) scenario_fake_facts ;;
all)
        scenario_separate_overlap
        scenario_separate_defaults
        scenario_sasl_controller
        scenario_elr_unset
        scenario_elr_min_isr
        scenario_fake_facts
        ;;
*) echo "$0: unknown scenario $scenario" >&2; exit 2 ;;
esac
log "done: $scenario on Kafka $version"
