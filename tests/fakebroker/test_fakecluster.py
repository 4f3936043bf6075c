#!/usr/bin/python3
"""Tests for fakecluster.py, through real clients: kcat (librdkafka 2.0.2), kafka-python's
KafkaAdminClient, and python3-kafka request structs over a raw socket.

Every test starts its own fake, reads its ready line (no sleeps) and stops it at the end.
"""

import io
import json
import os
import select
import signal
import socket
import struct
import subprocess
import tempfile
import time
import unittest

from kafka.protocol.admin import (ApiVersionRequest, ApiVersionResponse, DescribeConfigsRequest,
                                  DescribeConfigsResponse)
from kafka.protocol.api import RequestHeader
from kafka.protocol.metadata import MetadataRequest

HERE = os.path.dirname(os.path.abspath(__file__))
FAKE = os.path.join(HERE, "fakecluster.py")
PYTHON = "/usr/bin/python3"
STEP_TIMEOUT = 15.0


class Fake:
    """A running fakecluster.py: its ready line, a control connection, and cleanup."""

    def __init__(self, *args):
        # The fake's log goes to a file: a pipe nobody reads could fill up and block it.
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen([PYTHON, FAKE, *args], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self.log)
        self.ready = json.loads(self.read_stdout_line())
        self.ports = {b["id"]: b["port"] for b in self.ready["brokers"]}
        self.ctl = socket.create_connection(("127.0.0.1", self.ready["control_port"]),
                                            timeout=STEP_TIMEOUT)
        self.ctl_file = self.ctl.makefile("rb")

    def read_stdout_line(self):
        ready, _, _ = select.select([self.proc.stdout], [], [], STEP_TIMEOUT)
        if not ready:
            self.close()
            raise AssertionError("fakecluster printed nothing within %ss" % STEP_TIMEOUT)
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait(STEP_TIMEOUT)
            self.log.seek(0)
            err = self.log.read().decode(errors="replace")
            self.close()
            raise AssertionError("fakecluster exited: %s" % err)
        return line

    def cmd(self, **cmd):
        self.ctl.sendall(json.dumps(cmd).encode() + b"\n")
        return json.loads(self.ctl_file.readline())

    def ok(self, **cmd):
        reply = self.cmd(**cmd)
        if not reply.get("ok"):
            raise AssertionError("control command %r failed: %r" % (cmd, reply))
        return reply

    def close(self):
        if not self.proc.stdin.closed:
            self.proc.stdin.close()
        if self.proc.poll() is None:
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if hasattr(self, "ctl"):
            self.ctl_file.close()
            self.ctl.close()
        self.proc.stdout.close()
        self.log.close()


def kcat_metadata(port, timeout_s=5):
    """kcat -L -J against one broker: (exit status, parsed JSON or None, stderr)."""
    res = subprocess.run(["kcat", "-L", "-J", "-b", "127.0.0.1:%d" % port, "-m", str(timeout_s)],
                         capture_output=True, timeout=timeout_s + 10)
    out = json.loads(res.stdout) if res.returncode == 0 else None
    return res.returncode, out, res.stderr.decode(errors="replace")


def brief(md):
    """The parts of kcat's JSON that the fake controls, in comparable form."""
    return {
        "controller": md["controllerid"],
        "brokers": sorted((b["id"], b["name"]) for b in md["brokers"]),
        "topics": {t["topic"]: [(p["partition"], p["leader"],
                                 [r["id"] for r in p["replicas"]],
                                 [r["id"] for r in p["isrs"]],
                                 p.get("error"))
                                for p in t["partitions"]]
                   for t in md["topics"]},
    }


def kafka_call(port, request, api_key=None, api_version=None, corr=7, timeout=STEP_TIMEOUT):
    """Sends one request (a python3-kafka struct) and returns the raw response body.

    api_key/api_version override the header, to send a version the structs do not have.
    """
    header = RequestHeader(request, correlation_id=corr, client_id="fake-test")
    if api_key is not None:
        header.api_key = api_key
    if api_version is not None:
        header.api_version = api_version
    payload = header.encode() + request.encode()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(struct.pack(">i", len(payload)) + payload)
        f = s.makefile("rb")
        (size,) = struct.unpack(">i", f.read(4))
        data = f.read(size)
    (got_corr,) = struct.unpack_from(">i", data)
    assert got_corr == corr, (got_corr, corr)
    return data[4:]


class FakeTestCase(unittest.TestCase):
    def start(self, *args):
        fake = Fake(*args)
        self.addCleanup(fake.close)
        return fake


class FakeClusterTest(FakeTestCase):
    def test_kcat_sees_brokers_topics_and_isr_exactly(self):
        fake = self.start("--brokers", "3", "--topic", "orders:3:3", "--topic", "solo:1:1")
        rc, md, err = kcat_metadata(fake.ports[0])
        self.assertEqual(rc, 0, err)
        self.assertEqual(brief(md), {
            "controller": 0,
            "brokers": [(i, "127.0.0.1:%d" % fake.ports[i]) for i in range(3)],
            "topics": {
                "orders": [(0, 0, [0, 1, 2], [0, 1, 2], None),
                           (1, 1, [1, 2, 0], [1, 2, 0], None),
                           (2, 2, [2, 0, 1], [2, 0, 1], None)],
                "solo": [(0, 0, [0], [0], None)],
            },
        })

    def test_isr_set_through_control_is_what_kcat_sees(self):
        fake = self.start("--brokers", "3", "--topic", "orders:3:3")
        reply = fake.ok(op="set_isr", topic="orders", partition=1, isr=[2, 1])
        self.assertEqual(reply["isr"], [1, 2])
        rc, md, err = kcat_metadata(fake.ports[2])
        self.assertEqual(rc, 0, err)
        self.assertEqual(brief(md)["topics"]["orders"][1], (1, 1, [1, 2, 0], [1, 2], None))
        self.assertEqual(brief(md)["topics"]["orders"][0], (0, 0, [0, 1, 2], [0, 1, 2], None))

    def test_stopped_broker_refuses_connections_and_leaves_metadata(self):
        fake = self.start("--brokers", "3", "--topic", "orders:3:3")
        fake.ok(op="broker", id=2, up=False)
        with self.assertRaises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", fake.ports[2]), timeout=STEP_TIMEOUT)
        rc, _, err = kcat_metadata(fake.ports[2], timeout_s=2)
        self.assertNotEqual(rc, 0)
        self.assertIn("Connection refused", err)
        rc, md, err = kcat_metadata(fake.ports[0])
        self.assertEqual(rc, 0, err)
        b = brief(md)
        self.assertEqual(b["brokers"], [(0, "127.0.0.1:%d" % fake.ports[0]),
                                        (1, "127.0.0.1:%d" % fake.ports[1])])
        # Partition 2 is led by the stopped broker: Kafka never names an unlisted leader.
        self.assertEqual(b["topics"]["orders"][2],
                         (2, -1, [2, 0, 1], [2, 0, 1], "Broker: Leader not available"))
        self.assertEqual(b["topics"]["orders"][0], (0, 0, [0, 1, 2], [0, 1, 2], None))

    def test_restarted_broker_answers_on_the_same_port(self):
        fake = self.start("--brokers", "2", "--topic", "orders:2:2")
        port = fake.ports[1]
        fake.ok(op="broker", id=1, up=False)
        reply = fake.ok(op="broker", id=1, up=True)
        self.assertEqual(reply["port"], port)
        rc, md, err = kcat_metadata(port)
        self.assertEqual(rc, 0, err)
        self.assertEqual(md["originating_broker"]["id"], 1)
        self.assertEqual(brief(md)["brokers"], [(0, "127.0.0.1:%d" % fake.ports[0]),
                                                (1, "127.0.0.1:%d" % port)])

    def test_stopping_a_broker_closes_its_open_connections(self):
        fake = self.start("--brokers", "2")
        with socket.create_connection(("127.0.0.1", fake.ports[1]), timeout=STEP_TIMEOUT) as s:
            # One answered request proves the connection was accepted before the stop.
            header = RequestHeader(ApiVersionRequest[0](), correlation_id=1)
            payload = header.encode()
            s.sendall(struct.pack(">i", len(payload)) + payload)
            (size,) = struct.unpack(">i", s.recv(4, socket.MSG_WAITALL))
            s.recv(size, socket.MSG_WAITALL)
            fake.ok(op="broker", id=1, up=False)
            self.assertEqual(s.recv(1), b"")

    def test_leaderless_partition_is_reported_with_leader_minus_one(self):
        fake = self.start("--brokers", "3", "--topic", "orders:2:3")
        fake.ok(op="set_leader", topic="orders", partition=1, leader=-1)
        rc, md, err = kcat_metadata(fake.ports[0])
        self.assertEqual(rc, 0, err)
        self.assertEqual(brief(md)["topics"]["orders"],
                         [(0, 0, [0, 1, 2], [0, 1, 2], None),
                          (1, -1, [1, 2, 0], [1, 2, 0], "Broker: Leader not available")])

    def test_describe_configs_reports_topic_override_and_broker_default(self):
        from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient
        fake = self.start("--brokers", "3", "--min-isr", "2", "--topic", "orders:3:3:3",
                          "--topic", "plain:1:3")
        admin = KafkaAdminClient(bootstrap_servers=fake.ready["bootstrap"].split(","),
                                 request_timeout_ms=5000, api_version_auto_timeout_ms=5000)
        self.addCleanup(admin.close)

        def described(rtype, name):
            (resp,) = admin.describe_configs([ConfigResource(rtype, name)])
            (res,) = resp.resources
            return res[0], res[4]

        def values(entries):
            return {e[0]: e[1] for e in entries}

        self.assertEqual(values(described(ConfigResourceType.TOPIC, "orders")[1]),
                         {"min.insync.replicas": "3"})
        self.assertEqual(values(described(ConfigResourceType.TOPIC, "plain")[1]),
                         {"min.insync.replicas": "2"})
        self.assertEqual(values(described(ConfigResourceType.BROKER, "1")[1]),
                         {"min.insync.replicas": "2"})
        self.assertEqual(described(ConfigResourceType.TOPIC, "absent"), (3, []))
        fake.ok(op="min_isr", topic="orders", value=None)
        fake.ok(op="min_isr", value=1)
        self.assertEqual(values(described(ConfigResourceType.TOPIC, "orders")[1]),
                         {"min.insync.replicas": "1"})

    def test_apiversions_v3_gets_unsupported_version_in_a_v0_answer(self):
        fake = self.start("--brokers", "1")
        # A v3 request body is flexible; the fake must not need to read it.
        body = kafka_call(fake.ports[0], ApiVersionRequest[0](), api_version=3)
        resp = ApiVersionResponse[0].decode(io.BytesIO(body))
        self.assertEqual(resp.error_code, 35)
        self.assertEqual(resp.api_versions, [(18, 0, 2)])
        body = kafka_call(fake.ports[0], ApiVersionRequest[2]())
        resp = ApiVersionResponse[2].decode(io.BytesIO(body))
        self.assertEqual(resp.error_code, 0)
        # Kafka 4.x's minimum versions (DescribeConfigs v0 is gone since 4.0, KIP-896).
        self.assertEqual(sorted(resp.api_versions), [(3, 0, 5), (18, 0, 2), (32, 1, 2)])

    def test_describe_configs_v0_closes_the_connection_as_kafka_4x_does(self):
        fake = self.start("--brokers", "1", "--topic", "orders:1:1")
        req = DescribeConfigsRequest[0]([(2, "orders", ["min.insync.replicas"])])
        with self.assertRaises(struct.error):
            # Kafka 4.4 reads the request and closes the connection without an answer
            # (tests/kafka/manual-init.sh fake-facts): nothing comes back.
            kafka_call(fake.ports[0], req)

    def describe_v1(self, fake, resources):
        """DescribeConfigs v1 with synonyms, decoded with the v2 struct (v1's wire format,
        which python3-kafka's v1 struct gets wrong): [(error, message, type, name,
        [(key, value, read_only, source, sensitive, [(key, value, source)...])])]."""
        body = kafka_call(fake.ports[0], DescribeConfigsRequest[1](resources, True))
        resp = DescribeConfigsResponse[2].decode(io.BytesIO(body))
        return [(r[0], r[1], r[2], r[3], [tuple(e[:5]) + ([tuple(x) for x in e[5]],) for e in r[4]])
                for r in resp.resources]

    def test_describe_configs_v1_sources_under_elr_are_kafka_4x_ones(self):
        # As Kafka 4.4 answered with ELR on (fake-facts): the cluster-level dynamic default
        # (3) wins over the broker's static value; a topic override is source 1.
        fake = self.start("--brokers", "3", "--min-isr", "2", "--topic", "orders:1:3:3",
                          "--topic", "plain:1:3")
        key = "min.insync.replicas"
        got = self.describe_v1(fake, [(4, "0", [key]), (2, "plain", [key]), (2, "orders", [key]),
                                      (4, "", [key]), (4, "1", [key]), (2, "absent", [key])])
        self.assertEqual(got, [
            (0, "", 4, "0", [(key, "2", False, 3, False, [(key, "2", 3), (key, "1", 5)])]),
            (0, "", 2, "plain", [(key, "2", False, 3, False, [(key, "2", 3), (key, "1", 5)])]),
            (0, "", 2, "orders", [(key, "3", False, 1, False,
                                   [(key, "3", 1), (key, "2", 3), (key, "1", 5)])]),
            (0, "", 4, "", [(key, "2", False, 3, False, [(key, "2", 3)])]),
            (42, "Unexpected broker id, expected 0 or empty string, but received 1", 4, "1", []),
            (3, "", 2, "absent", []),
        ])

    def test_describe_configs_v1_sources_without_elr(self):
        key = "min.insync.replicas"
        fake = self.start("--brokers", "1", "--no-elr", "--min-isr", "2", "--topic", "plain:1:1")
        self.assertEqual(self.describe_v1(fake, [(4, "0", [key]), (2, "plain", [key]), (4, "", [key])]), [
            (0, "", 4, "0", [(key, "2", False, 4, False, [(key, "2", 4), (key, "1", 5)])]),
            (0, "", 2, "plain", [(key, "2", False, 4, False, [(key, "2", 4), (key, "1", 5)])]),
            # No cluster-level value exists without ELR unless someone set one.
            (0, "", 4, "", []),
        ])
        fake = self.start("--brokers", "1", "--no-elr", "--topic", "plain:1:1")
        self.assertEqual(self.describe_v1(fake, [(2, "plain", [key])]), [
            (0, "", 2, "plain", [(key, "1", False, 5, False, [(key, "1", 5)])]),
        ])

    def test_metadata_v5_lists_down_replicas_as_offline(self):
        fake = self.start("--brokers", "3", "--topic", "orders:1:3")
        fake.ok(op="broker", id=1, up=False)
        fake.ok(op="set_offline", topic="orders", partition=0, offline=[2])
        req = MetadataRequest[5](topics=None, allow_auto_topic_creation=False)
        resp = req.RESPONSE_TYPE.decode(io.BytesIO(kafka_call(fake.ports[0], req)))
        self.assertEqual([b[0] for b in resp.brokers], [0, 2])
        self.assertEqual(resp.controller_id, 0)
        self.assertEqual(resp.topics, [(0, "orders", False, [(0, 0, 0, [0, 1, 2], [0, 1, 2], [1, 2])])])

    def test_metadata_v0_keeps_only_live_replicas(self):
        fake = self.start("--brokers", "3", "--topic", "orders:1:3")
        fake.ok(op="broker", id=2, up=False)
        req = MetadataRequest[0](topics=[])
        resp = req.RESPONSE_TYPE.decode(io.BytesIO(kafka_call(fake.ports[0], req)))
        self.assertEqual(resp.topics, [(0, "orders", [(9, 0, 0, [0, 1], [0, 1])])])

    def test_unknown_topic_is_answered_with_unknown_topic_error(self):
        fake = self.start("--brokers", "1", "--topic", "orders:1:1")
        req = MetadataRequest[1](topics=["nope"])
        resp = req.RESPONSE_TYPE.decode(io.BytesIO(kafka_call(fake.ports[0], req)))
        self.assertEqual(resp.topics, [(3, "nope", False, [])])

    def test_rtt_delays_every_answer(self):
        fake = self.start("--brokers", "2")
        fake.ok(op="rtt", id=1, ms=400)
        t0 = time.monotonic()
        kafka_call(fake.ports[1], ApiVersionRequest[0]())
        self.assertGreaterEqual(time.monotonic() - t0, 0.4)
        t0 = time.monotonic()
        kafka_call(fake.ports[0], ApiVersionRequest[0]())
        self.assertLess(time.monotonic() - t0, 0.4)

    def test_stalled_broker_accepts_but_never_answers(self):
        fake = self.start("--brokers", "2")
        fake.ok(op="stall", id=1, on=True)
        with self.assertRaises(socket.timeout):
            kafka_call(fake.ports[1], ApiVersionRequest[0](), timeout=0.5)
        kafka_call(fake.ports[0], ApiVersionRequest[0]())
        fake.ok(op="stall", id=1, on=False)
        kafka_call(fake.ports[1], ApiVersionRequest[0]())

    def test_unadvertised_api_closes_the_connection(self):
        fake = self.start("--brokers", "1")
        with self.assertRaises(struct.error):
            # Produce (0) is not served: the fake closes, so the size read comes back short.
            kafka_call(fake.ports[0], ApiVersionRequest[0](), api_key=0)

    def test_control_rejects_invalid_commands(self):
        fake = self.start("--brokers", "3", "--topic", "orders:1:2")
        self.assertEqual(fake.cmd(op="nope"), {"ok": False, "error": "unknown op 'nope'"})
        self.assertEqual(fake.cmd(op="set_isr", topic="orders", partition=0, isr=[2]),
                         {"ok": False, "error": "isr [2] is not a subset of replicas [0, 1]"})
        self.assertEqual(fake.cmd(op="broker", id=9, up=False),
                         {"ok": False, "error": "unknown broker 9"})
        fake.ctl.sendall(b"not json\n")
        self.assertFalse(json.loads(fake.ctl_file.readline())["ok"])
        # The model is untouched by the rejected commands.
        state = fake.ok(op="state")
        self.assertEqual(state["topics"][0]["partitions"][0]["isr"], [0, 1])

    def test_stdin_takes_commands_too(self):
        fake = self.start("--brokers", "2", "--topic", "orders:1:2")
        fake.proc.stdin.write(b'{"op":"set_isr","topic":"orders","partition":0,"isr":[0]}\n')
        fake.proc.stdin.flush()
        self.assertEqual(json.loads(fake.read_stdout_line())["isr"], [0])

    def test_exits_when_stdin_closes(self):
        fake = self.start("--brokers", "1")
        fake.proc.stdin.close()
        self.assertEqual(fake.proc.wait(STEP_TIMEOUT), 0)

    def test_exits_on_sigterm(self):
        fake = self.start("--brokers", "1")
        fake.proc.send_signal(signal.SIGTERM)
        self.assertEqual(fake.proc.wait(STEP_TIMEOUT), 0)

    def test_config_file_round_trips_the_state(self):
        fake = self.start("--brokers", "3", "--topic", "orders:2:3:2")
        fake.ok(op="set_isr", topic="orders", partition=1, isr=[1])
        fake.ok(op="set_leader", topic="orders", partition=0, leader=2)
        state = fake.ok(op="state")
        # Port 0: the copy runs beside the original, so it needs ports of its own.
        for b in state["brokers"]:
            b["port"] = 0
        path = os.path.join(os.environ.get("TMPDIR", "/tmp"), "fakecluster-%d.json" % os.getpid())
        with open(path, "w") as f:
            json.dump(state, f)
        self.addCleanup(os.unlink, path)
        again = self.start("--config", path)
        copy = again.ok(op="state")
        self.assertEqual([b["port"] for b in copy["brokers"]],
                         [again.ports[i] for i in range(3)])
        for b in copy["brokers"]:
            b["port"] = 0
        self.assertEqual(copy, state)

    def test_bad_arguments_exit_with_status_2(self):
        res = subprocess.run([PYTHON, FAKE, "--brokers", "2", "--topic", "orders:1:3"],
                             stdin=subprocess.DEVNULL, capture_output=True, timeout=STEP_TIMEOUT)
        self.assertEqual(res.returncode, 2)
        self.assertEqual(res.stdout, b"")
        self.assertIn(b"replication factor 3 with 2 brokers", res.stderr)


class DynamicsTest(FakeTestCase):
    def partitions(self, fake, topic):
        state = fake.ok(op="state")
        (t,) = [t for t in state["topics"] if t["name"] == topic]
        return [(p["leader"], p["isr"]) for p in t["partitions"]]

    def test_stopped_broker_leaves_isr_and_leadership_moves(self):
        fake = self.start("--brokers", "3", "--topic", "orders:3:3:2",
                          "--dynamics", "lag_ms=50,catchup_ms=100,step_ms=20")
        fake.ok(op="broker", id=0, up=False)
        fake.ok(op="settle")
        self.assertEqual(self.partitions(fake, "orders"),
                         [(1, [1, 2]), (1, [1, 2]), (2, [2, 1])])
        rc, md, err = kcat_metadata(fake.ports[1])
        self.assertEqual(rc, 0, err)
        self.assertEqual(brief(md)["topics"]["orders"][0], (0, 1, [0, 1, 2], [1, 2], None))

    def test_started_broker_rejoins_every_isr_after_catch_up(self):
        fake = self.start("--brokers", "3", "--topic", "orders:3:3:2",
                          "--dynamics", "lag_ms=0,catchup_ms=100,step_ms=20")
        fake.ok(op="broker", id=0, up=False)
        fake.ok(op="settle")
        fake.ok(op="broker", id=0, up=True)
        # Catching up takes time: right after the start, broker 0 is in no ISR yet.
        self.assertEqual(self.partitions(fake, "orders"),
                         [(1, [1, 2]), (1, [1, 2]), (2, [2, 1])])
        fake.ok(op="settle")
        self.assertEqual(self.partitions(fake, "orders"),
                         [(1, [0, 1, 2]), (1, [1, 2, 0]), (2, [2, 0, 1])])
        low = fake.ok(op="lowest_isr")["partitions"]
        self.assertEqual([(p["lowest"], p["below_min"]) for p in low],
                         [(2, False), (2, False), (2, False)])

    def test_without_elr_the_last_isr_member_stays_and_leads_again_at_start(self):
        fake = self.start("--brokers", "2", "--topic", "solo:1:1", "--no-elr",
                          "--dynamics", "lag_ms=0,catchup_ms=5000")
        fake.ok(op="broker", id=0, up=False)
        fake.ok(op="settle")
        self.assertEqual(self.partitions(fake, "solo"), [(-1, [0])])
        fake.ok(op="broker", id=0, up=True)
        self.assertEqual(self.partitions(fake, "solo"), [(0, [0])])

    def test_under_elr_the_isr_empties_and_an_eligible_replica_is_elected_at_start(self):
        # As Kafka 4.4 did (fake-facts): RF 2, min.insync.replicas 2; broker 1 crashes
        # (ISR [0]), broker 0 stops: ISR [], leader -1; broker 0 back: leader 0, ISR [0].
        fake = self.start("--brokers", "2", "--min-isr", "2", "--topic", "pair:1:2",
                          "--dynamics", "lag_ms=0,catchup_ms=5000")
        fake.ok(op="broker", id=1, up=False)
        fake.ok(op="settle")
        self.assertEqual(self.partitions(fake, "pair"), [(0, [0])])
        fake.ok(op="broker", id=0, up=False)
        fake.ok(op="settle")
        self.assertEqual(self.partitions(fake, "pair"), [(-1, [])])
        (t,) = fake.ok(op="state")["topics"]
        self.assertEqual(t["partitions"][0]["elr"], [1, 0])
        fake.ok(op="broker", id=0, up=True)
        self.assertEqual(self.partitions(fake, "pair"), [(0, [0])])
        # Broker 1 catches up as usual and the partition is whole again.
        fake.ok(op="broker", id=1, up=True)
        fake.ok(op="settle")
        self.assertEqual(self.partitions(fake, "pair"), [(0, [0, 1])])
        (t,) = fake.ok(op="state")["topics"]
        self.assertEqual(t["partitions"][0]["elr"], [])

    def test_started_broker_refuses_connections_until_unfenced(self):
        # Kafka 4.x opens a broker's listener only once the controller has unfenced it.
        fake = self.start("--brokers", "2", "--topic", "orders:1:2",
                          "--dynamics", "lag_ms=0,catchup_ms=0,unfence_ms=400")
        fake.ok(op="broker", id=1, up=False)
        fake.ok(op="settle")
        reply = fake.ok(op="broker", id=1, up=True)
        self.assertEqual((reply["up"], reply["starting"]), (False, True))
        with self.assertRaises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", fake.ports[1]), timeout=STEP_TIMEOUT)
        rc, md, err = kcat_metadata(fake.ports[0])
        self.assertEqual(rc, 0, err)
        self.assertEqual(brief(md)["brokers"], [(0, "127.0.0.1:%d" % fake.ports[0])])
        fake.ok(op="settle")
        rc, md, err = kcat_metadata(fake.ports[1])
        self.assertEqual(rc, 0, err)
        self.assertEqual([b[0] for b in brief(md)["brokers"]], [0, 1])
        self.assertEqual(self.partitions(fake, "orders"), [(0, [0, 1])])

    def test_lowest_isr_records_a_dip_below_min_isr(self):
        fake = self.start("--brokers", "3", "--topic", "orders:1:3:2",
                          "--dynamics", "lag_ms=0,catchup_ms=0")
        fake.ok(op="broker", id=1, up=False)
        fake.ok(op="broker", id=2, up=False)
        fake.ok(op="settle")
        fake.ok(op="broker", id=1, up=True)
        fake.ok(op="broker", id=2, up=True)
        fake.ok(op="settle")
        self.assertEqual(self.partitions(fake, "orders"), [(0, [0, 1, 2])])
        (p,) = fake.ok(op="lowest_isr", reset=True)["partitions"]
        self.assertEqual((p["lowest"], p["below_min"], p["isr"]), (1, True, 3))
        (p,) = fake.ok(op="lowest_isr")["partitions"]
        self.assertEqual((p["lowest"], p["below_min"]), (3, False))

    def test_broker_back_before_lag_stays_in_isr(self):
        fake = self.start("--brokers", "3", "--topic", "orders:1:3",
                          "--dynamics", "lag_ms=60000,catchup_ms=0")
        fake.ok(op="broker", id=2, up=False)
        self.assertEqual(fake.ok(op="state")["pending"], 1)
        fake.ok(op="broker", id=2, up=True)
        self.assertEqual(fake.ok(op="state")["pending"], 0)
        self.assertEqual(self.partitions(fake, "orders"), [(0, [0, 1, 2])])

    def test_episodes_record_each_dip_with_the_broker_and_reason_that_began_it(self):
        fake = self.start("--brokers", "3", "--topic", "orders:1:3:2",
                          "--dynamics", "lag_ms=0,catchup_ms=0")
        fake.ok(op="broker", id=1, up=False, reason="rollout")
        fake.ok(op="settle")
        self.assertEqual(fake.ok(op="episodes")["episodes"], [])
        fake.ok(op="broker", id=2, up=False, reason="crash")
        fake.ok(op="settle")
        (ep,) = fake.ok(op="episodes")["episodes"]
        self.assertEqual((ep["kind"], ep["topic"], ep["partition"], ep["lowest"], ep["cause"],
                          ep["reason"], ep["end"]), ("under_min", "orders", 0, 1, 2, "crash", None))
        fake.ok(op="broker", id=2, up=True)
        fake.ok(op="settle")
        fake.ok(op="broker", id=1, up=True)
        fake.ok(op="settle")
        (ep,) = fake.ok(op="episodes", reset=True)["episodes"]
        self.assertEqual((ep["cause"], ep["reason"]), (2, "crash"))
        self.assertGreaterEqual(ep["end"], ep["start"])
        self.assertEqual(fake.ok(op="episodes")["episodes"], [])

    def test_episodes_record_offline_while_no_isr_member_is_up(self):
        fake = self.start("--brokers", "2", "--topic", "solo:1:2:1", "--no-elr",
                          "--dynamics", "lag_ms=0,catchup_ms=0")
        fake.ok(op="broker", id=1, up=False)
        fake.ok(op="settle")
        fake.ok(op="broker", id=0, up=False)
        fake.ok(op="settle")
        (ep,) = fake.ok(op="episodes")["episodes"]
        self.assertEqual((ep["kind"], ep["cause"], ep["reason"], ep["end"]),
                         ("offline", 0, None, None))
        fake.ok(op="broker", id=0, up=True)
        (ep,) = fake.ok(op="episodes", reset=True)["episodes"]
        self.assertIsNotNone(ep["end"])

    def test_under_elr_an_empty_isr_is_both_under_min_and_offline(self):
        fake = self.start("--brokers", "2", "--topic", "solo:1:2:1",
                          "--dynamics", "lag_ms=0,catchup_ms=0")
        fake.ok(op="broker", id=1, up=False)
        fake.ok(op="settle")
        fake.ok(op="broker", id=0, up=False)
        fake.ok(op="settle")
        # Offline from the stop (its ISR's one member is down), under min.insync.replicas
        # from the fence that empties the ISR.
        eps = fake.ok(op="episodes")["episodes"]
        self.assertEqual([(e["kind"], e["lowest"], e["cause"], e["end"]) for e in eps],
                         [("offline", 0, 0, None), ("under_min", 0, 0, None)])
        fake.ok(op="broker", id=0, up=True)
        eps = fake.ok(op="episodes", reset=True)["episodes"]
        self.assertEqual([e["end"] is not None for e in eps], [True, True])

    def test_episodes_open_and_close_on_control_commands(self):
        fake = self.start("--brokers", "3", "--topic", "orders:1:3:2")
        fake.ok(op="set_isr", topic="orders", partition=0, isr=[0])
        fake.ok(op="set_isr", topic="orders", partition=0, isr=[0, 1])
        fake.ok(op="min_isr", topic="orders", value=3)
        eps = fake.ok(op="episodes")["episodes"]
        self.assertEqual([(e["kind"], e["cause"], e["end"] is None) for e in eps],
                         [("under_min", None, False), ("under_min", None, True)])


if __name__ == "__main__":
    unittest.main(verbosity=2)
