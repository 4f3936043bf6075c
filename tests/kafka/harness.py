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
Every Env runs a fake Kubernetes API server (KubeApi) that serves each pod's StatefulSet with
spec.replicas covering every pod made, so kpa-agent's scale-down rule (k8s/base sets
KPA_POD_NAME) sees a restart, as in a real cluster; a test may scale it or make it answer 403.
Kubelet runs a pod's probes, preStop and restarts as the kubelet does; rolling_update drives a
StatefulSet RollingUpdate (gated or naive); Load, verify and MetaWatcher measure what a rollout
does to producers, consumers and the ISR (docs/real-kafka-tests.md).

Clean-up always runs (atexit and SIGTERM/SIGINT): every process group started, every
namespace, link and /etc/netns folder named with PREFIX, the mount points this harness created.
One harness runs at a time (a lock file); a run also removes what a killed run left.
Every wait is bounded and says what it waited for when it gives up.

Environment: KPA_KAFKA_VERSION (default: the newest in tests/kafka/versions), KPA_BUILD_DIR
(kpa-init/kpa-agent; default build/test-plain), KPA_KAFKA_KEEP=1 keeps the work folder.
Needs root (namespaces, mounts), Java 17, kcat; /usr/bin/python3 with PyYAML.
"""
import atexit
import copy
import fcntl
import json
import os
import re
import secrets
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
# Names and addresses of everything the harness makes. Several sessions on one machine each
# set their own (KPA_KAFKA_NET_PREFIX, KPA_KAFKA_SUBNET): runs with different prefixes then
# neither wait for nor touch each other, since leftovers are purged by prefix.
PREFIX = os.environ.get("KPA_KAFKA_NET_PREFIX") or "kpat"
SUBNET = os.environ.get("KPA_KAFKA_SUBNET") or "10.213.0"
HOST_IP = SUBNET + ".1"
CLIENT_IP = SUBNET + ".2"
LOCK = "/run/kpa-kafka-harness.lock" if PREFIX == "kpat" else f"/run/kpa-kafka-harness-{PREFIX}.lock"
# Mount points on the host are shared by every run, whatever its prefix. Removing a folder
# that is a mount point in another mount namespace detaches that mount there (Linux >= 3.18):
# a run that removed them while another ran would pull the volumes from under its brokers. So
# every run holds this lock shared for its whole life, and only a run that can take it
# exclusively at its end removes the mount points any run made (listed in MOUNTPOINTS_MADE).
MOUNTPOINTS_LOCK = "/run/kpa-kafka-mountpoints.lock"
MOUNTPOINTS_MADE = "/run/kpa-kafka-mountpoints"
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


_RENDERED = {}

# Volumes declared by container images (Dockerfile VOLUME): a container runtime mounts an
# anonymous volume at each such path that no volumeMount of the container covers exactly,
# even inside another mounted volume. The apache/kafka image declares these, owned by its
# appuser (1000:0) with mode 0775.
IMAGE_VOLUMES = {"apache/kafka": [("/etc/kafka/secrets", 1000, 0, 0o775),
                                  ("/var/lib/kafka/data", 1000, 0, 0o775),
                                  ("/mnt/shared/config", 1000, 0, 0o775)]}


def image_repository(image):
    """"docker.io/apache/kafka:4.1.1" -> "apache/kafka": without registry host, tag, digest."""
    parts = image.split("@")[0].split("/")
    if len(parts) > 1 and ("." in parts[0] or ":" in parts[0] or parts[0] == "localhost"):
        parts = parts[1:]
    if ":" in parts[-1]:
        parts[-1] = parts[-1].rsplit(":", 1)[0]
    name = "/".join(parts)
    return name[len("library/"):] if name.startswith("library/") else name


def render(kustomization="k8s/base"):
    """`kubectl kustomize` of a kustomization folder (relative to the repository): its objects."""
    if kustomization not in _RENDERED:
        r = run(["kubectl", "kustomize", os.path.join(REPO, kustomization)], timeout=120)
        _RENDERED[kustomization] = [d for d in yaml.safe_load_all(r.stdout) if d]
    # A copy: a test that edits its pod's containers (test_ca_issue renames an env variable)
    # must not change the pods of the suites that run after it in the same process.
    return copy.deepcopy(_RENDERED[kustomization])


def manifest(kustomization="k8s/base", statefulset="kafka"):
    """The rendered StatefulSet, its containers by name, and the ConfigMaps by name."""
    objs = render(kustomization)
    sts = [o for o in objs if o["kind"] == "StatefulSet" and o["metadata"]["name"] == statefulset][0]
    spec = sts["spec"]["template"]["spec"]
    containers = {c["name"]: c for c in spec.get("initContainers", []) + spec["containers"]}
    cms = {o["metadata"]["name"]: o for o in objs if o["kind"] == "ConfigMap"}
    template_cm = [v["configMap"]["name"] for v in spec["volumes"]
                   if v["name"] == "template" and "configMap" in v][0]
    return {"sts": sts, "spec": spec, "containers": containers, "configmaps": cms,
            "configmap": cms[template_cm], "init": containers["kpa-init"],
            "agent": containers["kpa-agent"], "kafka": containers["kafka"]}


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
    """One pod of a rendered StatefulSet: a network namespace, a folder per volume, and its
    containers' processes, each started with the container's own command, args, env,
    volumeMounts, securityContext (runAsUser/runAsGroup/fsGroup, readOnlyRootFilesystem) and
    the image's declared VOLUMEs."""

    def __init__(self, env, sts, ordinal, service=None, extra_env=None, template=None,
                 kustomization="k8s/base", secrets=None, extra_mounts=None, tmpfs=None):
        self.env = env
        self.sts = sts
        self.ordinal = ordinal
        self.name = f"{sts}-{ordinal}"
        self.m = manifest(kustomization)
        self.service = service or f"{sts}-headless"
        self.fqdn = f"{self.name}.{self.service}.{NAMESPACE}.svc.{DOMAIN}"
        self.index = len(env.pods)
        self.ns = f"{PREFIX}{self.index}"
        self.ip = f"{SUBNET}.{10 + self.index}"
        self.node = f"node-{self.index}"
        self.extra_env = dict(extra_env or {})
        self.secrets = dict(secrets or {})
        # (host folder, path): mounted like a Secret volume in every container.
        self.extra_mounts = list(extra_mounts or [])
        self.root = os.path.join(env.work, self.name)
        sc = self.m["spec"].get("securityContext", {})
        self.uid = sc.get("runAsUser", 0)
        self.gid = sc.get("runAsGroup", self.uid)
        self.fs_group = sc.get("fsGroup")
        os.makedirs(self.root, exist_ok=True)
        self.volumes = {}
        for v in self.m["spec"]["volumes"]:
            self.volumes[v["name"]] = self._make_volume(v, template)
        for claim in self.m["sts"]["spec"].get("volumeClaimTemplates", []):
            name = claim["metadata"]["name"]
            self.volumes[name] = self._owned_dir(os.path.join(self.root, "pvc", name))
        # {volume: (folder, bytes)}: a tmpfs of that size mounted at that folder inside the
        # volume (on the host, before any container starts), so that a log dir there fills
        # up like a small disk. Every container mounting the volume sees it (--rbind).
        self.tmpfs = dict(tmpfs or {})
        for vol, (folder, size) in self.tmpfs.items():
            path = os.path.join(self.volumes[vol], folder)
            os.makedirs(path, exist_ok=True)
            gid = self.fs_group if self.fs_group is not None else 0
            run(["mount", "-t", "tmpfs", "-o", f"size={int(size)},mode=2775,uid=0,gid={gid}",
                 f"{PREFIX}-tmpfs", path])
            env.tmpfs_mounts.append(path)
        self.broker = None
        self.agent = None
        self.agent_port = 8080
        # The Kafka jars the broker container mounts at /opt/kafka/libs (None: the Env's
        # release). A rolling upgrade sets it per pod (Kubelet.restart_pod(lib=...)).
        self.lib = None
        env.pods.append(self)
        env.netns_add(self.ns, self.ip)
        # Its StatefulSet, as the API server serves it, holds this pod: a stop is a restart.
        if env.kube_api:
            env.kube_api.cover(sts, ordinal)

    def _owned_dir(self, path):
        """A folder as the kubelet hands over an emptyDir or a fresh PersistentVolume with
        fsGroup: group fsGroup, setgid, group-writable."""
        os.makedirs(path, exist_ok=True)
        if self.fs_group is not None:
            os.chown(path, 0, self.fs_group)
            os.chmod(path, 0o2775)
        return path

    def _secret_volume(self, path, source, mode):
        """A Secret volume as the kubelet's atomic writer lays it out: the files in a
        ..<timestamp> folder, ..data pointing at it, and one symlink per key through ..data;
        files mode defaultMode (0644) and group fsGroup."""
        os.makedirs(path, exist_ok=True)
        stamp = "..2026_11_30_00_00_00.000000001"
        data = os.path.join(path, stamp)
        os.makedirs(data, exist_ok=True)
        for key in sorted(os.listdir(source)):
            src = os.path.join(source, key)
            if key.startswith(".") or not os.path.isfile(src):
                continue
            shutil.copyfile(src, os.path.join(data, key))
            os.chmod(os.path.join(data, key), mode)
            if self.fs_group is not None:
                os.chown(os.path.join(data, key), 0, self.fs_group)
            if not os.path.lexists(os.path.join(path, key)):
                os.symlink(os.path.join("..data", key), os.path.join(path, key))
        if not os.path.lexists(os.path.join(path, "..data")):
            os.symlink(stamp, os.path.join(path, "..data"))
        return path

    def _make_volume(self, v, template):
        path = os.path.join(self.root, "vol", v["name"])
        if "emptyDir" in v:
            return self._owned_dir(path)
        if "configMap" in v:
            data = dict(self.m["configmaps"][v["configMap"]["name"]]["data"])
            if template is not None and "server.properties" in data:
                data["server.properties"] = template
            os.makedirs(path, exist_ok=True)
            items = v["configMap"].get("items") or [{"key": k, "path": k} for k in data]
            for it in items:
                with open(os.path.join(path, it["path"]), "w") as f:
                    f.write(data[it["key"]])
            return path
        if "secret" in v:
            name = v["secret"]["secretName"]
            if name not in self.secrets:
                raise RuntimeError(f"pod {self.name} mounts Secret {name}: give it to the harness (secrets=)")
            return self._secret_volume(path, self.secrets[name], v["secret"].get("defaultMode", 0o644))
        if "projected" in v:
            # The service-account token and the cluster CA: the Env's fake API server's
            # (KubeApi), as the kubelet mounts the real ones.
            os.makedirs(path, exist_ok=True)
            api = self.env.kube_api
            for f, text in (("token", api.token if api else ""), ("ca.crt", api.ca if api else ""),
                            ("namespace", NAMESPACE)):
                with open(os.path.join(path, f), "w") as out:
                    out.write(text)
            return path
        raise RuntimeError(f"volume {v['name']}: kind not emulated by the harness")

    def container(self, name):
        return self.m["containers"][name]

    def mount_args(self, c):
        """podexec options for container c: its volumeMounts, the image's VOLUMEs not covered
        by one, the kpa binaries, readOnlyRootFilesystem, the user."""
        args = ["--hostname", self.name]
        mounts = []
        for vm in c.get("volumeMounts", []):
            src = self.volumes[vm["name"]]
            if vm.get("subPath"):
                src = os.path.join(src, vm["subPath"])
            mounts.append((src, vm["mountPath"], vm.get("readOnly", False), vm["name"] in self.tmpfs))
        for i, (src, dst) in enumerate(self.extra_mounts):
            vol = os.path.join(self.root, "vol", f"extra-{i}")
            if not os.path.isdir(vol):
                self._secret_volume(vol, src, 0o644)
            mounts.append((vol, dst, True, False))
        image = image_repository(c["image"])
        covered = {m[1] for m in mounts}
        for i, (path, uid, gid, mode) in enumerate(IMAGE_VOLUMES.get(image, [])):
            if path not in covered:
                anon = os.path.join(self.root, "anon", c["name"], str(i))
                if not os.path.isdir(anon):
                    os.makedirs(anon)
                    os.chown(anon, uid, gid)
                    os.chmod(anon, mode)
                mounts.append((anon, path, False, False))
        # The image's own files first: their sources (the build, the repository's stand-in
        # scripts) may live under a path a volume covers next, e.g. a checkout under /tmp and
        # the kafka container's emptyDir at /tmp.
        if image.endswith("kpa") or os.path.basename(image).startswith("kpa"):
            args += ["--kpa-bin", build_dir()]
        else:
            self.env.mountpoint("/opt/kafka/bin")
            self.env.mountpoint("/opt/kafka/libs")
            args += ["--bind-ro", BIN, "/opt/kafka/bin", "--bind-ro", self.lib or self.env.lib, "/opt/kafka/libs"]
        # Parents first, so a mount inside another mounted volume lands on top of it.
        mounts.sort(key=lambda m: m[1].count("/"))
        done = []
        for src, dst, ro, rec in mounts:
            # A mount point inside a volume mounted before is made in that volume (as the
            # container runtime does), otherwise on the host.
            outer = [(s, d) for s, d in done if dst.startswith(d.rstrip("/") + "/")]
            if outer:
                s_, d_ = max(outer, key=lambda m: len(m[1]))
                os.makedirs(os.path.join(s_, os.path.relpath(dst, d_)), exist_ok=True)
            else:
                self.env.mountpoint(dst)
            done.append((src, dst))
            args += [("--rbind" if rec else "--bind") + ("-ro" if ro else ""), src, dst]
        sc = c.get("securityContext", {})
        if sc.get("readOnlyRootFilesystem"):
            args.append("--ro-root")
        uid = sc.get("runAsUser", self.uid)
        gid = sc.get("runAsGroup", self.gid)
        groups = [gid] + ([self.fs_group] if self.fs_group is not None else [])
        args += ["--user", f"{uid}:{gid}:{','.join(str(g) for g in groups)}"]
        return args

    def argv(self, cmd, container="kpa-agent", as_root=False):
        """cmd run inside this pod, as container `container` sees it."""
        opts = self.mount_args(self.container(container))
        if as_root:
            i = opts.index("--user")
            opts = opts[:i] + opts[i + 2:]
        return ["ip", "netns", "exec", self.ns, "unshare", "-m", "-u", "--propagation", "private",
                os.path.join(HERE, "podexec")] + opts + ["--"] + cmd

    def container_env(self, c):
        """A container's env with the downward API and ConfigMap references resolved."""
        downward = {"metadata.name": self.name, "metadata.namespace": NAMESPACE,
                    "status.podIP": self.ip, "status.hostIP": HOST_IP, "spec.nodeName": self.node}
        e = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
             "HOSTNAME": self.name, "LANG": "C.UTF-8"}
        for k in ("JAVA_HOME", "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
            if k in os.environ:
                e[k] = os.environ[k]
        # Kubernetes gives every container the API server's address.
        if self.env.kube_api:
            e["KUBERNETES_SERVICE_HOST"] = self.env.kube_api.host
            e["KUBERNETES_SERVICE_PORT"] = str(self.env.kube_api.port)
        for v in c.get("env", []):
            if "value" in v:
                e[v["name"]] = v["value"]
            elif "fieldRef" in v.get("valueFrom", {}):
                e[v["name"]] = downward[v["valueFrom"]["fieldRef"]["fieldPath"]]
            elif "configMapKeyRef" in v.get("valueFrom", {}):
                ref = v["valueFrom"]["configMapKeyRef"]
                e[v["name"]] = self.m["configmaps"][ref["name"]]["data"][ref["key"]]
        return e

    def base_env(self):
        return self.container_env({"env": []})

    def init_env(self):
        e = self.container_env(self.container("kpa-init"))
        e["KPA_HEADLESS_SERVICE"] = self.service
        e.update(self.extra_env)
        return e

    def run_init(self, check=True):
        c = self.container("kpa-init")
        r = run(self.argv(c["command"] + c.get("args", []), "kpa-init"), check=False,
                env=self.init_env(), timeout=60)
        if check and r.returncode != 0:
            raise RuntimeError(f"kpa-init for {self.name} exited {r.returncode}: {r.stderr.strip()}")
        return r

    @property
    def kpa_dir(self):
        """kpa-init's output folder (the volume kpa-init mounts at KPA_OUTPUT_DIR)."""
        out = self.init_env().get("KPA_OUTPUT_DIR", "/etc/kafka/kpa")
        for vm in self.container("kpa-init")["volumeMounts"]:
            if vm["mountPath"] == out:
                return self.volumes[vm["name"]]
        raise RuntimeError(f"no volume is mounted at {out} in kpa-init")

    def props(self, name="server.properties"):
        out = {}
        with open(os.path.join(self.kpa_dir, name)) as f:
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
        """The kafka container, as the rendered StatefulSet runs it."""
        c = self.container("kafka")
        e = self.container_env(c)
        e["KAFKA_HEAP_OPTS"] = TEST_HEAP
        e["KAFKA_JVM_PERFORMANCE_OPTS"] = TEST_JVM
        self.broker = Proc(self.env, f"{self.name}/kafka",
                           self.argv(c["command"] + c.get("args", []), "kafka"),
                           os.path.join(self.root, "broker.log"), e)
        return self.broker

    def agent_args(self, overrides=None):
        """The kpa-agent sidecar's args; overrides replace flags by name (None removes)."""
        args = list(self.container("kpa-agent").get("args", []))
        for flag, value in (overrides or {}).items():
            args = [a for a in args if a.split("=", 1)[0] != flag]
            if value is not None:
                args.append(f"{flag}={value}")
        return args

    def start_agent(self, overrides=None):
        c = self.container("kpa-agent")
        e = self.container_env(c)
        self.agent = Proc(self.env, f"{self.name}/kpa-agent",
                          self.argv(c["command"] + self.agent_args(overrides), "kpa-agent"),
                          os.path.join(self.root, "agent.log"), e)
        return self.agent

    def get(self, path, timeout=5.0):
        return http_get(f"http://{self.ip}:{self.agent_port}{path}", timeout)

    def hook(self, kind):
        """The kafka container's probe or preStop as the manifest declares it: "readiness",
        "liveness", "startup" or "prestop" -> (path, port, periodSeconds, timeoutSeconds,
        failureThreshold). The agent's own port must be the one the probes name."""
        c = self.container("kafka")
        spec = c["lifecycle"]["preStop"] if kind == "prestop" else c[f"{kind}Probe"]
        if "exec" in spec:
            # kpa-probe.sh MODE HOST:PORT asks kpa-agent's /livez (with the process's age), or
            # as the preStop hook (MODE prestop) its /prestop.
            cmd = spec["exec"]["command"]
            script = [a for a in cmd if a.endswith("kpa-probe.sh")]
            if not script or len(cmd) < cmd.index(script[0]) + 3:
                raise RuntimeError(f"{kind} of the kafka container is an exec probe other than kpa-probe.sh: {cmd}")
            i = cmd.index(script[0])
            get = {"path": "/prestop" if cmd[i + 1] == "prestop" else "/livez",
                   "port": int(cmd[i + 2].rsplit(":", 1)[1])}
        else:
            get = spec["httpGet"]
        if get["port"] != self.agent_port:
            raise RuntimeError(f"{kind} of the kafka container goes to port {get['port']}, "
                               f"not kpa-agent's {self.agent_port}")
        return (get["path"], get["port"], spec.get("periodSeconds", 10),
                spec.get("timeoutSeconds", 1), spec.get("failureThreshold", 3))

    def path(self, kind):
        return self.hook(kind)[0]

    def probe_exec(self, kind, timeout=None):
        """Runs the kafka container's exec probe `kind` ("startup", "liveness") once, inside
        the container as the kubelet does: (exit code, output)."""
        c = self.container("kafka")
        spec = c[f"{kind}Probe"]
        r = run(self.argv(spec["exec"]["command"], "kafka"), check=False,
                timeout=timeout or spec.get("timeoutSeconds", 1) + 10, env=self.container_env(c))
        return r.returncode, (r.stdout + r.stderr).strip()

    def status(self):
        code, body = self.get("/status")
        return json.loads(body) if code == 200 else None

    def prestop_async(self, timeout=200):
        """GET /prestop on a thread, as the kubelet's preStop hook (kpa-probe.sh prestop) asks
        it: (thread, result); result gets code, body and the monotonic time of the answer."""
        result = {}

        def go():
            result["code"], result["body"] = self.get(self.path("prestop"), timeout=timeout)
            result["at"] = time.monotonic()
        t = threading.Thread(target=go, daemon=True)
        t.start()
        return t, result

    def agent_check(self, extra=None):
        """`kpa-agent check` in the sidecar container with its config files: (rc, JSON)."""
        c = self.container("kpa-agent")
        args = [a for a in self.agent_args() if a.split("=", 1)[0] in
                ("--broker-config", "--client-config")]
        r = run(self.argv(c["command"] + ["check"] + args + (extra or []), "kpa-agent"),
                check=False, env=self.container_env(c), timeout=60)
        try:
            return r.returncode, json.loads(r.stdout)
        except json.JSONDecodeError:
            return r.returncode, {"raw": r.stdout, "stderr": r.stderr}

    def wait_ready(self, timeout=90):
        return wait_for(lambda: self.get(self.path("readiness"))[0] == 200, timeout,
                        f"{self.name} {self.path('readiness')} 200")

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
        self.kubelets = []
        self.netns = []
        self.made_mountpoints = []
        self.tmpfs_mounts = []
        # The fake Kubernetes API server (KubeApi): its address, token and CA for the pods.
        self.kube_api = None
        self.closed = False
        self.mplock = open(MOUNTPOINTS_LOCK, "a")
        fcntl.flock(self.mplock, fcntl.LOCK_SH)
        self.lockf = open(LOCK, "w")
        try:
            fcntl.flock(self.lockf, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log(f"waiting for another real-Kafka harness run ({LOCK})")
            fcntl.flock(self.lockf, fcntl.LOCK_EX)
        purge_leftovers()
        # Not under /tmp: the kafka container mounts an emptyDir over /tmp. Traversable by the
        # pods' non-root users (the manifests' runAsUser).
        self.work = tempfile.mkdtemp(prefix="kpa-kafka-", dir="/var/tmp")
        os.chmod(self.work, 0o755)
        atexit.register(self.close)
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._on_signal)
        run(["ip", "link", "add", f"{PREFIX}br", "type", "bridge"])
        run(["ip", "addr", "add", f"{HOST_IP}/24", "dev", f"{PREFIX}br"])
        run(["ip", "link", "set", f"{PREFIX}br", "up"])
        self.client_ns = f"{PREFIX}c"
        self.netns_add(self.client_ns, CLIENT_IP)
        try:
            self.kube_api = KubeApi(self)
        except BaseException:
            self.close()
            raise

    def mountpoint(self, path):
        """Makes a missing mount point on the host (a folder, with its missing parents) and
        remembers it for clean-up."""
        missing = []
        p = path
        while not os.path.exists(p):
            missing.append(p)
            p = os.path.dirname(p)
        for m in reversed(missing):
            os.mkdir(m)
            self.made_mountpoints.append(m)
            with open(MOUNTPOINTS_MADE, "a") as f:
                f.write(m + "\n")

    def remove_mountpoints(self):
        """The last run standing removes every mount point a run made (deepest first)."""
        fcntl.flock(self.mplock, fcntl.LOCK_UN)
        try:
            fcntl.flock(self.mplock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.mplock.close()
            return
        try:
            with open(MOUNTPOINTS_MADE) as f:
                made = [line.strip() for line in f if line.strip()]
        except FileNotFoundError:
            made = []
        for m in sorted(set(made), key=lambda p: -p.count("/")):
            try:
                os.rmdir(m)
            except OSError:
                pass
        open(MOUNTPOINTS_MADE, "w").close()
        self.mplock.close()

    def _on_signal(self, signum, frame):
        self.close()
        sys.exit(128 + signum)

    def netns_add(self, ns, ip):
        veth = f"{ns}v"
        run(["ip", "netns", "add", ns])
        self.netns.append(ns)
        # The host end of a previous run's pair outlives its namespace for a moment (the kernel
        # tears a namespace down asynchronously): remove it, and try again, bounded.
        for attempt in range(20):
            r = run(["ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns],
                    check=False)
            if r.returncode == 0:
                break
            if "File exists" not in r.stderr or attempt == 19:
                raise RuntimeError(f"ip link add {veth}: {r.stderr.strip()}")
            subprocess.run(["ip", "link", "del", veth], capture_output=True)
            time.sleep(0.5)
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

    def probe_argv(self, *args, jvm=()):
        return self.client_argv(["java", "-Xmx256m", "-XX:TieredStopAtLevel=1", *jvm, "-cp",
                                 f"{self.probe_classes}:{self.lib}/*", "KafkaProbe"] + list(args))

    def probe(self, *args, timeout=120, check=True, stdin=None):
        """Runs KafkaProbe once in the client namespace; its JSON answer."""
        r = run(self.probe_argv(*args), check=check, timeout=timeout, input=stdin)
        return json.loads(r.stdout.strip().splitlines()[-1]) if r.stdout.strip() else None

    def tool(self, script, *args, timeout=120, check=True):
        """Runs one of Kafka's own tools (tests/kafka/bin) in the client namespace."""
        e = dict(os.environ, KPA_KAFKA_LIB=self.lib, KAFKA_HEAP_OPTS="-Xmx256m",
                 KAFKA_JVM_PERFORMANCE_OPTS="-XX:TieredStopAtLevel=1")
        return run(self.client_argv([os.path.join(BIN, script)] + list(args)), check=check,
                   timeout=timeout, env=e)

    def watcher(self, bootstrap, topics=(), interval_ms=100):
        return Watcher(self, bootstrap, topics, interval_ms)

    def lib_for(self, version):
        """Another release's jars folder (provisioned like the Env's), for Pod.lib in an upgrade."""
        return provision(version)

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
        for k in self.kubelets:
            k.close()
        for p in reversed(self.procs):
            p.kill_group()
        for ns in self.netns:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
            shutil.rmtree(f"/etc/netns/{ns}", ignore_errors=True)
        subprocess.run(["ip", "link", "del", f"{PREFIX}br"], capture_output=True)
        for path in reversed(self.tmpfs_mounts):
            subprocess.run(["umount", "-l", path], capture_output=True)
        self.remove_mountpoints()
        if os.environ.get("KPA_KAFKA_KEEP") == "1":
            log(f"kept {self.work}")
        else:
            shutil.rmtree(self.work, ignore_errors=True)
        self.lockf.close()


def ours(name):
    """Is this a namespace or /etc/netns folder name this harness (with this PREFIX) makes:
    PREFIX followed by a pod index, or by "c" for the client? Another prefix that merely
    starts like ours ("kpat2") is someone else's."""
    rest = name[len(PREFIX):] if name.startswith(PREFIX) else None
    return rest is not None and (rest == "c" or rest.isdigit())


def purge_leftovers():
    """Removes namespaces, links and /etc/netns folders of ours that a killed run left."""
    r = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True)
    for line in r.stdout.splitlines():
        ns = line.split()[0] if line.split() else ""
        if ours(ns):
            pids = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True).stdout.split()
            for pid in pids:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
    subprocess.run(["ip", "link", "del", f"{PREFIX}br"], capture_output=True)
    # The size-limited tmpfs mounts (Pod(tmpfs=...)) of a killed run: named after PREFIX.
    with open("/proc/self/mounts") as f:
        for line in f:
            src, path = line.split()[:2]
            if src == f"{PREFIX}-tmpfs":
                subprocess.run(["umount", "-l", path.replace("\\040", " ")], capture_output=True)
    if os.path.isdir("/etc/netns"):
        for d in os.listdir("/etc/netns"):
            if ours(d):
                shutil.rmtree(os.path.join("/etc/netns", d), ignore_errors=True)


def provision(version):
    r = run([os.path.join(HERE, "provision.sh"), version], timeout=900)
    return r.stdout.strip().splitlines()[-1]


def compile_probe(version, lib):
    """KafkaProbe.java compiled against this release's client, cached by the source's hash:
    checkouts with different KafkaProbe.java share the jars cache without overwriting each
    other's classes. Compiled into a temporary folder, then renamed into place."""
    import hashlib
    src = os.path.join(HERE, "java", "KafkaProbe.java")
    with open(src, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()[:16]
    out = os.path.join(os.path.dirname(lib), f"probe-{digest}")
    if not os.path.exists(os.path.join(out, "KafkaProbe.class")):
        tmp = tempfile.mkdtemp(prefix=f"probe-{digest}.", dir=os.path.dirname(lib))
        run(["javac", "-nowarn", "-cp", f"{lib}/*", "-d", tmp, src], timeout=300)
        try:
            os.rename(tmp, out)
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)   # another run put the same classes there
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


class QuorumWatcher:
    """KafkaProbe quorum-watch: the KRaft leader's DescribeQuorum every interval_ms, straight
    from the controllers (bootstrap.controllers), each answer stamped with time.monotonic().
    An answer is a dict: leader, epoch, hw, voters [{id, leo, age_ms}] (age_ms: how long ago,
    on the leader's clock, the voter was last caught up; -1 never in this epoch); a failed
    poll is {"error": ...}."""

    def __init__(self, env, bootstrap_controller, interval_ms=200, bootstrap=None, command_config=None):
        """bootstrap_controller None: asks through the brokers at bootstrap instead (they
        forward DescribeQuorum to the active controller, so an answer names a leader only while
        the quorum has one), with the Java client properties command_config if given."""
        self.answers = []
        self.lock = threading.Lock()
        to = ["--bootstrap-controller", bootstrap_controller] if bootstrap_controller else ["--bootstrap", bootstrap]
        if command_config:
            to += ["--command-config", command_config]
        argv = env.probe_argv("quorum-watch", *to, "--interval-ms", str(interval_ms))
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
            with self.lock:
                self.answers.append(ev)

    @staticmethod
    def caught_up(ev, bound_ms):
        """The ids of the voters caught up at most bound_ms ago in answer ev."""
        return sorted(v["id"] for v in ev.get("voters", []) if 0 <= v["age_ms"] <= bound_ms)

    def since(self, t):
        with self.lock:
            return [ev for ev in self.answers if ev["at"] >= t]

    def wait(self, pred, timeout, what, after=0.0):
        """Waits for an answer after `after` for which pred(answer) holds; returns it."""
        return wait_for(lambda: next((ev for ev in self.since(after) if "leader" in ev and pred(ev)), None),
                        timeout, what)

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


FAKE_API = os.path.join(REPO, "tests", "init", "fake_apiserver.py")


class KubeApi:
    """The fake Kubernetes API server of an Env (tests/init/fake_apiserver.py): HTTPS with a
    CA of its own on the bridge's host address, one bearer token. Pods get its address
    (KUBERNETES_SERVICE_HOST/PORT), token and CA (the kube-api-access volume) as Kubernetes
    gives them. It serves StatefulSet NAME of NAMESPACE with the spec.replicas in
    statefulsets/NAME; every pod made raises its set's count to cover it (cover), so kpa-agent's
    scale-down rule sees a restart unless a test scales down (scale) or forbids the read."""

    def __init__(self, env):
        self.folder = os.path.join(env.work, "kube-api")
        self.dir = os.path.join(self.folder, "statefulsets")
        os.makedirs(self.dir)
        make_ca(self.folder, "kpa-test-kube-ca")
        with open(os.path.join(self.folder, "ext.cnf"), "w") as f:
            f.write("[leaf]\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
                    f"extendedKeyUsage=serverAuth\nsubjectAltName=IP:{HOST_IP},DNS:kubernetes.default.svc\n")
        openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=kube-apiserver", cwd=self.folder)
        openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
                "-days", "2", "-extfile", "ext.cnf", "-extensions", "leaf", "-out", "server.crt",
                cwd=self.folder)
        with open(os.path.join(self.folder, "ca.crt")) as f:
            self.ca = f.read()
        self.token = "kpa-test-" + secrets.token_hex(16)
        self.log_path = os.path.join(self.folder, "requests.log")
        with open(self.log_path, "w") as log:
            p = subprocess.Popen(["/usr/bin/python3", FAKE_API, "--cert", os.path.join(self.folder, "server.crt"),
                                  "--key", os.path.join(self.folder, "server.key"), "--host", HOST_IP,
                                  "--token", self.token, "--namespace", NAMESPACE, "--replicas-dir", self.dir],
                                 stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                 start_new_session=True)
        env.procs.append(_Adopted(p))
        self.host = HOST_IP
        self.port = wait_for(self._port, 30, "the fake Kubernetes API server to listen")

    def _port(self):
        with open(self.log_path) as f:
            first = f.readline()
        return int(first.split()[1]) if first.startswith("ready ") else None

    def _write(self, name, text):
        path = os.path.join(self.dir, name)
        with open(path + ".tmp", "w") as f:
            f.write(text)
        os.rename(path + ".tmp", path)

    def replicas(self, sts):
        """spec.replicas served for StatefulSet sts, or None (404)."""
        try:
            with open(os.path.join(self.dir, sts)) as f:
                return int(f.read().strip())
        except FileNotFoundError:
            return None

    def cover(self, sts, ordinal):
        """Raises sts's spec.replicas to ordinal + 1 if it is below."""
        if (self.replicas(sts) or 0) <= ordinal:
            self._write(sts, f"{ordinal + 1}\n")

    def scale(self, sts, replicas):
        """Sets sts's spec.replicas, as `kubectl scale` does; the next read sees it."""
        self._write(sts, f"{replicas}\n")

    def forbid(self, on=True):
        """While on, every StatefulSet read is answered 403 (no Role for the service account)."""
        path = os.path.join(self.dir, "forbidden")
        if on:
            open(path, "w").close()
        elif os.path.exists(path):
            os.unlink(path)

    def requests(self):
        """The paths asked so far, in order."""
        with open(self.log_path) as f:
            return [line.split()[1] for line in f if line.startswith("request ")]


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


def make_cert_manager_secret(folder, dns_names, root="kpa-test-root", intermediate="kpa-test-intermediate"):
    """A cert-manager style Secret volume: root CA -> intermediate CA -> leaf. tls.crt holds
    the leaf then the intermediate, tls.key the leaf's PKCS#8 key, ca.crt the root. Other
    names for root and intermediate make another CA (a CA rotation)."""
    os.makedirs(folder, exist_ok=True)
    work = os.path.join(folder, ".work")
    make_ca(work, root)
    ext = os.path.join(work, "ext.cnf")
    with open(ext, "w") as f:
        f.write("[inter]\nbasicConstraints=critical,CA:TRUE,pathlen:0\n"
                "keyUsage=critical,keyCertSign,cRLSign\n"
                "[leaf]\nbasicConstraints=critical,CA:FALSE\n"
                "keyUsage=critical,digitalSignature\n"
                "extendedKeyUsage=serverAuth,clientAuth\n"
                "subjectAltName=" + ",".join(f"DNS:{d}" for d in dns_names) + "\n")
    openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "inter.key", "-out", "inter.csr", "-subj", f"/CN={intermediate}", cwd=work)
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


_stamp = [0]


def swap_secret(volume, source):
    """The kubelet's atomic update of a Secret volume: the new files in a new ..<timestamp>
    folder, a ..data_tmp symlink to it renamed over ..data, the old folder removed."""
    _stamp[0] += 1
    stamp = f"..2026_11_30_01_00_{_stamp[0]:02d}.000000001"
    d = os.path.join(volume, stamp)
    os.makedirs(d)
    for name in os.listdir(source):
        shutil.copyfile(os.path.join(source, name), os.path.join(d, name))
        os.chmod(os.path.join(d, name), 0o644)
    old = os.readlink(os.path.join(volume, "..data"))
    os.symlink(stamp, os.path.join(volume, "..data_tmp"))
    os.rename(os.path.join(volume, "..data_tmp"), os.path.join(volume, "..data"))
    shutil.rmtree(os.path.join(volume, old))


def served_serial(pod, port):
    """The serial of the certificate pod serves on port (a TLS handshake from the pod's
    network namespace, as a client would see it)."""
    r = subprocess.run(["ip", "netns", "exec", pod.ns, "sh", "-c",
                        f"openssl s_client -connect {pod.ip}:{port} -servername {pod.fqdn} </dev/null 2>/dev/null"
                        " | openssl x509 -noout -serial"], capture_output=True, text=True, timeout=60)
    return r.stdout.strip().split("=", 1)[1] if "=" in r.stdout else None


def single_node_template(kustomization):
    """The overlay's server.properties template for one node: replication 1, so
    min.insync.replicas 1."""
    return re.sub(r"(?m)^(min\.insync\.replicas|offsets\.topic\.replication\.factor|"
                  r"transaction\.state\.log\.replication\.factor|default\.replication\.factor)=\d+$",
                  r"\1=1", manifest(kustomization)["configmap"]["data"]["server.properties"])


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
    kpa = pod.kpa_dir
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


# ---------------------------------------------------------------------------------------------
# The kubelet and the StatefulSet controller, emulated for the pods above.


def naive_container(c, port=9092):
    """The kafka container as the popular charts run it: every probe a tcpSocket on the client
    port (the broker "is Ready" the moment its port accepts), and no preStop hook. Timings are
    the manifest's, so only what the probes ask differs from the gated container."""
    c = json.loads(json.dumps(c))
    for kind in ("startupProbe", "livenessProbe", "readinessProbe"):
        if kind in c:
            keep = {k: v for k, v in c[kind].items() if k not in ("httpGet", "tcpSocket", "exec", "grpc")}
            c[kind] = dict(keep, tcpSocket={"port": port})
    c.pop("lifecycle", None)
    return c


class _Container:
    """One container of a Kubelet's pod: its spec (probes, preStop), the Proc running it, and
    the probe state the kubelet keeps for it (started = startupProbe passed, ready)."""

    def __init__(self, kubelet, name, spec, start, sidecar):
        self.k, self.name, self.spec, self.start_fn, self.sidecar = kubelet, name, spec, start, sidecar
        self.proc = None
        self.gen = 0
        self.started = False
        self.ready = False
        self.stopping = False
        self.restarts = 0
        self.started_at = None
        # What the last run of each probe kind printed (exec) or answered (httpGet body).
        self.outputs = {}

    def running(self):
        return self.proc is not None and self.proc.alive() and not self.stopping


class Kubelet:
    """The kubelet (and, in restart_pod, the StatefulSet controller) for one harness Pod.

    It runs the containers' startupProbe, livenessProbe and readinessProbe from the rendered
    manifest (httpGet, tcpSocket, exec; periodSeconds, timeoutSeconds, failureThreshold,
    successThreshold, initialDelaySeconds), liveness and readiness only once the startupProbe
    passed, as the kubelet does; restarts a container whose liveness or startup probe failed
    failureThreshold times (preStop first, then SIGTERM, SIGKILL at the grace period) or that
    exited (restartPolicy Always: at once the first time, then 10 s, 20 s, ... 300 s); and
    records every event with its time.monotonic():

        kl = h.Kubelet(pod)                  # variant "gated": the manifest as shipped
        kl.adopt()                           # pod started by env.start(): probe from now on
        t = kl.wait_ready(120)               # first Ready (readinessProbe) at or after now
        r = kl.restart_pod()                 # a rolling update of this pod, see there
        kl.events                            # [(t, container, event, detail)], e.g.
                                             # (t, "kafka", "ready", True), (t, "kafka", "exit", 143),
                                             # (t, "kafka", "probe-failed", ("liveness", (output, ...)))
        kl.history("kafka", ("running",))    # [(t, event, detail)] of one container
        kl.down_intervals("kafka")           # [(SIGTERM or exit, next start)]; begin="killing"
        kl.stop_container("kafka", "why")    # the kubelet's kill (preStop, SIGTERM, SIGKILL)
        kl.close()                           # stop probing (the Env kills the processes)

    variant "naive" (naive_container): tcpSocket probes on the broker port, no preStop, and
    no kpa-agent sidecar in pods it starts. The variant applies to what the kubelet does from
    then on (set kl.variant, or restart_pod(variant=...)): a naive restart_pod stops the old
    pod without a preStop and starts a pod without the agent. Probe results for a container
    generation that has since been replaced are dropped. One thread per probe; all state under
    kl.cond (a Condition) which is notified on every event."""

    BACKOFF_MAX = 300.0

    def __init__(self, pod, variant="gated", agent_overrides=None):
        if variant not in ("gated", "naive"):
            raise ValueError(f"variant {variant!r}: expected gated or naive")
        self.pod = pod
        self.variant = variant
        self.agent_overrides = agent_overrides
        self.grace = pod.m["spec"].get("terminationGracePeriodSeconds", 30)
        self.cond = threading.Condition()
        self.events = []
        self.closed = False
        self.deleting = False
        self.containers = {}
        self.threads = []
        # The Env's clean-up stops every kubelet before it kills processes: a kubelet still
        # running would start the killed containers again (restartPolicy Always), and they
        # would outlive the run in its namespaces.
        pod.env.kubelets.append(self)
        self._build()

    # -- containers and their probes ------------------------------------------------------

    def _build(self):
        """The containers of the pod the current variant describes (sidecars first)."""
        kafka = self.pod.container("kafka")
        if self.variant == "naive":
            kafka = naive_container(kafka)
        cs = []
        if self.variant == "gated":
            cs.append(_Container(self, "kpa-agent", self.pod.container("kpa-agent"),
                                 lambda: self.pod.start_agent(self.agent_overrides), True))
        cs.append(_Container(self, "kafka", kafka, self.pod.start_broker, False))
        self.containers = {c.name: c for c in cs}
        for c in cs:
            for kind in ("startup", "liveness", "readiness"):
                if f"{kind}Probe" in c.spec:
                    t = threading.Thread(target=self._probe_loop, args=(c, kind), daemon=True)
                    t.start()
                    self.threads.append(t)
            if "startupProbe" not in c.spec:
                c.started = True
            t = threading.Thread(target=self._watch_exits, args=(c,), daemon=True)
            t.start()
            self.threads.append(t)

    def _event(self, container, what, detail=None):
        with self.cond:
            self.events.append((time.monotonic(), container, what, detail))
            self.cond.notify_all()
        log(f"kubelet {self.pod.name}/{container}: {what}" + ("" if detail is None else f" {detail}"))

    def _output(self, c, spec, text):
        """Keeps what a probe said, as the kubelet puts a failed probe's output in the pod's
        events: a test can then tell why a container was restarted."""
        kind = next((k for k in ("startup", "liveness", "readiness") if c.spec.get(f"{k}Probe") is spec), None)
        if kind:
            with self.cond:
                c.outputs[kind] = text.strip()[:500]

    def _probe_once(self, c, spec, timeout):
        import socket
        if "httpGet" in spec:
            g = spec["httpGet"]
            port = self._port(c, g["port"])
            code, body = http_get(f"http://{g.get('host', self.pod.ip)}:{port}{g.get('path', '/')}", timeout)
            self._output(c, spec, f"{code} {body}")
            return 200 <= code < 400
        if "tcpSocket" in spec:
            try:
                socket.create_connection((self.pod.ip, self._port(c, spec["tcpSocket"]["port"])),
                                         timeout=timeout).close()
                return True
            except OSError:
                return False
        if "exec" in spec:
            try:
                r = run(self.pod.argv(spec["exec"]["command"], c.name), check=False, timeout=timeout,
                        env=self.pod.container_env(c.spec))
            except subprocess.TimeoutExpired:
                self._output(c, spec, f"probe timed out after {timeout}s")
                return False
            self._output(c, spec, r.stdout + r.stderr)
            return r.returncode == 0
        raise RuntimeError(f"{c.name}: probe kind not emulated: {sorted(spec)}")

    @staticmethod
    def _port(c, port):
        if isinstance(port, int):
            return port
        for p in c.spec.get("ports", []):
            if p.get("name") == port:
                return p["containerPort"]
        raise RuntimeError(f"{c.name}: no port named {port!r}")

    def _probe_loop(self, c, kind):
        spec = c.spec[f"{kind}Probe"]
        period = spec.get("periodSeconds", 10)
        timeout = spec.get("timeoutSeconds", 1)
        fail_max = spec.get("failureThreshold", 3)
        ok_min = spec.get("successThreshold", 1)
        gen, fails, oks, next_at = None, 0, 0, 0.0
        # The outputs of the failures in a row (the kubelet's event for a restart names them).
        failed_outputs = []
        while True:
            with self.cond:
                while not self.closed and not (
                        c.running() and (c.started if kind != "startup" else not c.started)
                        and self.containers.get(c.name) is c):
                    self.cond.wait(0.5)
                if self.closed or self.containers.get(c.name) is not c:
                    return
                if c.gen != gen:
                    gen, fails, oks = c.gen, 0, 0
                    failed_outputs = []
                    next_at = c.started_at + spec.get("initialDelaySeconds", 0)
                left = next_at - time.monotonic()
                if left > 0:
                    self.cond.wait(left)
                    continue
            t = time.monotonic()
            ok = self._probe_once(c, spec, timeout)
            # The kubelet's probe worker ticks every period; a probe that outlasts it skips ticks.
            next_at = t + period
            while next_at < time.monotonic():
                next_at += period
            with self.cond:
                if c.gen != gen or not c.running():
                    continue
                fails, oks = (0, oks + 1) if ok else (fails + 1, 0)
                failed_outputs = [] if ok else failed_outputs + [c.outputs.get(kind, "")]
                if kind == "startup" and ok:
                    c.started = True
                    self._event(c.name, "started")
                elif kind == "readiness":
                    if ok and not c.ready and oks >= ok_min:
                        c.ready = True
                        self._event(c.name, "ready", True)
                    elif not ok and c.ready and fails >= fail_max:
                        c.ready = False
                        self._event(c.name, "ready", False)
                elif kind in ("startup", "liveness") and not ok and fails >= fail_max:
                    fails = 0
                    threading.Thread(target=self._kill_and_restart, args=(c, kind, gen, tuple(failed_outputs)),
                                     daemon=True).start()
                    failed_outputs = []

    def _kill_and_restart(self, c, why, gen, outputs=()):
        # detail: (probe kind, the outputs of its failures in a row, oldest first).
        self._event(c.name, "probe-failed", (why, outputs))
        self.stop_container(c.name, f"{why} probe failed")
        self._start_container_after_backoff(c, gen)

    def _watch_exits(self, c):
        """restartPolicy Always: a container that exits without being stopped by the kubelet
        is started again, at once the first time and after a doubling back-off later."""
        while True:
            with self.cond:
                while not self.closed and self.containers.get(c.name) is c and not (
                        c.proc is not None and not c.stopping and c.proc.p.poll() is not None):
                    self.cond.wait(0.2)
                if self.closed or self.containers.get(c.name) is not c:
                    return
                gen = c.gen
                c.ready = False
                c.stopping = True
            self._event(c.name, "exit", c.proc.p.returncode)
            c.proc.kill_group()
            self._start_container_after_backoff(c, gen)

    def _start_container_after_backoff(self, c, gen):
        with self.cond:
            if c.gen != gen or self.deleting or self.closed:
                return
            if c.started_at is not None and time.monotonic() - c.started_at > 600:
                c.restarts = 0
            delay = 0.0 if c.restarts == 0 else min(10.0 * 2 ** (c.restarts - 1), self.BACKOFF_MAX)
            c.restarts += 1
            c.stopping = True
            deadline = time.monotonic() + delay
            while not self.closed and time.monotonic() < deadline:
                self.cond.wait(deadline - time.monotonic())
            if self.closed or c.gen != gen or self.deleting:
                return
        self._run_container(c)

    def _run_container(self, c):
        proc = c.start_fn()
        with self.cond:
            c.proc = proc
            c.gen += 1
            c.started = "startupProbe" not in c.spec
            c.ready = False
            c.stopping = False
            c.started_at = time.monotonic()
            self.cond.notify_all()
        self._event(c.name, "running", proc.pid)

    # -- what the tests call ---------------------------------------------------------------

    def adopt(self):
        """Takes over a pod whose containers Env.start() already started: probes from now."""
        now = time.monotonic()
        with self.cond:
            for c in self.containers.values():
                c.proc = self.pod.agent if c.name == "kpa-agent" else self.pod.broker
                c.gen += 1
                c.started_at = now
            self.cond.notify_all()
        return self

    def ready(self, container="kafka"):
        with self.cond:
            return self.containers[container].ready

    def history(self, container="kafka", whats=None, after=0.0):
        """The events of `container` at or after `after`, of the kinds `whats` (default all):
        [(time, event, detail)], a copy."""
        with self.cond:
            return [(t, w, d) for t, n, w, d in self.events
                    if n == container and t >= after and (whats is None or w in whats)]

    def down_intervals(self, container="kafka", after=0.0, begin="sigterm"):
        """When `container` was down: [(from, to)], from the kubelet's kill or the container's
        exit (a crash) to the next start of its process; `to` is None while it is still down.
        begin: "sigterm" (the process is signalled) or "killing" (the kubelet decided to stop
        it: its preStop hook runs first)."""
        if begin not in ("sigterm", "killing"):
            raise ValueError(f"begin {begin!r}: expected sigterm or killing")
        out, since = [], None
        for t, w, _ in self.history(container, (begin, "exit", "running"), after):
            if w in (begin, "exit") and since is None:
                since = t
            elif w == "running" and since is not None:
                out.append((since, t))
                since = None
        return out + ([(since, None)] if since is not None else [])

    def wait_ready(self, timeout, after=None, container="kafka"):
        """The time of the first Ready of `container` at or after `after` (default: now, or at
        once if it is Ready now). Bounded; says what it waited for."""
        deadline = time.monotonic() + timeout
        with self.cond:
            if after is None:
                if self.containers[container].ready:
                    return time.monotonic()
                after = time.monotonic()
            while True:
                for t, name, what, detail in self.events:
                    if t >= after and name == container and what == "ready" and detail is True:
                        return t
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"timed out after {timeout}s waiting for {self.pod.name}/{container} "
                                       f"to be Ready by its readinessProbe")
                self.cond.wait(min(left, 0.5))

    def _prestop(self, c, budget):
        """The container's preStop hook, bounded by budget seconds: (seconds, result). result:
        (status, body) of an httpGet hook; (exit code, stdout) of an exec hook, e.g. the
        manifest's kpa-probe.sh prestop: (0, "safe to stop: ...")."""
        hook = c.spec.get("lifecycle", {}).get("preStop")
        if not hook:
            return 0.0, None
        t = time.monotonic()
        if "httpGet" in hook:
            g = hook["httpGet"]
            code, body = http_get(f"http://{g.get('host', self.pod.ip)}:{self._port(c, g['port'])}"
                                  f"{g.get('path', '/')}", timeout=max(budget, 0.1))
            result = (code, body.strip()[:200])
        elif "exec" in hook:
            try:
                r = run(self.pod.argv(hook["exec"]["command"], c.name), check=False,
                        timeout=max(budget, 0.1), env=self.pod.container_env(c.spec))
                result = (r.returncode, r.stdout.strip()[:200])
            except subprocess.TimeoutExpired:
                result = (None, "preStop exec hook ran out of the grace period")
        else:
            raise RuntimeError(f"{c.name}: preStop kind not emulated: {sorted(hook)}")
        return time.monotonic() - t, result

    def stop_container(self, name, reason="stopped by the test", grace=None):
        """The kubelet's kill of one container: its preStop hook (bounded by the grace period),
        SIGTERM, and SIGKILL if it has not exited when the grace period ends (at least 2 s after
        the hook, as the kubelet grants). Returns {prestop_s, prestop, exit_code, killed,
        stop_s, exited_at}. The container is not started again by this call."""
        c = self.containers[name]
        grace = self.grace if grace is None else grace
        with self.cond:
            c.stopping = True
            was_ready, c.ready = c.ready, False
            proc = c.proc
        if was_ready:
            self._event(name, "ready", False)
        self._event(name, "killing", reason)
        t0 = time.monotonic()
        out = {"prestop_s": 0.0, "prestop": None, "exit_code": None, "killed": False}
        if proc is None or proc.p.poll() is not None:
            out.update(exit_code=None if proc is None else proc.p.returncode, stop_s=0.0, exited_at=t0)
            return out
        out["prestop_s"], out["prestop"] = self._prestop(c, grace)
        if out["prestop"] is not None:
            self._event(name, "prestop-done", out["prestop"])
        left = max(grace - (time.monotonic() - t0), 2.0)
        proc.send(signal.SIGTERM)
        self._event(name, "sigterm")
        try:
            out["exit_code"] = proc.p.wait(timeout=left)
        except subprocess.TimeoutExpired:
            proc.send(signal.SIGKILL)
            out["killed"] = True
            self._event(name, "sigkill", "grace period over")
            out["exit_code"] = proc.p.wait(timeout=30)
        out["exited_at"] = time.monotonic()
        out["stop_s"] = out["exited_at"] - t0
        proc.kill_group()
        self._event(name, "exited", out["exit_code"])
        return out

    def delete_pod(self):
        """What a pod deletion does: the main container stops (preStop, SIGTERM, grace), then
        the sidecars in reverse order (SIGTERM; the kpa-agent process of an adopted pod too,
        whatever the variant). Returns the kafka container's stop_container() answer."""
        with self.cond:
            self.deleting = True
        out = self.stop_container("kafka", "pod deleted")
        if "kpa-agent" in self.containers:
            self.stop_container("kpa-agent", "pod deleted (sidecar, after the main container)")
        elif self.pod.agent is not None and self.pod.agent.alive():
            self.pod.agent.stop(signal.SIGTERM, timeout=30)
        return out

    def _fresh_emptydirs(self):
        """A new pod gets new emptyDirs (kpa-init's output, /tmp, logs); the PVC stays."""
        for v in self.pod.m["spec"]["volumes"]:
            if "emptyDir" in v:
                path = self.pod.volumes[v["name"]]
                for entry in os.listdir(path):
                    full = os.path.join(path, entry)
                    if os.path.isdir(full) and not os.path.islink(full):
                        shutil.rmtree(full)
                    else:
                        os.unlink(full)

    def start_pod(self, lib=None, sidecar_timeout=60):
        """A new pod from the current variant, on the same PVC: fresh emptyDirs, kpa-init to
        completion, the kpa-agent sidecar until its startupProbe passed (the kubelet starts
        the next container only then), then the kafka container. lib: the Kafka jars folder
        for this pod's broker (an upgrade), kept for later restarts."""
        with self.cond:
            self.deleting = False
            old = list(self.containers.values())
            self.containers = {}
            self.cond.notify_all()
        for c in old:
            if c.proc is not None and c.proc.alive():
                raise RuntimeError(f"{self.pod.name}/{c.name} still runs: delete_pod() first")
        self._build()
        if lib is not None:
            self.pod.lib = lib
        self._fresh_emptydirs()
        self.pod.run_init()
        self._event("kpa-init", "completed")
        for c in self.containers.values():
            self._run_container(c)
            if c.sidecar:
                with self.cond:
                    deadline = time.monotonic() + sidecar_timeout
                    while not c.started:
                        left = deadline - time.monotonic()
                        if left <= 0:
                            raise TimeoutError(f"{self.pod.name}/{c.name}: startupProbe did not pass "
                                               f"in {sidecar_timeout}s")
                        self.cond.wait(min(left, 0.5))
        return self

    def start_container(self, name):
        """Starts one container of the pod again (after stop_container), as a restart."""
        self._run_container(self.containers[name])

    def restart_pod(self, variant=None, lib=None, ready_timeout=300, hook=None):
        """One pod's step of a StatefulSet rolling update: delete_pod() (the preStop hook,
        kpa-probe.sh asking /prestop, bounded by terminationGracePeriodSeconds, SIGTERM, exit or SIGKILL at the
        grace end, then the sidecar), start_pod() (kpa-init again, agent, broker) and wait
        until Ready by the readinessProbe. variant: "gated" or "naive" for both the old
        pod's stop and the new pod (default: the Kubelet's). Returns the delete_pod() answer
        plus started_at (new broker process), ready_at, down_s (exit to Ready) and total_s.
        hook(phase, kubelet, out), if given, is called at "stopped" (the old pod is gone) and
        "started" (the new broker process runs); a fault injector may act there."""
        t0 = time.monotonic()
        if variant is not None and variant != self.variant:
            if variant not in ("gated", "naive"):
                raise ValueError(f"variant {variant!r}: expected gated or naive")
            with self.cond:
                self.variant = variant
                kafka = self.pod.container("kafka")
                self.containers["kafka"].spec = naive_container(kafka) if variant == "naive" else kafka
        out = self.delete_pod()
        if hook:
            hook("stopped", self, out)
        self.start_pod(lib=lib)
        out["started_at"] = self.containers["kafka"].started_at
        if hook:
            hook("started", self, out)
        out["ready_at"] = self.wait_ready(ready_timeout, after=out["started_at"])
        out["down_s"] = out["ready_at"] - out["exited_at"]
        out["total_s"] = out["ready_at"] - t0
        return out

    def close(self):
        with self.cond:
            self.closed = True
            self.cond.notify_all()


def rolling_update(kubelets, mode, hook=None, libs=None, ready_timeout=300):
    """A StatefulSet RollingUpdate (podManagementPolicy Parallel) over the pods of `kubelets`,
    highest ordinal first: each pod gets Kubelet.restart_pod(mode), and the next pod is
    deleted only once this one is Ready by its readinessProbe.

    mode: "gated" (the manifest: kpa-agent's /readyz, /startup and /prestop) or "naive"
    (naive_container: tcpSocket probes, no preStop, no agent). hook(phase, kubelet, info) is
    called at "before" (info None), "stopped", "started" (restart_pod's) and "ready" (info:
    the pod's step) for each pod; it may inject faults, or start a thread that does.
    libs: a Kafka jars folder for every updated pod (an upgrade; see Env.lib_for), or
    {pod name: folder}. Returns {"wall_s", "steps": [restart_pod() answer + "pod"]}."""
    t0 = time.monotonic()
    steps = []
    for kl in sorted(kubelets, key=lambda k: -k.pod.ordinal):
        lib = libs.get(kl.pod.name) if isinstance(libs, dict) else libs
        if hook:
            hook("before", kl, None)
        log(f"rolling update ({mode}): {kl.pod.name}")
        step = kl.restart_pod(variant=mode, lib=lib, ready_timeout=ready_timeout, hook=hook)
        step["pod"] = kl.pod.name
        steps.append(step)
        if hook:
            hook("ready", kl, step)
    return {"wall_s": time.monotonic() - t0, "steps": steps}


class Load:
    """KafkaProbe load in the client namespace: `rate` records/s of `size` bytes, round-robin
    over every partition of `topics`, acks=all and idempotent, until stop(). Every
    acknowledged record is kept (topic, partition, offset, sequence number, CRC-32 of the
    value); retried produce errors are counted by Kafka error code from the producer's own
    log lines, final failures from its callbacks; a tail consumer measures delivery stalls
    (a partition whose next record arrives more than stall_ms after the one before).

        load = h.Load(env, bootstrap, ["t1", "t2"], rate=200, size=1000)
        ...                                   # roll, inject faults
        s = load.stop()                       # {sent, acked, failed: {CODE: n},
                                              #  retried: {CODE: n}, stall: {...}}
        v = h.verify(env, bootstrap, topics, load.acked_path)   # lost, order, count
    """

    RETRIED = None

    def __init__(self, env, bootstrap, topics, rate=200, size=1000, stall_ms=1000, name="load",
                 command_config=None):
        import re
        Load.RETRIED = re.compile(r"retrying \(\d+ attempts left\)\. Error: (\w+)")
        self.acked_path = os.path.join(env.work, f"{name}.acked")
        self.err_path = os.path.join(env.work, f"{name}.stderr")
        argv = env.probe_argv("load", "--bootstrap", bootstrap, "--acked", self.acked_path,
                              "--rate", str(rate), "--size", str(size), "--stall-ms", str(stall_ms),
                              *(["--command-config", command_config] if command_config else []),
                              *topics, jvm=[f"-Dlog4j2.configurationFile={os.path.join(HERE, 'java', 'load-log4j2.properties')}"])
        self.errf = open(self.err_path, "w")
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.errf,
                                  start_new_session=True, text=True)
        env.procs.append(_Adopted(self.p))
        import select
        ready, _, _ = select.select([self.p.stdout], [], [], 120)
        line = self.p.stdout.readline() if ready else "(nothing within 120 s)"
        if not line.startswith('{"started"'):
            self.p.kill()
            raise RuntimeError(f"KafkaProbe load did not start: {line!r}")
        self.partitions = json.loads(line)["started"]

    def stop(self, timeout=330):
        """Closes the producer's stdin: it stops sending, flushes (bounded by its delivery
        timeout) and reports."""
        out, _ = self.p.communicate(timeout=timeout)
        self.errf.close()
        if self.p.returncode != 0:
            raise RuntimeError(f"KafkaProbe load exited {self.p.returncode}; see {self.err_path}")
        s = json.loads(out.strip().splitlines()[-1])
        retried = {}
        with open(self.err_path) as f:
            for line in f:
                m = Load.RETRIED.search(line)
                if m:
                    retried[m.group(1)] = retried.get(m.group(1), 0) + 1
        s["retried"] = retried
        return s


def _records(path):
    out = {}
    with open(path) as f:
        for line in f:
            t, p, o, seq, crc = line.split()
            out[(t, int(p), int(o))] = (int(seq), int(crc))
    return out


def verify(env, bootstrap, topics, acked_path, command_config=None):
    """Reads every partition of topics back (KafkaProbe dump) and accounts for every
    acknowledged record: {acked, read, lost (missing or changed), misordered (partitions whose
    log does not hold strictly increasing sequence numbers: a reorder or a duplicate)}."""
    out_path = acked_path + ".read"
    env.probe("dump", "--bootstrap", bootstrap, "--out", out_path,
              *(["--command-config", command_config] if command_config else []), *topics, timeout=300)
    acked, read = _records(acked_path), _records(out_path)
    lost = sum(1 for k, v in acked.items() if read.get(k) != v)
    last, misordered = {}, set()
    for (t, p, o) in sorted(read):
        seq = read[(t, p, o)][0]
        if (t, p) in last and seq <= last[(t, p)]:
            misordered.add((t, p))
        last[(t, p)] = seq
    return {"acked": len(acked), "read": len(read), "lost": lost, "misordered": len(misordered)}


class MetaWatcher:
    """Partition state (leader, ISR) polled every interval seconds with a Metadata request
    sent to ONE broker, chosen with via(pod) (a broker not being rolled), over a connection
    of its own: unlike the AdminClient, which sends to any broker it likes, it never asks the
    broker being stopped. Records under-min-ISR (leader known, ISR smaller than min_isr) and
    offline (no leader) episodes per partition, and the longest time without an answer (a
    watcher that went blind must fail the test, not hide an episode).

        w = h.MetaWatcher(pods[0], topics, min_isr=2)
        w.via(pods[2]); ...; s = w.summary(); w.stop()
    """

    def __init__(self, pod, topics, min_isr=2, interval=0.1):
        self.topics, self.min_isr, self.interval = list(topics), min_isr, interval
        self.cond = threading.Condition()
        self.target = pod
        self.state = {}            # (topic, partition) -> (leader, replicas, isr)
        self.open = {}             # (kind, topic, partition) -> start
        self.episodes = []         # (kind, topic, partition, start, end)
        self.history = []          # (time, state) at every change
        self.polls = 0
        self.last_ok = None
        self.max_gap = 0.0
        self.errors = 0
        self.stopped = False
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def via(self, pod):
        with self.cond:
            self.target = pod

    def _ask(self, sock_cache):
        import io
        import socket
        import struct
        from kafka.protocol.metadata import MetadataRequest, MetadataResponse
        with self.cond:
            pod = self.target
        if sock_cache.get("pod") is not pod:
            if sock_cache.get("s"):
                sock_cache["s"].close()
            sock_cache.clear()
            sock_cache["s"] = socket.create_connection((pod.ip, 9092), timeout=1.0)
            sock_cache["pod"] = pod
        s = sock_cache["s"]
        req = MetadataRequest[5](self.topics, False)
        msg = struct.pack(">hhih", req.API_KEY, 5, 1, 3) + b"kpa" + req.encode()
        s.sendall(struct.pack(">i", len(msg)) + msg)

        def exactly(n):
            buf = b""
            while len(buf) < n:
                chunk = s.recv(n - len(buf))
                if not chunk:
                    raise OSError("connection closed")
                buf += chunk
            return buf
        (size,) = struct.unpack(">i", exactly(4))
        r = MetadataResponse[5].decode(io.BytesIO(exactly(size)[4:])).to_object()
        out = {}
        for t in r["topics"]:
            if t["error_code"] != 0:
                raise OSError(f"topic {t['topic']}: error {t['error_code']}")
            for p in t["partitions"]:
                out[(t["topic"], p["partition"])] = (p["leader"], tuple(sorted(p["replicas"])),
                                                     tuple(sorted(p["isr"])))
        return out

    def _run(self):
        cache = {}
        while not self.stopped:
            t = time.monotonic()
            try:
                state = self._ask(cache)
            except Exception:
                if cache.get("s"):
                    cache["s"].close()
                cache.clear()
                with self.cond:
                    self.errors += 1
                state = None
            now = time.monotonic()
            with self.cond:
                if state is not None:
                    self.polls += 1
                    if self.last_ok is not None:
                        self.max_gap = max(self.max_gap, now - self.last_ok)
                    self.last_ok = now
                    if state != self.state:
                        self.history.append((t, state))
                    self.state = state
                    for (topic, part), (leader, _, isr) in state.items():
                        for kind, bad in (("offline", leader < 0),
                                          ("under_min", leader >= 0 and len(isr) < self.min_isr)):
                            key = (kind, topic, part)
                            if bad and key not in self.open:
                                self.open[key] = t
                            elif not bad and key in self.open:
                                self.episodes.append((kind, topic, part, self.open.pop(key), t))
                    self.cond.notify_all()
            time.sleep(max(0.0, self.interval - (time.monotonic() - t)))
        if cache.get("s"):
            cache["s"].close()

    def wait(self, pred, timeout, what):
        """Waits until pred(state) holds for the latest answer; returns its time."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while not (self.state and pred(self.state)):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
                self.cond.wait(min(left, 0.5))
            return self.last_ok

    def full_isr(self, timeout=300):
        return self.wait(lambda s: all(len(isr) == len(reps) for _, reps, isr in s.values()),
                         timeout, "every partition's ISR to hold all its replicas")

    def reset(self):
        """Starts a new measurement (episodes and the blind time) from now."""
        with self.cond:
            self.episodes, self.open, self.max_gap = [], {}, 0.0

    def summary(self):
        """{under_min: {episodes, partitions, total_s}, offline: {...}, max_blind_s, polls}
        (episodes still open are counted up to now)."""
        now = time.monotonic()
        with self.cond:
            eps = self.episodes + [(k, t, p, s, now) for (k, t, p), s in self.open.items()]
            out = {"max_blind_s": round(max(self.max_gap, now - (self.last_ok or now)), 2),
                   "polls": self.polls}
        for kind in ("under_min", "offline"):
            mine = [e for e in eps if e[0] == kind]
            # wall_s: the time during which at least one partition was in that state.
            wall, end = 0.0, None
            for _, _, _, a, b in sorted(mine, key=lambda e: e[3]):
                if end is None or a > end:
                    wall += b - a
                    end = b
                elif b > end:
                    wall += b - end
                    end = b
            out[kind] = {"episodes": len(mine), "partitions": len({(e[1], e[2]) for e in mine}),
                         "total_s": round(sum(e[4] - e[3] for e in mine), 2), "wall_s": round(wall, 2)}
        return out

    def first(self, pred, after):
        """The time of the first recorded state at or after `after` for which pred holds
        (the state as it stood at `after` counts, at `after`), or None."""
        with self.cond:
            hist = list(self.history)
        before = [h for h in hist if h[0] < after]
        if before and pred(before[-1][1]):
            return after
        for t, st in hist:
            if t >= after and pred(st):
                return t
        return None

    def stop(self):
        self.stopped = True
        self.t.join(timeout=10)
