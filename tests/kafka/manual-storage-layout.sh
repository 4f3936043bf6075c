#!/bin/sh
# By hand (root): why k8s/base mounts the data PVC at /var/lib/kafka/data and puts the log dir
# one level down. Three observations with a real Kafka release (default 4.1.1, the shipped one):
#   1. the old layout: the image's anonymous VOLUME (owner 1000:0, mode 0775) over data/, and
#      the broker's UID 65532: `kafka-storage format` fails with AccessDeniedException;
#   2. a log dir at a filesystem's root, with its lost+found: the broker exits at start-up
#      ("'lost+found' is not in the form of topic-partition");
#   3. the new layout: the volume's root as fsGroup 65532 leaves it (group-writable, setgid),
#      with a root-owned data/ left by the old layout beside it, log dir kafka-logs/: the
#      format step creates it and the broker starts.
# The broker runs in a network namespace of its own with only loopback (unshare -n), so it
# touches no other test's ports. Everything lives in one scratch folder, removed at the end.
#   tests/kafka/manual-storage-layout.sh [VERSION]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
version=${1:-4.1.1}
[ "$(id -u)" -eq 0 ] || { echo "needs root (setpriv, unshare -n)" >&2; exit 1; }
lib=$("$here/provision.sh" "$version" | tail -n 1)
work=$(mktemp -d /tmp/kpa-storage-XXXXXX)
trap 'rm -rf "$work"' EXIT
# The jars where UID 65532 can read them.
cp -r "$lib" "$work/lib"
chmod -R a+rX "$work"
props() { # LOG_DIR FILE
        cat >"$2" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@localhost:19093
listeners=PLAINTEXT://localhost:19092,CONTROLLER://localhost:19093
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
offsets.topic.replication.factor=1
log.dirs=$1
EOF
        chmod 0644 "$2"
}
as_broker() { setpriv --reuid 65532 --regid 65532 --groups 65532 env HOME="$work" "$@"; }
format() { as_broker java -Xmx256m -cp "$work/lib/*" kafka.tools.StorageTool format --ignore-formatted \
        --cluster-id nODyLhDqTnGLSkUp0RIG7w --config "$1" 2>&1 | grep -v SLF4J; }
start() { # PROPS: runs the broker for at most 30 s; prints how it ended
        unshare -n sh -c "ip link set lo up; exec setpriv --reuid 65532 --regid 65532 --groups 65532 env HOME=$work \
                timeout 30 java -Xmx384m -XX:+UseSerialGC -Dlog4j2.configurationFile=$here/../../k8s/base/config/log4j2.yaml \
                -cp '$work/lib/*' kafka.Kafka $1" >"$1.log" 2>&1 && rc=0 || rc=$?
        grep -m1 -E "Kafka Server started|not in the form of topic-partition" "$1.log" || true
        echo "exit status $rc (124: still running after 30 s)"
}

echo "== 1. anonymous VOLUME over data/ (old layout)"
mkdir -p "$work/old/data"
chown 1000:0 "$work/old/data"
chmod 0775 "$work/old/data"
props "$work/old/data" "$work/old.properties"
format "$work/old.properties" || true

echo "== 2. log dir at the volume's root, beside lost+found"
mkdir -p "$work/root/lost+found"
chown 0:65532 "$work/root"
chmod 2775 "$work/root"
props "$work/root" "$work/root.properties"
format "$work/root.properties"
start "$work/root.properties"

echo "== 3. new layout: log dir kafka-logs/ below the root, old root-owned data/ beside it"
mkdir -p "$work/new/lost+found" "$work/new/data"
chown 0:65532 "$work/new"
chmod 2775 "$work/new"
props "$work/new/kafka-logs" "$work/new.properties"
format "$work/new.properties"
start "$work/new.properties"
ls -ln "$work/new"
