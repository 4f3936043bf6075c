"""A loopback HTTPS server that answers GET /api/v1/nodes/<name> (the rack lookup tests) and
GET /apis/apps/v1/namespaces/<ns>/statefulsets/<name> (kpa-agent's scale-down safety: its
spec.replicas is read from --replicas-file at every request, so a test scales by writing it)
the way the Kubernetes API server does. With --replicas-dir instead (the real-Kafka harness:
every cluster gets one), it serves every StatefulSet NAME of --namespace whose file DIR/NAME
exists, with that file's spec.replicas, and while DIR/forbidden exists it answers 403 for them
(the service account without its Role), so that a test changes either by writing a file.

It binds an ephemeral port, prints "ready <port>" on stdout, and then one line per request,
"request <path> auth=ok|bad", before it answers, so that a test can await readiness and see
what was asked without sleeping. Run it with /usr/bin/python3.
"""
import argparse
import json
import os
import socket
import ssl
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def status(code, reason, message):
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--token", required=True, help="the only bearer token accepted")
    ap.add_argument("--node", default="n1")
    ap.add_argument("--labels", default="{}", help="the node's labels as a JSON object")
    ap.add_argument("--statefulset", default="kafka/kafka", help="NAMESPACE/NAME of the one StatefulSet")
    ap.add_argument("--replicas-file", help="holds the StatefulSet's spec.replicas (without it: no StatefulSet)")
    ap.add_argument("--replicas-dir", help="DIR/NAME holds StatefulSet NAME's spec.replicas (of --namespace); "
                    "DIR/forbidden: answer 403")
    ap.add_argument("--namespace", default="kafka", help="with --replicas-dir: the StatefulSets' namespace")
    ap.add_argument("--mode", default="ok",
                    choices=["ok", "forbidden", "flaky", "oversize", "oversize-chunked"])
    ap.add_argument("--fail-first", type=int, default=0, help="flaky: answer 500 this many times")
    ap.add_argument("--echo-token", action="store_true",
                    help="misbehave: quote the request's Authorization header, after a terminal "
                         "escape sequence, in every Status message")
    args = ap.parse_args()
    labels = json.loads(args.labels)
    state = {"requests": 0}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, fmt, *a):
            pass

        def send_json(self, code, obj, chunked=False):
            body = json.dumps(obj).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            if not chunked:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def status(self, code, reason, message):
            if args.echo_token:
                message += " \x1b[31m(request had Authorization: %s)" % self.headers.get("Authorization")
            return status(code, reason, message)

        def do_GET(self):
            state["requests"] += 1
            auth_ok = self.headers.get("Authorization") == "Bearer " + args.token
            print("request %s auth=%s" % (self.path, "ok" if auth_ok else "bad"), flush=True)
            if not auth_ok:
                self.send_json(401, self.status(401, "Unauthorized", "Unauthorized"))
                return
            sts_ns, sts_name = args.statefulset.split("/", 1)
            if self.path.startswith("/apis/apps/v1/") and args.replicas_dir:
                self.statefulset_of_dir()
                return
            if self.path.startswith("/apis/apps/v1/"):
                self.statefulset(sts_ns, sts_name)
                return
            prefix = "/api/v1/nodes/"
            name = self.path[len(prefix):] if self.path.startswith(prefix) else None
            if args.mode == "forbidden":
                self.send_json(403, self.status(403, "Forbidden",
                               'nodes "%s" is forbidden: User "system:serviceaccount:kafka:kafka" '
                               'cannot get resource "nodes" in API group "" at the cluster scope' % name))
                return
            if args.mode == "flaky" and state["requests"] <= args.fail_first:
                self.send_json(500, self.status(500, "InternalError", "etcd leader changed"))
                return
            if name != args.node:
                self.send_json(404, self.status(404, "NotFound", 'nodes "%s" not found' % name))
                return
            node = {"kind": "Node", "apiVersion": "v1",
                    "metadata": {"name": name, "labels": labels},
                    "status": {"conditions": []}}
            if args.mode.startswith("oversize"):
                # A Node with a 5 MiB annotation: more than the client's 4 MiB bound.
                node["metadata"]["annotations"] = {"big": "x" * (5 << 20)}
            self.send_json(200, node, chunked=args.mode == "oversize-chunked")

        def statefulset_of_dir(self):
            prefix = "/apis/apps/v1/namespaces/%s/statefulsets/" % args.namespace
            name = self.path[len(prefix):] if self.path.startswith(prefix) else ""
            valid = 0 < len(name) <= 63 and all(c.islower() or c.isdigit() or c == "-" for c in name) \
                and name != "forbidden"
            if valid and os.path.exists(os.path.join(args.replicas_dir, "forbidden")):
                self.send_json(403, self.status(403, "Forbidden",
                               'statefulsets.apps "%s" is forbidden: User "system:serviceaccount:%s:kafka" '
                               'cannot get resource "statefulsets" in API group "apps" in the namespace "%s"'
                               % (name, args.namespace, args.namespace)))
                return
            replicas = None
            if valid:
                try:
                    with open(os.path.join(args.replicas_dir, name)) as f:
                        replicas = int(f.read().strip())
                except FileNotFoundError:
                    pass
            if replicas is None:
                self.send_json(404, self.status(404, "NotFound", 'statefulsets.apps "%s" not found'
                                                % self.path.rsplit("/", 1)[-1]))
                return
            self.send_json(200, {"kind": "StatefulSet", "apiVersion": "apps/v1",
                                 "metadata": {"name": name, "namespace": args.namespace},
                                 "spec": {"replicas": replicas, "serviceName": name + "-headless"},
                                 "status": {"replicas": replicas}})

        def statefulset(self, ns, name):
            path = "/apis/apps/v1/namespaces/%s/statefulsets/%s" % (ns, name)
            if args.mode == "forbidden":
                self.send_json(403, self.status(403, "Forbidden",
                               'statefulsets.apps "%s" is forbidden: User "system:serviceaccount:%s:kafka" '
                               'cannot get resource "statefulsets" in API group "apps" in the namespace "%s"'
                               % (name, ns, ns)))
                return
            if args.mode == "flaky" and state["requests"] <= args.fail_first:
                self.send_json(500, self.status(500, "InternalError", "etcd leader changed"))
                return
            if self.path != path or not args.replicas_file:
                self.send_json(404, self.status(404, "NotFound", 'statefulsets.apps "%s" not found'
                                                % self.path.rsplit("/", 1)[-1]))
                return
            with open(args.replicas_file) as f:
                replicas = int(f.read().strip())
            self.send_json(200, {"kind": "StatefulSet", "apiVersion": "apps/v1",
                                 "metadata": {"name": name, "namespace": ns},
                                 "spec": {"replicas": replicas, "serviceName": name + "-headless"},
                                 "status": {"replicas": replicas}})

    class Server(ThreadingHTTPServer):
        address_family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
        daemon_threads = True

        def handle_error(self, request, client_address):
            # A client that hangs up mid-answer (the oversize tests) is expected.
            pass

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    srv = Server((args.host, 0), Handler)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    print("ready %d" % srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
