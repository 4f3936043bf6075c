"""The real-Kafka harness: Apache Kafka 4.x KRaft clusters made of "pods", each one started
from kpa-init's own output and the StatefulSet's own container commands.

A pod is a Linux network namespace with its own address on a bridge, and its DNS names in a
hosts file that `ip netns exec` binds over /etc/hosts for that namespace alone (the global
/etc/hosts is never touched). Each of its processes runs in a mount namespace of its own where
the pod's folders are bound at the paths k8s/base mounts (tests/kafka/podexec), so the
manifest's commands run unchanged:
  kpa-init     with the pod's downward-API environment,
  the broker   with the kafka container's command and args from k8s/base/statefulset.yaml
               (kafka-storage format --ignore-formatted, then kafka-server-start),
  kpa-agent    with the kpa-agent sidecar's args (a test may override single flags).
Clients (Kafka's own Java client, kcat) run in a client namespace or inside a pod.

Clean-up always runs (atexit and SIGTERM/SIGINT): every process group started, every
namespace, link and /etc/netns folder named with PREFIX, the mount points this harness created.
One harness runs at a time (a lock file); a run also removes what a killed run left.
Every wait is bounded and says what it waited for when it gives up.

Environment: KPA_KAFKA_VERSION (default: the newest in tests/kafka/versions), KPA_BUILD_DIR
(kpa-init/kpa-agent; default build/test-plain), KPA_KAFKA_KEEP=1 keeps the work folder.
Needs root (namespaces, mounts), Java 17, kcat; /usr/bin/python3 with PyYAML.
"""
import atexit
import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
BIN = os.path.join(HERE, "bin")
PREFIX = "kpat"
SUBNET = "10.213.0"
HOST_IP = SUBNET + ".1"
CLIENT_IP = SUBNET + ".2"
LOCK = "/run/kpa-kafka-harness.lock"
MOUNTPOINTS = ["/etc/kafka/kpa", "/etc/kafka/template", "/var/lib/kafka", "/var/log/kafka",
               "/opt/kafka/bin"]
CLUSTER_ID = "nODyLhDqTnGLSkUp0RIG7w"
NAMESPACE = "kafka"
DOMAIN = "cluster.local"
# The brokers' JVM: the manifest's 1 GiB heap times six pods is more than a 2-core CI machine
# should commit; everything else about the container is the manifest's.
TEST_HEAP = "-Xms128m -Xmx384m"
TEST_JVM = "-XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true"
T0 = time.monotonic()


def log(msg):
    print(f"[{time.monotonic() - T0:7.1f}s] {msg}", flush=True)


def versions():
    """[(version, role)] from tests/kafka/versions."""
    out = []
    with open(os.path.join(HERE, "versions")) as f:
        for line in f:
            line = line.split("#", 1)[0].split()
            if line:
                out.append((line[0], line[1]))
    return out


def kafka_version():
    v = os.environ.get("KPA_KAFKA_VERSION")
    if v:
        return v
    return [v for v, role in versions() if role == "newest"][0]


def build_dir():
    return os.environ.get("KPA_BUILD_DIR", os.path.join(REPO, "build", "test-plain"))


def run(cmd, check=True, timeout=120, **kw):
    """Runs cmd (a list), bounded; returns CompletedProcess with text output."""
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {r.returncode}: {r.stderr.strip()[-2000:]}")
    return r


class Fatal(Exception):
    """Raised by a wait's predicate when waiting longer cannot help (a process died)."""


def wait_for(pred, timeout, what, interval=0.1):
    """Polls pred() until it returns a true value (returned), at most timeout seconds. A
    predicate that raises counts as "not yet", except for Fatal, which ends the wait."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            v = pred()
            if v:
                return v
        except Fatal:
            raise
        except Exception as e:  # a probe that errors is "not yet"; say why at the end
            last = e
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}"
                               + (f" (last error: {last})" if last else ""))
        time.sleep(interval)


def manifest():
    """The StatefulSet of k8s/base and the kafka-config ConfigMap, parsed."""
    with open(os.path.join(REPO, "k8s", "base", "statefulset.yaml")) as f:
        sts = yaml.safe_load(f)
    with open(os.path.join(REPO, "k8s", "base", "configmap.yaml")) as f:
        cm = yaml.safe_load(f)
    spec = sts["spec"]["template"]["spec"]
    inits = {c["name"]: c for c in spec["initContainers"]}
    kafka = [c for c in spec["containers"] if c["name"] == "kafka"][0]
    return {"sts": sts, "configmap": cm, "init": inits["kpa-init"], "agent": inits["kpa-agent"],
            "kafka": kafka}


def http_get(url, timeout=5.0):
    """(status, body) of a GET; status 0 when nothing answered."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except (urllib.error.URLError, OSError):
        return 0, ""


class Proc:
    """A process started in its own process group; its output goes to a log file."""

    def __init__(self, env, name, argv, logpath, penv=None):
        self.name = name
        self.logpath = logpath
        self.logf = open(logpath, "ab")
        self.p = subprocess.Popen(argv, stdout=self.logf, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL, start_new_session=True, env=penv)
        env.procs.append(self)

    @property
    def pid(self):
        return self.p.pid

    def alive(self):
        return self.p.poll() is None

    def send(self, sig):
        if self.alive():
            os.kill(self.p.pid, sig)

    def kill_group(self):
        try:
            os.killpg(self.p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            self.p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        self.logf.close()

    def stop(self, sig=signal.SIGTERM, timeout=60):
        """Sends sig and waits for the exit (then the rest of the group is killed)."""
        self.send(sig)
        rc = self.p.wait(timeout=timeout)
        self.kill_group()
        return rc

    def tail(self, n=40):
        try:
            with open(self.logpath, "rb") as f:
                return b"\n".join(f.read().splitlines()[-n:]).decode(errors="replace")
        except OSError:
            return ""


class Pod:
    """One pod: a network namespace, its folders, and the processes started in it."""

    def __init__(self, env, sts, ordinal, service=None, extra_env=None, template=None):
        self.env = env
        self.sts = sts
        self.ordinal = ordinal
        self.name = f"{sts}-{ordinal}"
        self.service = service or f"{sts}-headless"
        self.fqdn = f"{self.name}.{self.service}.{NAMESPACE}.svc.{DOMAIN}"
        self.index = len(env.pods)
        self.ns = f"{PREFIX}{self.index}"
        self.ip = f"{SUBNET}.{10 + self.index}"
        self.node = f"node-{self.index}"
        self.extra_env = dict(extra_env or {})
        self.root = os.path.join(env.work, self.name)
        for d in ("kpa", "template", "data", "logs"):
            os.makedirs(os.path.join(self.root, d), exist_ok=True)
        cm = env.manifest["configmap"]["data"]
        with open(os.path.join(self.root, "template", "server.properties"), "w") as f:
            f.write(template if template is not None else cm["server.properties"])
        with open(os.path.join(self.root, "template", "log4j2.yaml"), "w") as f:
            f.write(cm["log4j2.yaml"])
        self.broker = None
        self.agent = None
        self.agent_port = 8080
        env.pods.append(self)
        env.netns_add(self.ns, self.ip)

    def argv(self, cmd):
        """cmd run inside this pod: its network namespace and its volumes."""
        return ["ip", "netns", "exec", self.ns, "unshare", "-m", "--propagation", "private",
                os.path.join(HERE, "podexec"), self.root, BIN, "--"] + cmd

    def base_env(self):
        e = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": self.root,
             "KPA_KAFKA_LIB": self.env.lib, "LANG": "C.UTF-8"}
        if "JAVA_HOME" in os.environ:
            e["JAVA_HOME"] = os.environ["JAVA_HOME"]
        return e

    def init_env(self):
        """kpa-init's environment: the manifest's, with the downward API filled in."""
        downward = {"metadata.name": self.name, "metadata.namespace": NAMESPACE,
                    "status.podIP": self.ip, "status.hostIP": HOST_IP, "spec.nodeName": self.node}
        e = self.base_env()
        for v in self.env.manifest["init"].get("env", []):
            if "value" in v:
                e[v["name"]] = v["value"]
            elif "fieldRef" in v.get("valueFrom", {}):
                e[v["name"]] = downward[v["valueFrom"]["fieldRef"]["fieldPath"]]
            elif v.get("valueFrom", {}).get("configMapKeyRef", {}).get("key") == "cluster.id":
                e[v["name"]] = CLUSTER_ID
        e["KPA_HEADLESS_SERVICE"] = self.service
        e.update(self.extra_env)
        return e

    def run_init(self, check=True):
        r = run(self.argv([os.path.join(build_dir(), "kpa-init")]), check=False,
                env=self.init_env(), timeout=60)
        if check and r.returncode != 0:
            raise RuntimeError(f"kpa-init for {self.name} exited {r.returncode}: {r.stderr.strip()}")
        return r

    def props(self, name="server.properties"):
        out = {}
        with open(os.path.join(self.root, "kpa", name)) as f:
            for line in f:
                line = line.rstrip("\n")
                if line and not line.startswith("#") and "=" in line:
                    k, v = line.split("=", 1)
                    out[k] = v
        return out

    @property
    def node_id(self):
        return int(self.props()["node.id"])

    @property
    def roles(self):
        return self.props()["process.roles"]

    def start_broker(self):
        """The kafka container, as k8s/base runs it."""
        k = self.env.manifest["kafka"]
        e = self.base_env()
        for v in k.get("env", []):
            e[v["name"]] = v["value"]
        e["KAFKA_HEAP_OPTS"] = TEST_HEAP
        e["KAFKA_JVM_PERFORMANCE_OPTS"] = TEST_JVM
        self.broker = Proc(self.env, f"{self.name}/kafka", self.argv(k["command"] + k["args"]),
                           os.path.join(self.root, "broker.log"), e)
        return self.broker

    def agent_args(self, overrides=None):
        """The kpa-agent sidecar's args from the manifest; overrides replace flags by name."""
        args = list(self.env.manifest["agent"]["args"])
        for flag, value in (overrides or {}).items():
            args = [a for a in args if a.split("=", 1)[0] != flag]
            if value is not None:
                args.append(f"{flag}={value}")
        return args

    def start_agent(self, overrides=None):
        self.agent = Proc(self.env, f"{self.name}/kpa-agent",
                          self.argv([os.path.join(build_dir(), "kpa-agent")] + self.agent_args(overrides)),
                          os.path.join(self.root, "agent.log"), self.base_env())
        return self.agent

    def get(self, path, timeout=5.0):
        return http_get(f"http://{self.ip}:{self.agent_port}{path}", timeout)

    def status(self):
        code, body = self.get("/status")
        return json.loads(body) if code == 200 else None

    def agent_check(self, extra=None):
        """`kpa-agent check` in this pod with the sidecar's config files: (rc, JSON)."""
        args = [a for a in self.agent_args() if a.split("=", 1)[0] in
                ("--broker-config", "--client-config")]
        r = run(self.argv([os.path.join(build_dir(), "kpa-agent"), "check"] + args + (extra or [])),
                check=False, env=self.base_env(), timeout=60)
        try:
            return r.returncode, json.loads(r.stdout)
        except json.JSONDecodeError:
            return r.returncode, {"raw": r.stdout, "stderr": r.stderr}

    def wait_ready(self, timeout=90):
        return wait_for(lambda: self.get("/readyz")[0] == 200, timeout, f"{self.name} /readyz 200")

    def wait_broker_up(self, timeout=90):
        """The broker's log says it started (a KRaft node's own 'started' line)."""
        def up():
            if not self.broker.alive():
                raise Fatal(f"{self.name}'s broker exited {self.broker.p.returncode}:\n"
                                    + self.broker.tail(15))
            with open(self.broker.logpath, "rb") as f:
                return b"Kafka Server started" in f.read()
        try:
            return wait_for(up, timeout, f"{self.name}'s broker to start")
        except TimeoutError:
            raise TimeoutError(f"{self.name}'s broker did not start in {timeout}s:\n" + self.broker.tail())


class Env:
    """One test environment: a bridge, pods, a client namespace; cleans up after itself."""

    def __init__(self, version=None):
        self.version = version or kafka_version()
        self.lib = provision(self.version)
        self.probe_classes = compile_probe(self.version, self.lib)
        self.manifest = manifest()
        self.pods = []
        self.procs = []
        self.netns = []
        self.made_mountpoints = []
        self.closed = False
        self.lockf = open(LOCK, "w")
        try:
            fcntl.flock(self.lockf, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log(f"waiting for another real-Kafka harness run ({LOCK})")
            fcntl.flock(self.lockf, fcntl.LOCK_EX)
        purge_leftovers()
        self.work = tempfile.mkdtemp(prefix="kpa-kafka-")
        atexit.register(self.close)
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._on_signal)
        for m in MOUNTPOINTS:
            if not os.path.isdir(m):
                os.makedirs(m)
                self.made_mountpoints.append(m)
        run(["ip", "link", "add", f"{PREFIX}br", "type", "bridge"])
        run(["ip", "addr", "add", f"{HOST_IP}/24", "dev", f"{PREFIX}br"])
        run(["ip", "link", "set", f"{PREFIX}br", "up"])
        self.client_ns = f"{PREFIX}c"
        self.netns_add(self.client_ns, CLIENT_IP)

    def _on_signal(self, signum, frame):
        self.close()
        sys.exit(128 + signum)

    def netns_add(self, ns, ip):
        veth = f"{ns}v"
        run(["ip", "netns", "add", ns])
        self.netns.append(ns)
        run(["ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns])
        run(["ip", "link", "set", veth, "master", f"{PREFIX}br", "up"])
        run(["ip", "-n", ns, "addr", "add", f"{ip}/24", "dev", "eth0"])
        run(["ip", "-n", ns, "link", "set", "eth0", "up"])
        run(["ip", "-n", ns, "link", "set", "lo", "up"])
        os.makedirs(f"/etc/netns/{ns}", exist_ok=True)
        self.write_hosts()

    def write_hosts(self):
        """Every namespace resolves every pod's names (the cluster DNS of the headless
        Services). Rewritten in place, so namespaces already bound see new pods."""
        lines = ["127.0.0.1 localhost", "::1 localhost"]
        for p in self.pods:
            lines.append(f"{p.ip} {p.fqdn} {p.name}.{p.service}.{NAMESPACE}.svc {p.name}.{p.service} {p.name}")
        text = "\n".join(lines) + "\n"
        for ns in self.netns:
            path = f"/etc/netns/{ns}/hosts"
            with open(path, "a+") as f:
                f.seek(0)
                f.truncate()
                f.write(text)

    def pod(self, sts, ordinal, **kw):
        return Pod(self, sts, ordinal, **kw)

    def client_argv(self, cmd):
        return ["ip", "netns", "exec", self.client_ns] + cmd

    def probe_argv(self, *args):
        return self.client_argv(["java", "-Xmx256m", "-XX:TieredStopAtLevel=1", "-cp",
                                 f"{self.probe_classes}:{self.lib}/*", "KafkaProbe"] + list(args))

    def probe(self, *args, timeout=120, check=True):
        """Runs KafkaProbe once in the client namespace; its JSON answer."""
        r = run(self.probe_argv(*args), check=check, timeout=timeout)
        return json.loads(r.stdout.strip().splitlines()[-1]) if r.stdout.strip() else None

    def tool(self, script, *args, timeout=120, check=True):
        """Runs one of Kafka's own tools (tests/kafka/bin) in the client namespace."""
        e = dict(os.environ, KPA_KAFKA_LIB=self.lib, KAFKA_HEAP_OPTS="-Xmx256m",
                 KAFKA_JVM_PERFORMANCE_OPTS="-XX:TieredStopAtLevel=1")
        return run(self.client_argv([os.path.join(BIN, script)] + list(args)), check=check,
                   timeout=timeout, env=e)

    def watcher(self, bootstrap, topics=(), interval_ms=100):
        return Watcher(self, bootstrap, topics, interval_ms)

    def start(self, pods, agent_overrides=None, agents=True):
        """kpa-init, then broker and agent, for each pod; waits for every broker to start."""
        t = time.monotonic()
        for p in pods:
            p.run_init()
        for p in pods:
            p.start_broker()
            if agents:
                p.start_agent(agent_overrides)
        for p in pods:
            p.wait_broker_up(timeout=120)
        return time.monotonic() - t

    def close(self):
        if self.closed:
            return
        self.closed = True
        for p in reversed(self.procs):
            p.kill_group()
        for ns in self.netns:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
            shutil.rmtree(f"/etc/netns/{ns}", ignore_errors=True)
        subprocess.run(["ip", "link", "del", f"{PREFIX}br"], capture_output=True)
        for m in reversed(self.made_mountpoints):
            try:
                os.rmdir(m)
            except OSError:
                pass
        for parent in ("/etc/kafka", "/opt/kafka"):
            try:
                os.rmdir(parent)
            except OSError:
                pass
        if os.environ.get("KPA_KAFKA_KEEP") == "1":
            log(f"kept {self.work}")
        else:
            shutil.rmtree(self.work, ignore_errors=True)
        self.lockf.close()


def purge_leftovers():
    """Removes namespaces, links and /etc/netns folders of ours that a killed run left."""
    r = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True)
    for line in r.stdout.splitlines():
        ns = line.split()[0] if line.split() else ""
        if ns.startswith(PREFIX):
            subprocess.run(["ip", "netns", "pids", ns], capture_output=True)
            pids = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True).stdout.split()
            for pid in pids:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
    subprocess.run(["ip", "link", "del", f"{PREFIX}br"], capture_output=True)
    if os.path.isdir("/etc/netns"):
        for d in os.listdir("/etc/netns"):
            if d.startswith(PREFIX):
                shutil.rmtree(os.path.join("/etc/netns", d), ignore_errors=True)


def provision(version):
    r = run([os.path.join(HERE, "provision.sh"), version], timeout=900)
    return r.stdout.strip().splitlines()[-1]


def compile_probe(version, lib):
    """KafkaProbe.java compiled against this release's client (cached by source mtime)."""
    src = os.path.join(HERE, "java", "KafkaProbe.java")
    out = os.path.join(os.path.dirname(lib), "probe")
    stamp = os.path.join(out, "KafkaProbe.class")
    if not os.path.exists(stamp) or os.path.getmtime(stamp) < os.path.getmtime(src):
        os.makedirs(out, exist_ok=True)
        run(["javac", "-nowarn", "-cp", f"{lib}/*", "-d", out, src], timeout=300)
    return out


class Watcher:
    """KafkaProbe watch: the metadata as a client sees it, every interval_ms, recorded with
    the harness's own clock (time.monotonic) when each line arrived."""

    def __init__(self, env, bootstrap, topics, interval_ms):
        self.events = []
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        argv = env.probe_argv("watch", "--bootstrap", bootstrap, "--interval-ms", str(interval_ms),
                              *topics)
        self.p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                  start_new_session=True, text=True)
        env.procs.append(_Adopted(self.p))
        self.t = threading.Thread(target=self._read, daemon=True)
        self.t.start()

    def _read(self):
        for line in self.p.stdout:
            try:
                ev = json.loads(line)
            except json.JSONDecodeError:
                continue
            ev["at"] = time.monotonic()
            with self.cond:
                self.events.append(ev)
                self.cond.notify_all()

    def state(self):
        """{(topic, partition): latest event} as of now."""
        with self.lock:
            s = {}
            for ev in self.events:
                if "partition" in ev:
                    s[(ev["topic"], ev["partition"])] = ev
            return s

    def wait(self, pred, timeout, what):
        """Waits until pred(state) is true; returns the monotonic time it first held."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                s = {}
                for ev in self.events:
                    if "partition" in ev:
                        s[(ev["topic"], ev["partition"])] = ev
                if s and pred(s):
                    return max(ev["at"] for ev in s.values())
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
                self.cond.wait(min(left, 0.5))

    def stop(self):
        try:
            os.killpg(self.p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.p.wait(timeout=10)


class _Adopted:
    """A Popen the Env kills at clean-up like its own Procs."""

    def __init__(self, p):
        self.p = p

    def kill_group(self):
        try:
            os.killpg(self.p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            self.p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass


def openssl(*args, cwd=None):
    return run(["openssl"] + list(args), cwd=cwd, timeout=60)


def make_ca(folder, name="kpa-test-root"):
    """A self-signed EC P-256 CA: folder/ca.crt and folder/ca.key (a KPA_TLS_CA_DIR)."""
    os.makedirs(folder, exist_ok=True)
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "ca.key", "-out", "ca.crt", "-days", "30", "-subj", f"/CN={name}",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=folder)
    return folder


def make_cert_manager_secret(folder, dns_names):
    """A cert-manager style Secret volume: root CA -> intermediate CA -> leaf. tls.crt holds
    the leaf then the intermediate, tls.key the leaf's PKCS#8 key, ca.crt the root."""
    os.makedirs(folder, exist_ok=True)
    work = os.path.join(folder, ".work")
    make_ca(work, "kpa-test-root")
    ext = os.path.join(work, "ext.cnf")
    with open(ext, "w") as f:
        f.write("[inter]\nbasicConstraints=critical,CA:TRUE,pathlen:0\n"
                "keyUsage=critical,keyCertSign,cRLSign\n"
                "[leaf]\nbasicConstraints=critical,CA:FALSE\n"
                "keyUsage=critical,digitalSignature\n"
                "extendedKeyUsage=serverAuth,clientAuth\n"
                "subjectAltName=" + ",".join(f"DNS:{d}" for d in dns_names) + "\n")
    openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "inter.key", "-out", "inter.csr", "-subj", "/CN=kpa-test-intermediate", cwd=work)
    openssl("x509", "-req", "-in", "inter.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", "20", "-extfile", ext, "-extensions", "inter",
            "-out", "inter.crt", cwd=work)
    openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "leaf.key", "-out", "leaf.csr", "-subj", "/CN=kafka", cwd=work)
    openssl("x509", "-req", "-in", "leaf.csr", "-CA", "inter.crt", "-CAkey", "inter.key",
            "-CAcreateserial", "-days", "10", "-extfile", ext, "-extensions", "leaf",
            "-out", "leaf.crt", cwd=work)
    openssl("pkcs8", "-topk8", "-nocrypt", "-in", "leaf.key", "-out", os.path.join(folder, "tls.key"), cwd=work)
    with open(os.path.join(folder, "tls.crt"), "w") as out:
        for name in ("leaf.crt", "inter.crt"):
            with open(os.path.join(work, name)) as f:
                out.write(f.read())
    shutil.copy(os.path.join(work, "ca.crt"), os.path.join(folder, "ca.crt"))
    return folder


def make_users(folder, users):
    """A SASL users Secret volume: one file per user holding the password."""
    os.makedirs(folder, exist_ok=True)
    for u, pw in users.items():
        with open(os.path.join(folder, u), "w") as f:
            f.write(pw)
    return folder


def java_client_config(pod, path, user=None, password=None, protocol="PLAINTEXT"):
    """Java client properties to reach pod's listeners from the client namespace, built from
    kpa-init's outputs (ca.pem, keystore.p12, store.password) the way an application would."""
    kpa = os.path.join(pod.root, "kpa")
    lines = [f"security.protocol={protocol}"]
    if "SSL" in protocol:
        lines += ["ssl.truststore.type=PEM", f"ssl.truststore.location={kpa}/ca.pem"]
        sp = os.path.join(kpa, "store.password")
        if os.path.exists(os.path.join(kpa, "keystore.p12")) and os.path.exists(sp):
            with open(sp) as f:
                pw = f.read().strip()
            lines += ["ssl.keystore.type=PKCS12", f"ssl.keystore.location={kpa}/keystore.p12",
                      f"ssl.keystore.password={pw}", f"ssl.key.password={pw}"]
    if "SASL" in protocol:
        esc = password.replace("\\", "\\\\").replace('"', '\\"')
        lines += ["sasl.mechanism=PLAIN",
                  "sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule "
                  f'required username="{user}" password="{esc}";']
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    os.chmod(path, 0o600)
    return path


class NodePort:
    """kube-proxy's NodePort, emulated: HOST_IP:port forwards each TCP connection to
    target_ip:target_port. Runs as threads of the harness; closed with the Env."""

    def __init__(self, env, port, target_ip, target_port):
        import socket
        self.target = (target_ip, target_port)
        self.ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.ls.bind((HOST_IP, port))
        self.ls.listen(64)
        self.closed = False
        self.conns = []
        env.procs.append(self)
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        import socket
        while not self.closed:
            try:
                c, _ = self.ls.accept()
            except OSError:
                return
            try:
                u = socket.create_connection(self.target, timeout=5)
                u.settimeout(None)
            except OSError:
                c.close()
                continue
            self.conns += [c, u]
            for a, b in ((c, u), (u, c)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(a, b):
        import socket
        try:
            while True:
                d = a.recv(65536)
                if not d:
                    break
                b.sendall(d)
        except OSError:
            pass
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        # Each direction's thread closes the socket it read from; the other one closes the
        # socket it wrote to when its own read ends.
        a.close()

    def kill_group(self):
        self.closed = True
        self.ls.close()
        for c in self.conns:
            c.close()


def figure(name, **values):
    """Records a measured figure: printed, and appended to $KPA_KAFKA_FIGURES (default
    build/kafka-figures.jsonl) with the Kafka version, for README and the closing note."""
    rec = dict(name=name, version=kafka_version(), **values)
    log("FIGURE " + json.dumps(rec))
    path = os.environ.get("KPA_KAFKA_FIGURES", os.path.join(REPO, "build", "kafka-figures.jsonl"))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "a") as f:
        f.write(json.dumps(rec) + "\n")


class Poller:
    """Polls one agent path every interval seconds, as the kubelet does, on a thread; keeps
    (monotonic time, status, body) of every answer."""

    def __init__(self, pod, path, interval=0.1, timeout=2.0):
        self.samples = []
        self.stopped = threading.Event()
        self.lock = threading.Lock()
        self.pod, self.path, self.interval, self.timeout = pod, path, interval, timeout
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        while not self.stopped.is_set():
            t = time.monotonic()
            code, body = self.pod.get(self.path, self.timeout)
            with self.lock:
                self.samples.append((t, code, body))
            self.stopped.wait(max(0.0, self.interval - (time.monotonic() - t)))

    def first(self, pred, after=0.0):
        """The first sample at or after `after` for which pred(code, body) holds, or None."""
        with self.lock:
            for s in self.samples:
                if s[0] >= after and pred(s[1], s[2]):
                    return s
        return None

    def wait(self, pred, timeout, what, after=0.0):
        return wait_for(lambda: self.first(pred, after), timeout, what)

    def stop(self):
        self.stopped.set()
        self.t.join(timeout=10)
