#!/usr/bin/python3
"""A protocol-level fake Kafka cluster for tests.

librdkafka's mock cluster always reports ISR == replicas, so it cannot show a broker that
lags behind. This fake serves the few Kafka APIs that kpa-agent needs, with every answer
encoded by Debian's python3-kafka structs (so the wire format is not ours), over a model
that tests change at will: brokers up or down, ISR, leaders, min.insync.replicas, slow or
silent brokers, and optionally the way a real cluster reacts to a broker stopping and
starting (ISR shrink, leader move, catch-up).

Run it with /usr/bin/python3 (the python3-kafka package lives there):

    /usr/bin/python3 tests/fakebroker/fakecluster.py --brokers 3 --topic orders:6:3

It is kept for states a real broker cannot be driven into within a test (an ISR set at will,
a broker that answers slowly or never, a leaderless partition on demand, catch-up delays
chosen per partition); tests/kafka/ runs real Kafka for everything else.

Served APIs (only these are advertised in ApiVersions):
    ApiVersions      v0-v2  (a v3 request gets UNSUPPORTED_VERSION in a v0 answer listing
                             v0-v2, and librdkafka then falls back to v2)
    Metadata         v0-v5  (only up brokers are listed; a partition whose leader is down or
                             -1 is reported with leader -1 and LEADER_NOT_AVAILABLE)
    DescribeConfigs  v1-v2  (TOPIC and BROKER resources, key min.insync.replicas)
Any other API, or an unsupported version of one (DescribeConfigs v0 included), closes the
connection without an answer, as Kafka 4.x does.

Where it differs from Kafka 4.x (each checked against Kafka 4.4.0 by
tests/kafka/manual-init.sh fake-facts, which asks a real broker the same questions with the
same python3-kafka structs):
  - Versions. The minimum versions are 4.x's (Metadata 0, ApiVersions 0, DescribeConfigs 1:
    4.0 dropped DescribeConfigs v0). The maximum ones are the last that python3-kafka 2.0.2
    encodes, all non-flexible; Kafka 4.1 advertises Metadata 0-13, ApiVersions 0-4 (4.4:
    0-5) and DescribeConfigs 1-4. librdkafka 2.0.2 (kpa-agent, kcat) sends the same Metadata
    v4 and DescribeConfigs v1 to both; only its ApiVersions v3 is answered in full by Kafka
    and with UNSUPPORTED_VERSION here (then v2).
  - Fencing. A stopped broker vanishes from the broker list (and as a leader) at once, and
    leaves the ISRs lag_ms later (--dynamics, default 0: at once). Kafka 4.x does all of it at
    once for a controlled shutdown (SIGTERM), but after a crash (SIGKILL) keeps listing the
    broker, as leader and in sync, until broker.session.timeout.ms (9 s; measured 8.1-9.2 s) has
    passed: no Metadata answer shows that window here.
  - ELR (KIP-966, on for clusters formatted by 4.1+, modelled by default; --no-elr for an
    older cluster). With dynamics, a fenced broker leaves the ISR even as its last member:
    the ISR becomes empty (leader -1), as in 4.x; the replicas that left an ISR below
    min.insync.replicas are eligible, and the first one to start is elected at once, alone
    in the ISR. Without ELR the last member stays in the ISR. Control commands (set_isr,
    set_leader) change the ISR and leader without any ELR bookkeeping.
  - DescribeConfigs. Only min.insync.replicas exists. Under ELR its broker value is the
    cluster-level dynamic default (source 3, DYNAMIC_DEFAULT_BROKER_CONFIG), as Kafka 4.x
    reports it; without ELR a static broker config (4) when --min-isr is given, else
    Kafka's default (5). Kafka also lists the broker's own static value as a synonym (4),
    which the fake does not model.
  - Starting. With dynamics unfence_ms=N, a started broker refuses connections and is not
    listed for N ms, as a 4.x broker keeps its listener closed until the controller
    unfences it (measured: 10-20 s after the controllers came up, under load); the default
    0 opens the port at once.
  - No controllers. The "controller" of Metadata is a configured broker id (4.x names a
    random live broker); there is no controller listener and no DescribeQuorum.
  - No SASL and no TLS: every listener is PLAINTEXT on 127.0.0.1.

Start-up: the fake prints exactly one JSON line on stdout once every listener accepts
connections, e.g.

    {"ready": true, "pid": 4242, "control_port": 40001,
     "bootstrap": "127.0.0.1:40002,127.0.0.1:40003",
     "brokers": [{"id": 0, "host": "127.0.0.1", "port": 40002}, ...]}

Control: newline-delimited JSON on the control port (127.0.0.1) and on stdin; each command
gets exactly one JSON line back ({"ok": true, ...} or {"ok": false, "error": "..."}) on the
same connection, or on stdout for stdin commands. Commands:

    {"op":"state"}                                        the whole model (loadable by --config)
    {"op":"broker","id":1,"up":false}                     stop (listener and connections closed;
                                                          connecting is refused) or start again
                                                          on the same port (answers "starting":
                                                          true while unfence_ms runs)
    {"op":"rtt","id":1,"ms":500}                          delay before each answer
    {"op":"stall","id":1,"on":true}                       accept and read, never answer
    {"op":"freeze","id":1,"on":true}                      its Metadata answers keep showing the
                                                          cluster as it is now (a broker cut off
                                                          from the controllers); off: live again
    {"op":"set_isr","topic":"t","partition":0,"isr":[1,2]}
    {"op":"set_leader","topic":"t","partition":0,"leader":-1}
    {"op":"set_replicas","topic":"t","partition":0,"replicas":[0,1,2]}
    {"op":"set_offline","topic":"t","partition":0,"offline":[2]}
    {"op":"min_isr","topic":"t","value":2}                topic override (null removes it);
                                                          without "topic": the broker default
    {"op":"controller","id":1}
    {"op":"add_topic","name":"t","partitions":3,"rf":3,"min_isr":2}
    {"op":"delete_topic","name":"t"}
    {"op":"dynamics","enabled":true,"lag_ms":100,"catchup_ms":500,"step_ms":0}
    {"op":"catchup","topic":"t","partition":0,"ms":2000}  per-partition catch-up (null: default)
    {"op":"settle"}                                       answers once no dynamics event is pending
    {"op":"lowest_isr","reset":false}                     per partition: smallest ISR size seen and
                                                          whether it ever fell below min.insync
    {"op":"episodes","reset":false}                       every violation episode recorded (below)
    {"op":"describe_configs_error","error":29}            answer every DescribeConfigs resource with
                                                          this error code (null: answer normally)
    {"op":"describe_configs_silent","on":true}            read DescribeConfigs requests and never
                                                          answer them (other requests are served)
    {"op":"describe_configs_log","reset":false}           the last 16 DescribeConfigs requests:
                                                          the broker asked and each resource's
                                                          type, name and config keys (null: all)
    {"op":"quit"}

Cluster dynamics (opt-in, --dynamics lag_ms=N,catchup_ms=N[,step_ms=N][,unfence_ms=N]):
lag_ms after a broker stops, it leaves every ISR it is in (without ELR, unless it is the
last member: the partition then keeps it and goes leaderless; with ELR the ISR empties) and
leadership of its partitions moves to the first in-sync replica that is up. A started broker
opens its port unfence_ms later. Then it rejoins each ISR after that partition's catch-up
delay (its own "catchup" value, else catchup_ms + k * step_ms for its k-th lagging
partition); a leaderless partition whose last ISR member (without ELR) or an eligible
replica (with ELR, the ISR being empty) returns gets it back as leader at once. The static
control commands keep working in either mode.

Violation episodes (always recorded): an episode is one maximal stretch of time during which a
partition is "under_min" (fewer ISR members than its min.insync.replicas) or "offline" (no
ISR member is up, so no replica can lead). Each is recorded when it begins, with the broker
whose stop or ISR change began it ("cause", null for a control command such as set_isr) and
the "reason" given with that broker's last {"op":"broker"} command (any string, e.g. "crash";
null if none), and closed when it ends:
    {"kind": "under_min", "topic": "t", "partition": 0, "start": 1700000000.123,
     "end": null, "ms": null, "lowest": 1, "cause": 2, "reason": "crash"}
("start"/"end" are Unix times in seconds, "ms" the length once closed, "lowest" the smallest
ISR size seen during an under_min episode). {"op":"episodes","reset":true} answers the list,
then forgets the closed episodes (open ones stay, and are closed later as usual).

The process ends on SIGTERM, SIGINT, {"op":"quit"}, or when stdin (a pipe, socket or tty)
reaches end of file, so a test that dies does not leak it. Bad arguments: exit status 2 and
a message on stderr, nothing on stdout. Its log (one JSON object a line) goes to stderr.

From a Check suite, use fakecluster.h (fc_start, fc_cmd, fc_port, fc_stop): it runs this
script with the stdin/stdout pipes above. tests/fakebroker/check_fakecluster.c shows it.
"""

import argparse
import asyncio
import copy
import io
import json
import os
import signal
import socket
import struct
import sys
import time

from kafka.protocol.admin import (ApiVersionResponse, DescribeConfigsRequest,
                                  DescribeConfigsResponse)
from kafka.protocol.api import RequestHeader
from kafka.protocol.metadata import MetadataRequest, MetadataResponse

HOST = "127.0.0.1"

API_METADATA = 3
API_API_VERSIONS = 18
API_DESCRIBE_CONFIGS = 32

# What we advertise: (api_key, min_version, max_version). The minimum versions are Kafka
# 4.x's (4.0 removed DescribeConfigs v0: KIP-896); the maximum versions are the last ones
# python3-kafka 2.0.2 can encode, all of them non-flexible, so every request and response
# uses the classic headers (request v1, response v0). Kafka 4.1/4.4 advertise Metadata 0-13,
# ApiVersions 0-4 / 0-5 and DescribeConfigs 1-4 (see the header).
SUPPORTED = (
        (API_METADATA, 0, 5),
        (API_API_VERSIONS, 0, 2),
        (API_DESCRIBE_CONFIGS, 1, 2),
)
SUPPORTED_MAP = {key: (lo, hi) for key, lo, hi in SUPPORTED}

ERR_NONE = 0
ERR_UNKNOWN_TOPIC_OR_PARTITION = 3
ERR_LEADER_NOT_AVAILABLE = 5
ERR_REPLICA_NOT_AVAILABLE = 9
ERR_UNSUPPORTED_VERSION = 35
ERR_INVALID_REQUEST = 42

RESOURCE_TOPIC = 2
RESOURCE_BROKER = 4

# DescribeConfigs v1+ config sources.
SOURCE_TOPIC_CONFIG = 1
SOURCE_DYNAMIC_DEFAULT_BROKER_CONFIG = 3
SOURCE_STATIC_BROKER_CONFIG = 4
SOURCE_DEFAULT_CONFIG = 5
# Kafka's own default of min.insync.replicas, the DEFAULT_CONFIG synonym.
KAFKA_DEFAULT_MIN_ISR = "1"


MIN_ISR_KEY = "min.insync.replicas"
# What {"op":"describe_configs_log"} keeps: the last requests, the first resources of each.
DESCRIBE_LOG_MAX = 16
DESCRIBE_LOG_RESOURCES = 64

# Limits on everything a peer or a test controls.
MAX_REQUEST_BYTES = 1 << 20
MAX_CONTROL_LINE = 1 << 16
MAX_BROKERS = 64
MAX_TOPICS = 1000
MAX_PARTITIONS = 10000
MAX_DELAY_MS = 3600 * 1000


class ModelError(Exception):
    """A command or a model file that does not describe a valid cluster."""


def log(event, **fields):
    fields = {"ts": round(time.time(), 3), "event": event, **fields}
    print(json.dumps(fields), file=sys.stderr, flush=True)


def want_int(obj, key, lo, hi, default=None, nullable=False):
    if key not in obj:
        if default is not None or nullable:
            return default
        raise ModelError("missing %r" % key)
    val = obj[key]
    if val is None and nullable:
        return None
    if not isinstance(val, int) or isinstance(val, bool) or val < lo or val > hi:
        raise ModelError("%r must be an integer in [%d, %d]" % (key, lo, hi))
    return val


def want_ids(obj, key):
    val = obj.get(key)
    if not isinstance(val, list) or len(val) > MAX_BROKERS or not all(
                    isinstance(x, int) and not isinstance(x, bool) for x in val):
        raise ModelError("%r must be a list of broker ids" % key)
    if len(set(val)) != len(val):
        raise ModelError("%r lists a broker twice" % key)
    return list(val)


def encode(response_class, *fields):
    """Encodes a python3-kafka response struct.

    The struct's encode() holds its instance only weakly, so the instance must stay
    referenced here until encoding is done.
    """
    msg = response_class(*fields)
    return msg.encode()


class Broker:
    def __init__(self, bid, port=0, rack=None, up=True):
        self.id = bid
        self.port = port
        self.rack = rack
        self.up = up
        self.rtt_ms = 0
        self.stall = False
        # A broker cut off from the controllers keeps serving the metadata it last had: its
        # Metadata answers come from this copy of the topics (and broker states) while set.
        self.frozen = None
        self.reason = None
        # Started, but its port stays closed until it is unfenced (dynamics unfence_ms).
        self.starting = False
        self.lsock = None
        self.conns = set()

    def to_json(self):
        return {"id": self.id, "host": HOST, "port": self.port, "rack": self.rack,
                "up": self.up, "starting": self.starting, "rtt_ms": self.rtt_ms,
                "stall": self.stall}


class Partition:
    def __init__(self, pid, replicas, leader=None, isr=None, offline=None):
        self.id = pid
        self.replicas = list(replicas)
        self.leader = self.replicas[0] if leader is None and self.replicas else (
                -1 if leader is None else leader)
        self.isr = list(self.replicas if isr is None else isr)
        self.offline = list(offline or [])
        # Eligible leader replicas (KIP-966): replicas that left the ISR while it was below
        # min.insync.replicas; one of them leads again when the ISR is empty.
        self.elr = []
        self.catchup_ms = None
        self.lowest_isr = len(self.isr)
        self.below_min = False
        # The open violation episode of each kind ("under_min", "offline"), if any.
        self.open_episodes = {}

    def to_json(self):
        return {"partition": self.id, "leader": self.leader, "replicas": self.replicas,
                "isr": self.isr, "elr": self.elr, "offline": self.offline,
                "catchup_ms": self.catchup_ms}


class Topic:
    def __init__(self, name, partitions, min_isr=None, internal=False):
        self.name = name
        self.partitions = partitions
        self.min_isr = min_isr
        self.internal = internal

    def to_json(self):
        return {"name": self.name, "min_isr": self.min_isr, "internal": self.internal,
                "partitions": [p.to_json() for p in self.partitions]}


class Cluster:
    """The shared model, the Kafka listeners and the control plane, on one event loop."""

    def __init__(self, cluster_id="fake-kpa-cluster"):
        self.cluster_id = cluster_id
        self.brokers = {}
        self.topics = {}
        self.controller = -1
        self.default_min_isr = 1
        self.default_min_isr_set = False
        # ELR (KIP-966), on by default for clusters formatted by Kafka 4.1+: the ISR may
        # become empty, and min.insync.replicas is a cluster-level dynamic default.
        self.elr = True
        self.dynamics = None
        self.timers = {}
        self.settled = None
        self.done = None
        self.episodes = []
        # The resources of the last DescribeConfigs requests, as asked (bounded).
        self.describe_log = []
        # When set, every DescribeConfigs resource is answered with this error code (e.g.
        # 29 TOPIC_AUTHORIZATION_FAILED, as for a client without DescribeConfigs ACLs).
        self.describe_error = None
        # When set, DescribeConfigs requests are read and never answered (a broker whose
        # request handler for it hangs; the request then times out in the client).
        self.describe_silent = False

    # ---- model building -------------------------------------------------------------

    def add_broker(self, bid, port=0, rack=None, up=True):
        if bid in self.brokers:
            raise ModelError("broker %d defined twice" % bid)
        if len(self.brokers) >= MAX_BROKERS:
            raise ModelError("more than %d brokers" % MAX_BROKERS)
        self.brokers[bid] = Broker(bid, port, rack, up)

    def spread(self, nparts, rf):
        """Round-robin replica assignment, as Kafka's default placement does."""
        ids = sorted(self.brokers)
        if rf < 1 or rf > len(ids):
            raise ModelError("replication factor %d with %d brokers" % (rf, len(ids)))
        return [[ids[(p + j) % len(ids)] for j in range(rf)] for p in range(nparts)]

    def check_partition(self, p):
        for bid in p.replicas + p.offline:
            if bid not in self.brokers:
                raise ModelError("unknown broker %d" % bid)
        if not set(p.isr) <= set(p.replicas):
            raise ModelError("isr %s is not a subset of replicas %s" % (p.isr, p.replicas))
        if p.leader != -1 and p.leader not in p.replicas:
            raise ModelError("leader %d is not a replica" % p.leader)

    def add_topic(self, obj):
        name = obj.get("name")
        if not isinstance(name, str) or not name or len(name) > 249:
            raise ModelError("topic needs a name of 1 to 249 characters")
        if name in self.topics:
            raise ModelError("topic %r defined twice" % name)
        if len(self.topics) >= MAX_TOPICS:
            raise ModelError("more than %d topics" % MAX_TOPICS)
        min_isr = want_int(obj, "min_isr", 1, MAX_BROKERS, nullable=True)
        parts = obj.get("partitions")
        if isinstance(parts, list):
            if len(parts) > MAX_PARTITIONS:
                raise ModelError("more than %d partitions" % MAX_PARTITIONS)
            plist = []
            for i, po in enumerate(parts):
                if not isinstance(po, dict):
                    raise ModelError("partition %d must be an object" % i)
                p = Partition(i, want_ids(po, "replicas"),
                              want_int(po, "leader", -1, 1 << 31, nullable=True),
                              want_ids(po, "isr") if "isr" in po else None,
                              want_ids(po, "offline") if "offline" in po else None)
                p.catchup_ms = want_int(po, "catchup_ms", 0, MAX_DELAY_MS,
                                        nullable=True)
                plist.append(p)
        else:
            nparts = want_int(obj, "partitions", 1, MAX_PARTITIONS)
            rf = want_int(obj, "rf", 1, MAX_BROKERS, default=min(3, len(self.brokers)))
            plist = [Partition(i, r) for i, r in enumerate(self.spread(nparts, rf))]
        for p in plist:
            self.check_partition(p)
        self.topics[name] = Topic(name, plist, min_isr, bool(obj.get("internal", False)))
        for p in plist:
            self.observe(self.topics[name], p)

    def load(self, obj):
        if not isinstance(obj, dict):
            raise ModelError("the model must be a JSON object")
        if isinstance(obj.get("cluster_id"), str):
            self.cluster_id = obj["cluster_id"]
        if obj.get("min_isr") is not None:
            self.default_min_isr = want_int(obj, "min_isr", 1, MAX_BROKERS)
            self.default_min_isr_set = True
        if "elr" in obj:
            if not isinstance(obj["elr"], bool):
                raise ModelError("'elr' must be true or false")
            self.elr = obj["elr"]
        for bo in obj.get("brokers", []):
            self.add_broker(want_int(bo, "id", 0, 1 << 31),
                            want_int(bo, "port", 0, 65535, default=0),
                            bo.get("rack"), bool(bo.get("up", True)))
        for to in obj.get("topics", []):
            self.add_topic(to)
        if "controller" in obj:
            self.controller = want_int(obj, "controller", -1, 1 << 31)
        if isinstance(obj.get("dynamics"), dict):
            self.set_dynamics(obj["dynamics"])

    def set_dynamics(self, obj):
        if not obj.get("enabled", True):
            self.dynamics = None
            return
        self.dynamics = {
                "lag_ms": want_int(obj, "lag_ms", 0, MAX_DELAY_MS, default=0),
                "catchup_ms": want_int(obj, "catchup_ms", 0, MAX_DELAY_MS, default=0),
                "step_ms": want_int(obj, "step_ms", 0, MAX_DELAY_MS, default=0),
                "unfence_ms": want_int(obj, "unfence_ms", 0, MAX_DELAY_MS, default=0),
        }

    def to_json(self):
        return {"cluster_id": self.cluster_id, "controller": self.controller, "elr": self.elr,
                "min_isr": self.default_min_isr if self.default_min_isr_set else None,
                "effective_min_isr": self.default_min_isr,
                "dynamics": self.dynamics, "pending": len(self.timers),
                "brokers": [b.to_json() for b in self.brokers.values()],
                "topics": [t.to_json() for t in self.topics.values()]}

    def partition(self, cmd):
        topic = self.topics.get(cmd.get("topic"))
        if topic is None:
            raise ModelError("unknown topic %r" % cmd.get("topic"))
        pid = want_int(cmd, "partition", 0, MAX_PARTITIONS)
        if pid >= len(topic.partitions):
            raise ModelError("topic %r has no partition %d" % (topic.name, pid))
        return topic, topic.partitions[pid]

    def broker(self, cmd):
        bid = want_int(cmd, "id", 0, 1 << 31)
        if bid not in self.brokers:
            raise ModelError("unknown broker %d" % bid)
        return self.brokers[bid]

    def effective_min_isr(self, topic):
        return topic.min_isr if topic.min_isr is not None else self.default_min_isr

    def note_isr(self, topic, p, cause=None):
        """Keeps the per-partition low-water marks that lowest_isr reports."""
        p.lowest_isr = min(p.lowest_isr, len(p.isr))
        if len(p.isr) < self.effective_min_isr(topic):
            p.below_min = True
        self.observe(topic, p, cause)

    def set_isr(self, topic, p, isr, cause=None):
        # ISR is kept in replica order so that answers do not depend on event order.
        p.isr = [r for r in p.replicas if r in isr]
        self.note_isr(topic, p, cause)

    def observe(self, topic, p, cause=None):
        """Opens or closes the partition's violation episodes after any change to it.

        cause is the broker whose stop, start or ISR change led here (None for a control
        command); an episode keeps the cause of the change that began it."""
        now = time.time()
        states = {"under_min": len(p.isr) < self.effective_min_isr(topic),
                  "offline": not any(self.is_up(r) for r in p.isr)}
        for kind, bad in states.items():
            ep = p.open_episodes.get(kind)
            if bad and ep is None:
                b = self.brokers.get(cause)
                ep = {"kind": kind, "topic": topic.name, "partition": p.id,
                      "start": round(now, 3), "end": None, "ms": None,
                      "lowest": len(p.isr), "cause": cause,
                      "reason": b.reason if b is not None else None}
                p.open_episodes[kind] = ep
                self.episodes.append(ep)
                log("episode_begins", **ep)
            elif bad:
                ep["lowest"] = min(ep["lowest"], len(p.isr))
            elif ep is not None:
                ep["end"] = round(now, 3)
                ep["ms"] = int(round((now - ep["start"]) * 1000))
                del p.open_episodes[kind]
                log("episode_ends", **ep)

    def observe_all(self, cause=None):
        for t in self.topics.values():
            for p in t.partitions:
                self.observe(t, p, cause)

    # ---- listeners ------------------------------------------------------------------

    def bind(self, b):
        """Binds the broker's port once for the life of the process.

                The port is bound explicitly (never as port 0) so that stopping the broker
                with shutdown() keeps it reserved: Linux keeps an explicitly bound port
                through shutdown(), and no connect() elsewhere can take it as its source
                port while the broker is down.
                """
        for _ in range(20):
            port = b.port
            if port == 0:
                probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                probe.bind((HOST, 0))
                port = probe.getsockname()[1]
                probe.close()
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind((HOST, port))
            except OSError:
                s.close()
                if b.port != 0:
                    raise
                continue
            s.setblocking(False)
            b.lsock = s
            b.port = port
            return
        raise OSError("no free loopback port for broker %d" % b.id)

    def listen(self, b):
        b.lsock.listen(128)
        asyncio.get_running_loop().add_reader(b.lsock.fileno(), self.accept, b)

    def unlisten(self, b):
        asyncio.get_running_loop().remove_reader(b.lsock.fileno())
        # shutdown() on a listening socket stops listening (connect is refused) and
        # drops queued connections, while the socket keeps its port.
        try:
            b.lsock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        for w in list(b.conns):
            w.transport.abort()
        b.conns.clear()

    def accept(self, b):
        try:
            conn, _ = b.lsock.accept()
        except (BlockingIOError, InterruptedError):
            return
        except OSError as e:
            log("accept_failed", broker=b.id, error=str(e))
            return
        conn.setblocking(False)
        asyncio.get_running_loop().create_task(self.serve_conn(b, conn))

    async def serve_conn(self, b, conn):
        reader, writer = await asyncio.open_connection(sock=conn, limit=MAX_REQUEST_BYTES)
        if not b.up:
            writer.transport.abort()
            return
        b.conns.add(writer)
        try:
            while True:
                (size,) = struct.unpack(">i", await reader.readexactly(4))
                if size < 8 or size > MAX_REQUEST_BYTES:
                    break
                payload = await reader.readexactly(size)
                api_key, api_version, corr = struct.unpack_from(">hhi", payload)
                # A stalled broker reads the request and never answers it.
                if b.stall:
                    continue
                if api_key == API_DESCRIBE_CONFIGS and self.describe_silent:
                    continue
                if b.rtt_ms:
                    await asyncio.sleep(b.rtt_ms / 1000.0)
                if b.stall or not b.up or writer.is_closing():
                    continue
                body = self.answer(b, api_key, api_version, payload)
                if body is None:
                    log("closing_connection", broker=b.id, api_key=api_key,
                        api_version=api_version)
                    break
                writer.write(struct.pack(">ii", len(body) + 4, corr) + body)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            pass
        except Exception as e:
            # A bug in the fake must show in the test log, not end the process.
            log("connection_failed", broker=b.id, error=repr(e))
        finally:
            b.conns.discard(writer)
            writer.transport.abort()

    # ---- Kafka APIs -----------------------------------------------------------------

    def answer(self, b, api_key, api_version, payload):
        """The response body (after the correlation id), or None to close."""
        if api_key == API_API_VERSIONS and api_version > SUPPORTED_MAP[api_key][1]:
            # KIP-511: an ApiVersions request newer than the broker knows is answered
            # in v0 with UNSUPPORTED_VERSION and the broker's ApiVersions range, so
            # the client retries with a version both sides speak. The body of such
            # a request (flexible, v3+) is not read at all.
            lo, hi = SUPPORTED_MAP[API_API_VERSIONS]
            return encode(ApiVersionResponse[0], ERR_UNSUPPORTED_VERSION,
                          [(API_API_VERSIONS, lo, hi)])
        if api_key not in SUPPORTED_MAP:
            return None
        lo, hi = SUPPORTED_MAP[api_key]
        if api_version < lo or api_version > hi:
            return None
        data = io.BytesIO(payload)
        try:
            RequestHeader.SCHEMA.decode(data)
            if api_key == API_API_VERSIONS:
                return self.api_versions(api_version)
            if api_key == API_METADATA:
                req = MetadataRequest[api_version].SCHEMA.decode(data)
                if b.frozen is None:
                    return self.metadata(api_version, req)
                # Answer from the frozen copy: swap it in for the one (synchronous) encode.
                live = (self.topics, {i: x.up for i, x in self.brokers.items()})
                self.topics = b.frozen[0]
                for i, x in self.brokers.items():
                    x.up = b.frozen[1].get(i, False)
                try:
                    return self.metadata(api_version, req)
                finally:
                    self.topics = live[0]
                    for i, x in self.brokers.items():
                        x.up = live[1][i]
            req = DescribeConfigsRequest[api_version].SCHEMA.decode(data)
            return self.describe_configs(b, api_version, req)
        except (ValueError, struct.error, UnicodeDecodeError) as e:
            log("bad_request", broker=b.id, api_key=api_key, error=str(e))
            return None

    def api_versions(self, v):
        if v == 0:
            return encode(ApiVersionResponse[0], ERR_NONE, list(SUPPORTED))
        return encode(ApiVersionResponse[v], ERR_NONE, list(SUPPORTED), 0)

    def is_up(self, bid):
        b = self.brokers.get(bid)
        return b is not None and b.up

    def metadata_partition(self, v, p):
        leader = p.leader if p.leader != -1 and self.is_up(p.leader) else -1
        replicas, isr = p.replicas, p.isr
        err = ERR_NONE
        if leader == -1:
            # Kafka never names a leader that is not in the broker list.
            err = ERR_LEADER_NOT_AVAILABLE
        elif v == 0:
            # v0 clients get only live replicas, flagged REPLICA_NOT_AVAILABLE.
            replicas = [r for r in p.replicas if self.is_up(r)]
            isr = [r for r in p.isr if self.is_up(r)]
            if len(replicas) < len(p.replicas) or len(isr) < len(p.isr):
                err = ERR_REPLICA_NOT_AVAILABLE
        if v < 5:
            return (err, p.id, leader, replicas, isr)
        offline = [r for r in p.replicas if r in p.offline or not self.is_up(r)]
        return (err, p.id, leader, replicas, isr, offline)

    def metadata(self, v, req):
        names = req[0]
        if names is None or (v == 0 and not names):
            names = list(self.topics)
        topics = []
        for name in names:
            t = self.topics.get(name)
            if t is None:
                entry = [ERR_UNKNOWN_TOPIC_OR_PARTITION, name, False, []]
            else:
                entry = [ERR_NONE, name, t.internal,
                         [self.metadata_partition(v, p) for p in t.partitions]]
            if v == 0:
                del entry[2]
            topics.append(tuple(entry))
        up = [b for b in sorted(self.brokers.values(), key=lambda x: x.id) if b.up]
        controller = self.controller if self.is_up(self.controller) else -1
        if v == 0:
            fields = ([(b.id, HOST, b.port) for b in up], topics)
        else:
            brokers = [(b.id, HOST, b.port, b.rack) for b in up]
            if v == 1:
                fields = (brokers, controller, topics)
            elif v == 2:
                fields = (brokers, self.cluster_id, controller, topics)
            else:
                fields = (0, brokers, self.cluster_id, controller, topics)
        return encode(MetadataResponse[v], *fields)

    def broker_min_isr(self):
        """The broker-level value and its synonyms (most to least specific), as Kafka 4.x
        reports them: with ELR there is always a cluster-level dynamic default (the first
        active controller wrote it); without, a static broker config or Kafka's default."""
        v = str(self.default_min_isr)
        default = (MIN_ISR_KEY, KAFKA_DEFAULT_MIN_ISR, SOURCE_DEFAULT_CONFIG)
        if self.elr:
            return SOURCE_DYNAMIC_DEFAULT_BROKER_CONFIG, [
                    (MIN_ISR_KEY, v, SOURCE_DYNAMIC_DEFAULT_BROKER_CONFIG), default]
        if self.default_min_isr_set:
            return SOURCE_STATIC_BROKER_CONFIG, [(MIN_ISR_KEY, v, SOURCE_STATIC_BROKER_CONFIG), default]
        return SOURCE_DEFAULT_CONFIG, [default]

    def describe_configs(self, b, v, req):
        resources = req[0] or []
        self.describe_log.append({"broker": b.id, "resources": [
            {"type": rtype, "name": rname, "keys": None if keys is None else list(keys)}
            for rtype, rname, keys in resources[:DESCRIBE_LOG_RESOURCES]]})
        del self.describe_log[:-DESCRIBE_LOG_MAX]
        include_synonyms = bool(req[1])
        bsrc, bsyn = self.broker_min_isr()
        out = []
        for rtype, rname, keys in resources:
            if self.describe_error is not None:
                out.append((self.describe_error, "fake: error %d by request" % self.describe_error,
                            rtype, rname, []))
                continue
            wanted = keys is None or MIN_ISR_KEY in keys
            value, source, syn = self.default_min_isr, bsrc, bsyn
            if rtype == RESOURCE_TOPIC:
                t = self.topics.get(rname)
                if t is None:
                    # Kafka 4.4 sends this error with an empty message.
                    out.append((ERR_UNKNOWN_TOPIC_OR_PARTITION, "", rtype, rname, []))
                    continue
                if t.min_isr is not None:
                    value, source = t.min_isr, SOURCE_TOPIC_CONFIG
                    syn = [(MIN_ISR_KEY, str(t.min_isr), SOURCE_TOPIC_CONFIG)] + bsyn
            elif rtype == RESOURCE_BROKER:
                # Like Kafka, a broker describes only itself, or the cluster default (named
                # by the empty string), which holds only dynamic cluster-level values.
                if rname not in ("", str(b.id)):
                    out.append((ERR_INVALID_REQUEST,
                                "Unexpected broker id, expected %d or empty string, but received %s"
                                % (b.id, rname), rtype, rname, []))
                    continue
                if rname == "":
                    wanted = wanted and bsrc == SOURCE_DYNAMIC_DEFAULT_BROKER_CONFIG
                    syn = bsyn[:1]
            else:
                out.append((ERR_INVALID_REQUEST, "Unsupported resource type %d" % rtype,
                            rtype, rname, []))
                continue
            entry = (MIN_ISR_KEY, str(value), False, source, False, syn if include_synonyms else [])
            out.append((ERR_NONE, "", rtype, rname, [entry] if wanted else []))
        # python3-kafka's v1 response struct still names the fifth entry field is_default
        # (a boolean, so any source would be sent as 1); its v2 struct has Kafka's v1
        # layout (v2 only changed throttling semantics), so v1 is encoded with it.
        return encode(DescribeConfigsResponse[2], 0, out)

    # ---- dynamics -------------------------------------------------------------------

    def schedule(self, key, delay_ms, fn):
        self.cancel(key)
        loop = asyncio.get_running_loop()

        def fire():
            self.timers.pop(key, None)
            fn()
            self.check_settled()

        self.timers[key] = loop.call_later(delay_ms / 1000.0, fire)
        self.settled.clear()

    def cancel(self, key):
        h = self.timers.pop(key, None)
        if h is not None:
            h.cancel()
        self.check_settled()

    def cancel_broker(self, bid):
        for key in [k for k in self.timers if k[1] == bid]:
            self.cancel(key)

    def check_settled(self):
        if not self.timers:
            self.settled.set()

    def elect(self, p):
        for r in p.replicas:
            if r in p.isr and self.is_up(r):
                return r
        return -1

    def fence(self, bid):
        """What the controller does once it notices a broker is gone.

        Without ELR the last ISR member stays in the ISR (the partition goes leaderless).
        With ELR (Kafka 4.1+) it leaves too, and the ISR becomes empty: a replica that
        leaves an ISR below min.insync.replicas joins the eligible leader replicas."""
        for t in self.topics.values():
            for p in t.partitions:
                if bid in p.isr and (self.elr or len(p.isr) > 1):
                    isr = [r for r in p.isr if r != bid]
                    if self.elr and len(isr) < self.effective_min_isr(t) and bid not in p.elr:
                        p.elr.append(bid)
                    self.set_isr(t, p, isr, cause=bid)
                if p.leader == bid:
                    p.leader = self.elect(p)
        log("fenced", broker=bid)

    def rejoin(self, bid, t, p):
        if not self.is_up(bid) or bid not in p.replicas:
            return
        if bid not in p.isr:
            self.set_isr(t, p, p.isr + [bid], cause=bid)
        if bid in p.elr:
            p.elr.remove(bid)
        if len(p.isr) >= self.effective_min_isr(t):
            p.elr = []
        if p.leader == -1 or not self.is_up(p.leader):
            p.leader = self.elect(p)
        log("rejoined_isr", broker=bid, topic=t.name, partition=p.id)

    def on_broker_change(self, b):
        self.cancel_broker(b.id)
        if self.dynamics is None:
            return
        if not b.up:
            self.schedule(("fence", b.id), self.dynamics["lag_ms"],
                          lambda: self.fence(b.id))
            return
        k = 0
        for t in self.topics.values():
            for p in t.partitions:
                if b.id not in p.replicas:
                    continue
                if b.id in p.isr:
                    # The last in-sync replica is back: it leads again at once.
                    if p.leader == -1 or not self.is_up(p.leader):
                        p.leader = self.elect(p)
                    continue
                if not p.isr and b.id in p.elr:
                    # ELR: the ISR is empty and an eligible replica is back: it is elected
                    # at once, alone in the ISR (Kafka 4.4: within half a second).
                    p.elr.remove(b.id)
                    self.set_isr(t, p, [b.id], cause=b.id)
                    p.leader = b.id
                    continue
                if p.catchup_ms is not None:
                    delay = p.catchup_ms
                else:
                    delay = self.dynamics["catchup_ms"] + k * self.dynamics["step_ms"]
                    k += 1
                self.schedule(("rejoin", b.id, t.name, p.id), delay,
                              lambda t=t, p=p: self.rejoin(b.id, t, p))

    # ---- control plane --------------------------------------------------------------

    async def set_broker_up(self, b, up):
        if up and (b.up or b.starting):
            return
        if not up and b.starting:
            # Stopped before it was unfenced: it never served.
            b.starting = False
            self.cancel(("unfence", b.id))
            log("broker_down", broker=b.id, port=b.port)
            return
        if up == b.up:
            return
        if up and self.dynamics is not None and self.dynamics["unfence_ms"] > 0:
            # A Kafka 4.x broker opens its listener only once the controller has unfenced
            # it: until then a connection is refused and Metadata does not list it.
            b.starting = True
            log("broker_starting", broker=b.id, port=b.port, unfence_ms=self.dynamics["unfence_ms"])
            self.schedule(("unfence", b.id), self.dynamics["unfence_ms"], lambda: self.apply_up(b, True))
            return
        self.apply_up(b, up)

    def apply_up(self, b, up):
        b.starting = False
        b.up = up
        if up:
            self.listen(b)
        else:
            self.unlisten(b)
        log("broker_up" if up else "broker_down", broker=b.id, port=b.port)
        self.on_broker_change(b)
        self.observe_all(cause=b.id)

    async def command(self, line):
        try:
            cmd = json.loads(line)
            if not isinstance(cmd, dict):
                raise ModelError("a command is a JSON object")
            reply = await self.dispatch(cmd)
        except (ValueError, ModelError) as e:
            return {"ok": False, "error": str(e)}
        return {"ok": True, **(reply or {})}

    async def dispatch(self, cmd):
        op = cmd.get("op")
        if op == "state":
            return self.to_json()
        if op == "broker":
            b = self.broker(cmd)
            if "reason" in cmd:
                reason = cmd["reason"]
                if reason is not None and (not isinstance(reason, str) or len(reason) > 200):
                    raise ModelError("'reason' must be a string of at most 200 characters")
                b.reason = reason
            await self.set_broker_up(b, bool(cmd.get("up")))
            return {"id": b.id, "port": b.port, "up": b.up, "starting": b.starting}
        if op == "rtt":
            self.broker(cmd).rtt_ms = want_int(cmd, "ms", 0, MAX_DELAY_MS)
            return None
        if op == "stall":
            self.broker(cmd).stall = bool(cmd.get("on"))
            return None
        if op == "freeze":
            b = self.broker(cmd)
            b.frozen = ((copy.deepcopy(self.topics), {i: x.up for i, x in self.brokers.items()})
                        if cmd.get("on") else None)
            return None
        if op == "set_isr":
            t, p = self.partition(cmd)
            isr = want_ids(cmd, "isr")
            if not set(isr) <= set(p.replicas):
                raise ModelError("isr %s is not a subset of replicas %s" % (isr, p.replicas))
            self.set_isr(t, p, isr)
            return p.to_json()
        if op == "set_leader":
            t, p = self.partition(cmd)
            leader = want_int(cmd, "leader", -1, 1 << 31)
            if leader != -1 and leader not in p.replicas:
                raise ModelError("leader %d is not a replica" % leader)
            p.leader = leader
            return p.to_json()
        if op == "set_replicas":
            t, p = self.partition(cmd)
            q = Partition(p.id, want_ids(cmd, "replicas"), p.leader if p.leader != -1 else None,
                          None, p.offline)
            q.isr = [r for r in p.isr if r in q.replicas]
            if q.leader not in q.replicas:
                q.leader = self.elect(q)
            self.check_partition(q)
            p.replicas, p.isr, p.leader = q.replicas, q.isr, q.leader
            self.note_isr(t, p)
            return p.to_json()
        if op == "set_offline":
            t, p = self.partition(cmd)
            offline = want_ids(cmd, "offline")
            if not set(offline) <= set(p.replicas):
                raise ModelError("offline replicas must be replicas")
            p.offline = offline
            return p.to_json()
        if op == "min_isr":
            if "topic" in cmd:
                t = self.topics.get(cmd["topic"])
                if t is None:
                    raise ModelError("unknown topic %r" % cmd["topic"])
                t.min_isr = want_int(cmd, "value", 1, MAX_BROKERS, nullable=True)
            else:
                self.default_min_isr = want_int(cmd, "value", 1, MAX_BROKERS)
                self.default_min_isr_set = True
            self.observe_all()
            return None
        if op == "controller":
            self.controller = want_int(cmd, "id", -1, 1 << 31)
            return None
        if op == "add_topic":
            self.add_topic(cmd)
            return self.topics[cmd["name"]].to_json()
        if op == "delete_topic":
            t = self.topics.pop(cmd.get("name"), None)
            if t is None:
                raise ModelError("unknown topic %r" % cmd.get("name"))
            # A deleted partition's open episodes end with it.
            for p in t.partitions:
                p.isr = list(p.replicas)
                for ep in list(p.open_episodes.values()):
                    ep["end"] = round(time.time(), 3)
                    ep["ms"] = int(round((ep["end"] - ep["start"]) * 1000))
                p.open_episodes.clear()
            for key in [k for k in self.timers if k[0] == "rejoin" and k[2] == cmd["name"]]:
                self.cancel(key)
            return None
        if op == "dynamics":
            self.set_dynamics(cmd)
            return {"dynamics": self.dynamics}
        if op == "catchup":
            t, p = self.partition(cmd)
            p.catchup_ms = want_int(cmd, "ms", 0, MAX_DELAY_MS, nullable=True)
            return None
        if op == "settle":
            timeout = want_int(cmd, "timeout_ms", 0, MAX_DELAY_MS, default=60000)
            try:
                await asyncio.wait_for(self.settled.wait(), timeout / 1000.0)
            except asyncio.TimeoutError:
                raise ModelError("still %d pending events" % len(self.timers))
            return None
        if op == "lowest_isr":
            out = []
            for t in self.topics.values():
                for p in t.partitions:
                    out.append({"topic": t.name, "partition": p.id,
                                "lowest": p.lowest_isr, "isr": len(p.isr),
                                "min_isr": self.effective_min_isr(t),
                                "below_min": p.below_min})
                    if cmd.get("reset"):
                        p.lowest_isr = len(p.isr)
                        p.below_min = len(p.isr) < self.effective_min_isr(t)
            return {"partitions": out}
        if op == "episodes":
            out = [dict(ep) for ep in self.episodes]
            if cmd.get("reset"):
                self.episodes = [ep for ep in self.episodes if ep["end"] is None]
            return {"episodes": out}
        if op == "describe_configs_silent":
            self.describe_silent = bool(cmd.get("on"))
            return None
        if op == "describe_configs_error":
            self.describe_error = want_int(cmd, "error", 1, 32767, nullable=True)
            return None
        if op == "describe_configs_log":
            out = self.describe_log
            if cmd.get("reset"):
                self.describe_log = []
            return {"requests": out}
        if op == "quit":
            self.done.set()
            return None
        raise ModelError("unknown op %r" % op)

    async def control_conn(self, reader, writer):
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                if not line.endswith(b"\n"):
                    break
                if not line.strip():
                    continue
                reply = await self.command(line)
                writer.write(json.dumps(reply).encode() + b"\n")
                await writer.drain()
        except (ValueError, asyncio.LimitOverrunError, ConnectionError):
            pass
        finally:
            writer.close()

    async def stdin_loop(self):
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=MAX_CONTROL_LINE)
        try:
            await loop.connect_read_pipe(
                    lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        except (ValueError, OSError):
            # A regular file or /dev/null cannot be watched: rely on signals.
            return
        try:
            while True:
                line = await reader.readline()
                if not line or not line.endswith(b"\n"):
                    break
                if not line.strip():
                    continue
                reply = await self.command(line)
                print(json.dumps(reply), flush=True)
        except (ValueError, asyncio.LimitOverrunError):
            pass
        log("stdin_closed")
        self.done.set()

    async def run(self, control_port):
        loop = asyncio.get_running_loop()
        self.done = asyncio.Event()
        self.settled = asyncio.Event()
        self.settled.set()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.done.set)
        for b in self.brokers.values():
            self.bind(b)
            if b.up:
                self.listen(b)
        control = await asyncio.start_server(self.control_conn, HOST, control_port,
                                             limit=MAX_CONTROL_LINE)
        ready = {"ready": True, "pid": os.getpid(),
                 "control_port": control.sockets[0].getsockname()[1],
                 "bootstrap": ",".join("%s:%d" % (HOST, b.port) for b in self.brokers.values()),
                 "brokers": [{"id": b.id, "host": HOST, "port": b.port}
                             for b in self.brokers.values()]}
        print(json.dumps(ready), flush=True)
        stdin_task = loop.create_task(self.stdin_loop())
        await self.done.wait()
        stdin_task.cancel()
        control.close()
        for h in self.timers.values():
            h.cancel()
        for b in self.brokers.values():
            if b.up:
                self.unlisten(b)
            b.lsock.close()
        log("exit")


def parse_topic_arg(text):
    """NAME:PARTITIONS[:RF[:MIN_ISR]] from the command line."""
    parts = text.split(":")
    if len(parts) < 2 or len(parts) > 4 or not parts[0]:
        raise ModelError("--topic wants NAME:PARTITIONS[:RF[:MIN_ISR]], got %r" % text)
    try:
        nums = [int(x, 10) for x in parts[1:]]
    except ValueError:
        raise ModelError("--topic wants integers after the name, got %r" % text)
    obj = {"name": parts[0], "partitions": nums[0]}
    if len(nums) > 1:
        obj["rf"] = nums[1]
    if len(nums) > 2:
        obj["min_isr"] = nums[2]
    return obj


def parse_dynamics_arg(text):
    obj = {}
    for item in text.split(","):
        key, sep, val = item.partition("=")
        if not sep or key not in ("lag_ms", "catchup_ms", "step_ms", "unfence_ms"):
            raise ModelError("--dynamics wants lag_ms=N,catchup_ms=N[,step_ms=N][,unfence_ms=N], got %r"
                             % text)
        try:
            obj[key] = int(val, 10)
        except ValueError:
            raise ModelError("--dynamics: %s is not an integer" % key)
    return obj


def build(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", help="JSON model file (the format that {\"op\":\"state\"} prints)")
    ap.add_argument("--brokers", type=int, help="number of brokers, ids FIRST_ID.. (default 3)")
    ap.add_argument("--first-id", type=int, default=0, help="id of the first broker (default 0)")
    ap.add_argument("--topic", action="append", default=[],
                    help="NAME:PARTITIONS[:RF[:MIN_ISR]], replicas spread round-robin")
    ap.add_argument("--min-isr", type=int, help="broker default min.insync.replicas (default 1)")
    ap.add_argument("--controller", type=int, help="controller id (default: the first broker)")
    ap.add_argument("--cluster-id", help="cluster id reported by Metadata v2+")
    ap.add_argument("--dynamics", help="lag_ms=N,catchup_ms=N[,step_ms=N][,unfence_ms=N]: model ISR "
                    "shrink, catch-up and the closed port of a starting broker")
    ap.add_argument("--no-elr", action="store_true",
                    help="model a cluster without ELR (formatted before Kafka 4.1): the last ISR "
                         "member stays in the ISR, min.insync.replicas is a static broker config")
    ap.add_argument("--control-port", type=int, default=0, help="control port (default: any free one)")
    args = ap.parse_args(argv)

    cluster = Cluster()
    if args.config:
        with open(args.config, encoding="utf-8") as f:
            cluster.load(json.load(f))
    if args.brokers is not None or not cluster.brokers:
        n = 3 if args.brokers is None else args.brokers
        if n < 1 or n > MAX_BROKERS:
            raise ModelError("--brokers must be in [1, %d]" % MAX_BROKERS)
        for i in range(n):
            cluster.add_broker(args.first_id + i)
    if args.min_isr is not None:
        cluster.load({"min_isr": args.min_isr})
    for text in args.topic:
        cluster.add_topic(parse_topic_arg(text))
    if args.controller is not None:
        cluster.controller = args.controller
    elif cluster.controller == -1:
        cluster.controller = min(cluster.brokers)
    if args.cluster_id:
        cluster.cluster_id = args.cluster_id
    if args.dynamics:
        cluster.set_dynamics(parse_dynamics_arg(args.dynamics))
    if args.no_elr:
        cluster.elr = False
    return cluster, args.control_port


def main(argv):
    try:
        cluster, control_port = build(argv)
    except (ModelError, OSError, ValueError) as e:
        print("fakecluster: %s" % e, file=sys.stderr)
        return 2
    try:
        asyncio.run(cluster.run(control_port))
    except OSError as e:
        print("fakecluster: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
