#!/bin/sh
# The main job, locally: builds kpa, runs kpa-init on a sample pod identity (a CA-issued
# TLS certificate and SASL users included), then runs kpa-agent against librdkafka's embedded
# mock cluster (no broker needed). Try: curl localhost:8080/status   (Ctrl-C stops it)
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
"$here/tests/install-deps.sh"
build="$here/build/demo"
cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKPA_BUILD_TESTS=OFF >/dev/null
cmake --build "$build" -j "$(nproc 2>/dev/null || echo 2)" >/dev/null

sample="$build/sample"
mkdir -p "$sample/out" "$sample/data" "$sample/ca" "$sample/users"
chmod 700 "$sample/ca" "$sample/users"
if [ ! -f "$sample/ca/ca.crt" ]; then
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
                -keyout "$sample/ca/ca.key" -out "$sample/ca/ca.crt" -days 365 -subj "/CN=kpa demo CA" \
                -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
        printf 'demo-broker-password\n' > "$sample/users/kafka"
        printf 'demo-alice-password\n' > "$sample/users/alice"
fi

echo "== kpa-init for pod kafka-1 in namespace demo (output in $sample/out)"
env POD_NAME=kafka-1 POD_NAMESPACE=demo POD_IP=10.0.0.11 HOST_IP=192.168.1.5 NODE_NAME=node-a \
        KPA_CLUSTER_ID=MkU3OEVBNTcwNTJENDM2Qg \
        KPA_LISTENERS=INTERNAL://:9092,CONTROLLER://:9093,EXTERNAL://:9094 \
        KPA_SECURITY_PROTOCOL_MAP=INTERNAL:SASL_SSL,CONTROLLER:SSL,EXTERNAL:SASL_SSL \
        'KPA_ADVERTISED_EXTERNAL={host_ip}:{31090+ordinal}' \
        KPA_TLS_CA_DIR="$sample/ca" KPA_SASL_USERS_DIR="$sample/users" KPA_RACK=zone-a \
        KPA_LOG_DIRS="$sample/data" KPA_OUTPUT_DIR="$sample/out" \
        "$build/kpa-init"
echo "== $sample/out/server.properties (secrets masked)"
sed -E 's/^([^=]*(password|jaas\.config)[^=]*)=.*/\1=<masked>/' "$sample/out/server.properties"
echo
echo "== kpa-agent --demo on ${KPA_LISTEN:-127.0.0.1:8080}: curl localhost:8080/status, /readyz?verbose, /metrics"
exec "$build/kpa-agent" --demo --listen "${KPA_LISTEN:-127.0.0.1:8080}" --interval 2s
