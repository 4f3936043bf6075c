"""Partition leadership as the brokers report it, for the leadership tests: who leads each
partition and who should (its preferred leader, the first replica in Kafka's order, which the
harness's MetaWatcher does not keep), and raw ElectLeaders round trips for the codec's vectors
(tests/agent/vectors/)."""
import io
import socket
import struct
import time

from kafka.protocol.metadata import MetadataRequest, MetadataResponse


def _roundtrip(ip, port, msg, timeout=10):
    s = socket.create_connection((ip, port), timeout=timeout)
    try:
        s.sendall(struct.pack(">i", len(msg)) + msg)
        buf = b""
        while len(buf) < 4 or len(buf) < 4 + struct.unpack(">i", buf[:4])[0]:
            chunk = s.recv(65536)
            if not chunk:
                raise OSError("connection closed")
            buf += chunk
        return buf[4:]
    finally:
        s.close()


def leaders(pod, topics):
    """{(topic, partition): (leader, preferred)} from one Metadata v5 to pod's broker."""
    req = MetadataRequest[5](list(topics), False)
    msg = struct.pack(">hhih", req.API_KEY, 5, 1, 3) + b"kpa" + req.encode()
    r = MetadataResponse[5].decode(io.BytesIO(_roundtrip(pod.ip, 9092, msg)[4:])).to_object()
    out = {}
    for t in r["topics"]:
        if t["error_code"] != 0:
            raise OSError(f"topic {t['topic']}: error {t['error_code']}")
        for p in t["partitions"]:
            out[(t["topic"], p["partition"])] = (p["leader"], p["replicas"][0])
    return out


def skewed(state):
    """The partitions not led by their preferred leader."""
    return sorted(k for k, (leader, pref) in state.items() if leader != pref)


def wait_preferred(pod, topics, timeout, after=None):
    """Polls every 100 ms until every partition of topics is led by its preferred leader;
    returns the seconds from `after` (default: now). TimeoutError names what is skewed."""
    t0 = time.monotonic() if after is None else after
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            last = leaders(pod, topics)
            if not skewed(last):
                return time.monotonic() - t0
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"after {timeout}s these partitions are not led by their preferred "
                               f"leader: {skewed(last) if last else 'no metadata'}")
        time.sleep(0.1)


def elect_leaders_raw(ip, port, parts, timeout_ms=10000):
    """One ElectLeaders v2 (PREFERRED) for [(topic, partition)], correlation id 1, client id
    kpa-agent, with the bytes kpa-agent sends (tests/agent/check_kwire_elect.c): the answer
    frame without its size."""
    def uvarint(n):
        out = b""
        while n >= 0x80:
            out += bytes([(n & 0x7f) | 0x80])
            n >>= 7
        return out + bytes([n])
    topics = []
    for t, _ in parts:
        if t not in topics:
            topics.append(t)
    body = b"\x00" + uvarint(len(topics) + 1)
    for t in topics:
        ps = [p for tt, p in parts if tt == t]
        body += uvarint(len(t) + 1) + t.encode() + uvarint(len(ps) + 1)
        body += b"".join(struct.pack(">i", p) for p in ps) + b"\x00"
    body += struct.pack(">i", timeout_ms) + b"\x00"
    header = struct.pack(">hhih", 43, 2, 1, 9) + b"kpa-agent" + b"\x00"
    return _roundtrip(ip, port, header + body)


def api_versions_range(ip, port, key):
    """(min, max) of api key `key` from ApiVersions v0."""
    msg = struct.pack(">hhih", 18, 0, 1, 3) + b"kpa"
    data = _roundtrip(ip, port, msg)
    (n,) = struct.unpack(">i", data[6:10])
    for i in range(n):
        k, lo, hi = struct.unpack(">hhh", data[10 + 6 * i:16 + 6 * i])
        if k == key:
            return lo, hi
    return None
