"""Real Kafka: a log dir on a small file system fills up under produce load, and Kafka takes it
offline. Peer: one combined-mode Apache Kafka node (KPA_KAFKA_VERSION) with two log dirs: the
first (which also holds the metadata log) on the pod's data volume, the second on a 4 MiB tmpfs
mounted inside that volume (harness Pod(tmpfs=...)). A broker whose every log dir fails shuts
down, and one whose metadata log dir fails does too, so only the second may fill.

What kpa-agent must show, once the small dir is full: its free bytes and inodes exactly as
statvfs gives them, the disk condition failing, the dir offline (DescribeLogDirs:
KAFKA_STORAGE_ERROR) with the replica it held, /readyz failing on log_dirs, /livez passing (a
restart would find the same full disk), and the broker still serving the other dir.
"""
import os
import re
import socket
import struct
import subprocess
import unittest

import harness as h

BIG = "/var/lib/kafka/data/kafka-logs"
SMALL = "/var/lib/kafka/data/small/kafka-logs"
SMALL_BYTES = 4 * 1024 * 1024


def metric(text, name, dir_):
    m = re.search(r'^%s\{dir="%s"\} (\S+)$' % (re.escape(name), re.escape(dir_)), text, re.M)
    return m.group(1) if m else None


def raw_describe_log_dirs(host, port):
    """One DescribeLogDirs v4 (empty topic list, correlation id 1, client id kpa-agent) with
    the bytes kpa-agent sends (tests/agent/check_kwire.c); the answer frame without its size."""
    body = struct.pack(">hhih", 35, 4, 1, 9) + b"kpa-agent" + b"\x00" + b"\x01" + b"\x00"
    s = socket.create_connection((host, port), timeout=10)
    try:
        s.sendall(struct.pack(">i", len(body)) + body)
        buf = b""
        while len(buf) < 4 or len(buf) < 4 + struct.unpack(">i", buf[:4])[0]:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
        return buf[4:]
    finally:
        s.close()


class DiskFillsUp(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.env = h.Env()
        try:
            extra = {"KPA_CONTROLLER_COUNT": "1", "KPA_LOG_DIRS": f"{BIG},{SMALL}"}
            # One node: replication 1, so min.insync.replicas 1.
            template = re.sub(r"(?m)^(min\.insync\.replicas|offsets\.topic\.replication\.factor|"
                              r"transaction\.state\.log\.replication\.factor|default\.replication\.factor)=\d+$",
                              r"\1=1", h.manifest()["configmap"]["data"]["server.properties"])
            cls.pod = cls.env.pod("kafka", 0, extra_env=extra, template=template,
                                  tmpfs={"data": ("small", SMALL_BYTES)})
            cls.small_host = os.path.join(cls.pod.volumes["data"], "small")
            cls.env.start([cls.pod], agent_overrides={"--interval": "1s", "--log-dirs-interval": "1s"})
            cls.pod.wait_ready(timeout=180)
            cls.boot = f"{cls.pod.fqdn}:9092"
            # No offset or time index entry is ever written (index.interval.bytes past the
            # data): an index page first touched on a full tmpfs would be a SIGBUS in the
            # broker's mmap, not the I/O error that takes a log dir offline.
            cls.env.probe("create-topic", "--bootstrap", cls.boot, "--topic", "fill",
                          "--partitions", "2", "--replication-factor", "1",
                          "index.interval.bytes=1073741824")
        except BaseException:
            cls.env.close()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.env.close()

    def dir_status(self, path):
        st = self.pod.status()
        for d in st["disk"]["log_dirs"]:
            if d["dir"] == path:
                return st, d
        raise AssertionError(f"{path} not in /status: {st.get('disk')}")

    def test_a_full_log_dir_goes_offline_with_its_replica_and_fails_readiness_not_liveness(self):
        pod = self.pod
        # Before: both dirs online, measured, the small one far from full.
        st, small = self.dir_status(SMALL)
        self.assertEqual(small["state"], "online", st["disk"])
        self.assertEqual(small["total_bytes"], SMALL_BYTES)
        self.assertFalse(small["low"])
        self.assertTrue(st["disk"]["ok"], st["disk"])
        self.assertEqual(st["disk"]["warn_free_percent"], 10)
        self.assertIn("[+]log_dirs ok", pod.get("/readyz?verbose")[1])

        # The partition Kafka placed in the small dir (one per dir: fewest partitions first).
        # CreateTopics returns once the partitions have a leader; the broker makes their folders
        # a moment later.
        def placed():
            found = {d: [n for n in os.listdir(os.path.join(root, "kafka-logs")) if n.startswith("fill-")]
                     for d, root in (("big", self.pod.volumes["data"]), ("small", self.small_host))}
            return found if len(found["big"]) + len(found["small"]) == 2 else None
        found = h.wait_for(placed, 60, "the folders of fill-0 and fill-1")
        here = found["small"]
        self.assertEqual(len(here), 1, found)
        partition = int(here[0].rsplit("-", 1)[1])

        # Fill it: 12 MiB of records for a 4 MiB file system.
        line = ("x" * 8191 + "\n").encode()
        r = subprocess.run(self.env.client_argv(
            ["kcat", "-P", "-b", self.boot, "-t", "fill", "-p", str(partition),
             "-X", "message.timeout.ms=5000", "-X", "linger.ms=5"]),
            input=line * 1536, capture_output=True, timeout=120)
        h.log(f"kcat exited {r.returncode}: {r.stderr.decode(errors='replace')[-300:]}")

        def offline():
            st, d = self.dir_status(SMALL)
            return (st, d) if d["state"] == "offline" else None
        st, small = h.wait_for(offline, 120, f"{SMALL} offline in /status")
        self.assertTrue(pod.broker.alive(), pod.broker.tail())
        self.assertEqual(small["kafka_error"], "KAFKA_STORAGE_ERROR")
        self.assertEqual(small["offline_replicas"], 1)
        self.assertEqual(small["replicas"], [f"fill-{partition}"])
        self.assertEqual(st["disk"]["offline_dirs"], 1)
        self.assertEqual(st["disk"]["offline_replicas"], 1)
        self.assertTrue(small["low"], small)
        self.assertFalse(st["disk"]["ok"])
        self.assertIn(f"{SMALL} is offline", st["disk"]["detail"])
        _, big = self.dir_status(BIG)
        self.assertEqual(big["state"], "online")

        # Nothing writes to an offline dir any more: the agent's next statvfs matches ours.
        v = os.statvfs(self.small_host)
        want = (v.f_bavail * v.f_frsize, v.f_blocks * v.f_frsize, v.f_favail, v.f_files)

        def agree():
            _, d = self.dir_status(SMALL)
            return d if (d["free_bytes"], d["total_bytes"], d["free_inodes"], d["total_inodes"]) == want else None
        h.wait_for(agree, 30, f"/status to show statvfs {want} for {SMALL}")
        self.assertLess(want[0], SMALL_BYTES // 10)
        code, text = pod.get("/metrics")
        self.assertEqual(code, 200)
        self.assertEqual(metric(text, "kpa_log_dir_free_bytes", SMALL), str(want[0]))
        self.assertEqual(metric(text, "kpa_log_dir_total_bytes", SMALL), str(want[1]))
        self.assertEqual(metric(text, "kpa_log_dir_free_inodes", SMALL), str(want[2]))
        self.assertEqual(metric(text, "kpa_log_dir_total_inodes", SMALL), str(want[3]))
        self.assertEqual(metric(text, "kpa_log_dir_offline", SMALL), "1")
        self.assertEqual(metric(text, "kpa_log_dir_offline", BIG), "0")
        self.assertEqual(metric(text, "kpa_log_dir_offline_replicas", SMALL), "1")
        self.assertEqual(metric(text, "kpa_log_dir_low", SMALL), "1")
        self.assertRegex(text, r"(?m)^kpa_disk_ok 0$")
        self.assertRegex(text, r"(?m)^kpa_offline_replicas 1$")
        self.assertRegex(text, r'(?m)^kpa_readiness_check\{check="log_dirs"\} 0$')

        # Readiness fails on the offline dir; liveness does not.
        code, body = pod.get(pod.path("readiness"))
        self.assertEqual(code, 503)
        self.assertIn(f"[-]log_dirs failed: 1 of 2 log dirs offline: {SMALL} (KAFKA_STORAGE_ERROR, 1 replica)", body)
        code, body = pod.get(pod.path("liveness"))
        self.assertEqual((code, body), (200, "ok"))

        # The raw answer, for the codec's unit vectors (tests/agent/vectors/).
        out = os.environ.get("KPA_DISK_VECTORS_DIR")
        if out:
            name = f"describelogdirs-v4-kafka-{self.env.version}-offline.bin"
            with open(os.path.join(out, name), "wb") as f:
                f.write(raw_describe_log_dirs(pod.ip, 9092))

if __name__ == "__main__":
    unittest.main()
