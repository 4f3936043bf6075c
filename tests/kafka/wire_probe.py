#!/usr/bin/python3
"""Asks a real broker the questions tests/fakebroker/fakecluster.py answers, with the same
python3-kafka structs, and prints each answer as one JSON line, so the fake's claims about
Kafka 4.x can be checked against a real broker (tests/kafka/manual-init.sh fake-facts).

    wire_probe.py HOST:PORT api-versions
    wire_probe.py HOST:PORT describe-configs VERSION BROKER_ID [TOPIC...]
    wire_probe.py HOST:PORT metadata VERSION [TOPIC...]
    wire_probe.py HOST:PORT connect          (does the port accept a TCP connection?)
"""

import io
import json
import socket
import struct
import sys

from kafka.protocol.admin import (ApiVersionRequest, ApiVersionResponse, DescribeConfigsRequest,
                                  DescribeConfigsResponse)
from kafka.protocol.metadata import MetadataRequest, MetadataResponse

TIMEOUT_S = 10


def roundtrip(addr, req, resp_class):
    host, port = addr.rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=TIMEOUT_S)
    try:
        body = req.encode()
        header = struct.pack(">hhih", req.API_KEY, req.API_VERSION, 1, len("probe")) + b"probe"
        msg = header + body
        s.sendall(struct.pack(">i", len(msg)) + msg)
        buf = b""
        while len(buf) < 4:
            chunk = s.recv(4 - len(buf))
            if not chunk:
                return None
            buf += chunk
        (size,) = struct.unpack(">i", buf)
        data = b""
        while len(data) < size:
            chunk = s.recv(size - len(data))
            if not chunk:
                return None
            data += chunk
        return resp_class.decode(io.BytesIO(data[4:]))
    finally:
        s.close()


def main(argv):
    addr, what = argv[0], argv[1]
    if what == "connect":
        host, port = addr.rsplit(":", 1)
        try:
            socket.create_connection((host, int(port)), timeout=TIMEOUT_S).close()
            print(json.dumps({"connect": "accepted"}))
        except OSError as e:
            print(json.dumps({"connect": "failed", "error": e.strerror or str(e)}))
        return 0
    if what == "api-versions":
        r = roundtrip(addr, ApiVersionRequest[0](), ApiVersionResponse[0])
        keys = {3: "Metadata", 18: "ApiVersions", 32: "DescribeConfigs"}
        print(json.dumps({"error": r.error_code, "ranges": {keys[k]: [lo, hi] for k, lo, hi in r.api_versions
                                                            if k in keys}}))
        return 0
    if what == "describe-configs":
        v = int(argv[2])
        resources = [(4, argv[3], ["min.insync.replicas"])]
        resources += [(2, t, ["min.insync.replicas"]) for t in argv[4:]]
        req = DescribeConfigsRequest[v](resources) if v == 0 else DescribeConfigsRequest[v](resources, True)
        try:
            r = roundtrip(addr, req, DescribeConfigsResponse[v])
        except OSError as e:
            print(json.dumps({"version": v, "answer": None, "error": str(e)}))
            return 0
        if r is None:
            print(json.dumps({"version": v, "answer": "connection closed without an answer"}))
            return 0
        out = []
        for res in r.resources:
            out.append({"error": res[0], "message": res[1], "type": res[2], "name": res[3],
                        "entries": [list(e) for e in res[4]]})
        print(json.dumps({"version": v, "resources": out}))
        return 0
    if what == "metadata":
        v = int(argv[2])
        topics = argv[3:] or None
        args = (topics,) if v < 4 else (topics, False)
        r = roundtrip(addr, MetadataRequest[v](*args), MetadataResponse[v])
        d = r.to_object()
        print(json.dumps({"version": v, "brokers": [b["node_id"] for b in d["brokers"]],
                          "topics": [{"topic": t["topic"], "error": t["error_code"],
                                      "partitions": [{k: p[k] for k in p if k != "error_code"} | {"error": p["error_code"]}
                                                     for p in t["partitions"]]}
                                     for t in d["topics"]]}))
        return 0
    print("unknown question %r" % what, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
