"""Real Kafka: a CA change rotates across a 3-broker cluster in a safe order, with no broker
restart (docs/tls-rotation.md, "A CA change"). Three broker-only nodes from the tls-sasl overlay
(SASL_SSL INTERNAL, the inter-broker listener; MTLS with client auth required) and one
controller-only node (a controller StatefulSet of 1) whose CONTROLLER listener is PLAINTEXT here:
a KRaft Raft client never reloads TLS material, so on a node whose controller listener uses TLS
the agent has its broker process restarted after each step, one node at a time (carot.h;
CaRotationOnControllers, below, proves that path). All brokers have the same cert-manager style
Secret (root A -> intermediate -> leaf). Under a producer load, every broker's Secret is switched the way the
kubelet does it (a new ..data folder, then a symlink swap) to a new CA B: ca.crt = B only,
tls.crt a leaf of B.

What proves the order, from outside the agents: whether a broker trusts B is an mTLS handshake on
its MTLS listener (client auth required) with B's leaf as the client certificate; which leaf a
broker serves is a handshake on INTERNAL. Trust of B only grows until the end, so if some broker
was seen not trusting B at a time after some broker was seen serving B's leaf, the order was
broken (sound: never a false alarm; it can miss a violation between two samples).
"""
import os
import shutil
import socket
import ssl
import threading
import time
import unittest

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

import faults
import harness as h

USERS = {"kafka": "inter-broker secret", "alice": "alice secret"}
DNS = ["*.kafka-headless.kafka.svc.cluster.local", "*.kafka-headless.kafka.svc"]
TOPIC = "carot"
RECHECK = "2s"
AGENT = {"--interval": "1s", "--tls-recheck-interval": RECHECK}
# Three gated steps, each a write + reload + confirmation on every broker, under ASan on a
# loaded 2-core machine.
ROTATION_BOUND_S = 360
# One controller-only node, its CONTROLLER listener PLAINTEXT (the overlay's map otherwise).
SEPARATE_CONTROLLER = {"KPA_CONTROLLER_STATEFULSET": "kafka-controller", "KPA_CONTROLLER_COUNT": "1",
                       "KPA_SECURITY_PROTOCOL_MAP": "INTERNAL:SASL_SSL,CONTROLLER:PLAINTEXT,MTLS:SSL"}


def _pem_cert(path):
    with open(path, "rb") as f:
        return x509.load_pem_x509_certificate(f.read())


def fingerprint(path):
    return _pem_cert(path).fingerprint(hashes.SHA256()).hex()


def leaf_der(secret):
    return _pem_cert(os.path.join(secret, "tls.crt")).public_bytes(serialization.Encoding.DER)


def handshake(ip, port, client_secret=None, timeout=10):
    """(ok, served leaf DER or None, error): a TLS 1.2 handshake (so that a client certificate
    the server does not trust fails the handshake itself), the server's chain not verified.
    error is "refused" when the server answered with a TLS alert (it rejected the client
    certificate), else what went wrong on the way (a timeout, a reset: no evidence either way)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    if client_secret:
        ctx.load_cert_chain(os.path.join(client_secret, "tls.crt"), os.path.join(client_secret, "tls.key"))
    try:
        with socket.create_connection((ip, port), timeout=timeout) as s:
            with ctx.wrap_socket(s) as t:
                return True, t.getpeercert(binary_form=True), None
    except ssl.SSLError as e:
        alert = "ALERT" in str(e).upper() and not isinstance(e, ssl.SSLEOFError)
        return False, None, "refused" if alert else str(e)
    except OSError as e:
        return False, None, str(e)


class Observer:
    """Samples every broker about once a second: does it trust B (mTLS with B's leaf on MTLS),
    does it serve B's leaf (INTERNAL). Keeps, per broker, the last time it was seen NOT
    trusting B and the first time it was seen serving B's leaf."""

    def __init__(self, pods, new_secret):
        self.pods, self.new = pods, new_secret
        self.new_leaf = leaf_der(new_secret)
        self.last_untrusting = {}
        self.first_serving = {}
        self.samples = 0
        self.stopped = False
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        while not self.stopped:
            for p in self.pods:
                ok, _, err = handshake(p.ip, 9094, self.new)
                # Only a rejection counts: a timeout under load proves nothing.
                if not ok and err == "refused":
                    self.last_untrusting[p.name] = time.monotonic()
                t = time.monotonic()
                ok, served, _ = handshake(p.ip, 9092)
                if ok and served == self.new_leaf and p.name not in self.first_serving:
                    self.first_serving[p.name] = t
            self.samples += 1
            time.sleep(0.5)

    def stop(self):
        self.stopped = True
        self.t.join(timeout=60)


class CaRotation(unittest.TestCase):
    # Three broker-only nodes beside a controller-only one (PLAINTEXT controller listener);
    # False: three combined nodes (the overlay's SSL controller listener).
    SEPARATE = True

    @classmethod
    def setUpClass(cls):
        cls.env = h.Env()
        try:
            work = os.path.join(cls.env.work, "secrets")
            cls.old = h.make_cert_manager_secret(os.path.join(work, "old"), DNS)
            users = h.make_users(os.path.join(work, "users"), USERS)
            secrets = {"kafka-tls": cls.old, "kafka-sasl-users": users}
            extra = SEPARATE_CONTROLLER if cls.SEPARATE else {}
            ctl = [cls.env.pod("kafka-controller", 0, kustomization="k8s/overlays/tls-sasl", secrets=secrets,
                               extra_env=extra)] if cls.SEPARATE else []
            cls.pods = [cls.env.pod("kafka", i, kustomization="k8s/overlays/tls-sasl", secrets=secrets,
                                    extra_env=extra) for i in range(3)]
            cls.env.start(ctl + cls.pods, agent_overrides=AGENT)
            for p in cls.pods:
                p.wait_ready(timeout=240)
            cls.boot = f"{cls.pods[0].fqdn}:9092"
            # A client must trust both CAs through a CA rotation (docs/tls-rotation.md): its
            # trust bundle holds A and B from the start, and it presents no certificate
            # (SASL_SSL does not ask for one).
            cls.new = h.make_cert_manager_secret(os.path.join(work, "new"), DNS, root="kpa-test-root-b",
                                                 intermediate="kpa-test-intermediate-b")
            # What the kubelet puts in a Secret volume: the three keys only.
            cls.new_files = os.path.join(work, "new-files")
            os.makedirs(cls.new_files)
            for name in ("tls.crt", "tls.key", "ca.crt"):
                shutil.copyfile(os.path.join(cls.new, name), os.path.join(cls.new_files, name))
            bundle = os.path.join(cls.env.work, "clients-ca.pem")
            with open(bundle, "w") as out:
                for s in (cls.old, cls.new):
                    with open(os.path.join(s, "ca.crt")) as f:
                        out.write(f.read())
            cls.client = os.path.join(cls.env.work, "alice.properties")
            esc = USERS["alice"]
            with open(cls.client, "w") as f:
                f.write("security.protocol=SASL_SSL\nssl.truststore.type=PEM\n"
                        f"ssl.truststore.location={bundle}\nsasl.mechanism=PLAIN\n"
                        "sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule "
                        f'required username="alice" password="{esc}";\n')
            cls.env.probe("create-topic", "--bootstrap", cls.boot, "--topic", TOPIC, "--partitions", "3",
                          "--replication-factor", "3", "--command-config", cls.client)
        except BaseException:
            cls.env.close()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.env.close()

    def ca(self, pod):
        return pod.status()["tls"]["ca_rotation"]

    def agent_lines(self, pod, last=12):
        with open(os.path.join(pod.root, "agent.log")) as f:
            return [line.strip() for line in f if "tls_" in line][-last:]

    def test_a_new_ca_is_trusted_everywhere_before_any_broker_serves_its_leaf(self):
        fa, fb = fingerprint(os.path.join(self.old, "ca.crt")), fingerprint(os.path.join(self.new, "ca.crt"))
        for p in self.pods:
            c = self.ca(p)
            self.assertEqual((c["phase"], c["trusts"], c["serves"]), ("steady", [fa], fa), p.name)
        pids = {p.name: p.broker.pid for p in self.pods}
        watch = h.Watcher(self.env, self.boot, ["--command-config", self.client, TOPIC], 500)
        watch.wait(lambda s: len(s) == 3 and all(len(e["isr"]) == 3 for e in s.values()), 120, "full ISR")
        load = h.Load(self.env, self.boot, [TOPIC], rate=100, size=200, name="carot", command_config=self.client)
        obs = Observer(self.pods, self.new)
        t0 = time.monotonic()
        for p in self.pods:
            h.swap_secret(p.volumes["tls"], self.new_files)

        def done():
            for p in self.pods:
                c = self.ca(p)
                if (c["phase"], c["trusts"], c["serves"], c["trust_loaded"]) != ("steady", [fb], fb, True):
                    return None
            return True
        try:
            h.wait_for(done, ROTATION_BOUND_S, "every agent: steady, trusting B only, serving B's leaf", interval=1)
        except TimeoutError as e:
            raise AssertionError(f"{e}; " + "; ".join(f"{p.name}: {self.ca(p)} {self.agent_lines(p)}"
                                                      for p in self.pods)) from None
        took = time.monotonic() - t0
        time.sleep(3)
        obs.stop()
        stats = load.stop()
        watch.stop()
        # The order: no broker was seen serving B's leaf while some broker did not trust B.
        self.assertEqual(set(obs.first_serving), {p.name for p in self.pods}, obs.first_serving)
        first_serve = min(obs.first_serving.values())
        last_untrust = max(obs.last_untrusting.values()) if obs.last_untrusting else t0
        self.assertLess(last_untrust, first_serve,
                        f"a broker did not trust B {last_untrust - first_serve:.1f}s after one served B's leaf")
        # It was observed, not assumed: B was refused somewhere after the swap at first.
        self.assertTrue(obs.last_untrusting, "no broker was ever seen refusing B's leaf")
        self.assertGreater(last_untrust, t0)
        # Every broker serves B's leaf, trusts B and no longer A, same processes.
        for p in self.pods:
            ok, served, err = handshake(p.ip, 9092)
            self.assertTrue(ok, err)
            self.assertEqual(served, leaf_der(self.new), p.name)
            self.assertTrue(handshake(p.ip, 9094, self.new)[0], f"{p.name} does not trust B")
            # The drop is confirmed by the accepted reload only (tls-rotation.md): the broker
            # rebuilds each SSL factory in turn, seconds later. Late is harmless (more trust).
            h.wait_for(lambda: handshake(p.ip, 9094, self.old)[2] == "refused", 120,
                       f"{p.name} refuses a leaf of A", interval=1)
            self.assertEqual(p.broker.pid, pids[p.name], f"{p.name} was restarted")
        # 0 produce errors, nothing lost, and the ISR stayed full (inter-broker replication,
        # whose connections are TLS both ways, never broke).
        self.assertEqual(stats["failed"], {}, stats)
        self.assertGreater(stats["acked"], 0)
        check = h.verify(self.env, self.boot, [TOPIC], load.acked_path, self.client)
        self.assertEqual(check["lost"], 0, check)
        shrunk = [e for e in watch.events if "isr" in e and e["at"] >= t0 and len(e["isr"]) < 3]
        self.assertEqual(shrunk, [])
        # Each agent logged its three steps.
        for p in self.pods:
            steps = [l for l in self.agent_lines(p, 10000) if "tls_ca_rotation_step" in l]
            self.assertTrue(any("add_trust" in l for l in steps), self.agent_lines(p))
            self.assertTrue(any("serve_leaf" in l for l in steps), self.agent_lines(p))
            self.assertTrue(any("drop_trust" in l for l in steps), self.agent_lines(p))
        h.figure("tls_ca_rotation", rotation_s=round(took, 1), acked=stats["acked"],
                 retried=sum(stats["retried"].values()), samples=obs.samples)



# The two controllers left must elect a leader well within this (1.7 s measured without a CA
# change; never, within 60 s, after a full dynamic rotation without restarts).
ELECTION_BOUND_S = 60
# Three steps, each followed by a restart of every node's broker, one at a time (JVM start,
# log recovery, catching up into the ISR, the kubelet's back-off of 10 s and 20 s before a
# container's second and third restart) under ASan on a loaded 2-core machine.
RAFT_ROTATION_BOUND_S = 900
# CI time: the kafka container's livenessProbe as shipped (every 10 s, 3 failures) takes up to
# 30 s to act on the agent's restart request, nine times in a row here. Every 2 s, 3 failures
# acts within 6 s; the agent's answer (a 503 only when it asks for a restart, or the broker
# failed) is what the test proves, not the kubelet's patience. Three failures, not two, keep
# 4 s between the first 503 and the kill: two agents that asked in the same round must see each
# other and one withdraw within that (carot.h), which the shipped timing allows 20 s for. The
# startupProbe is the manifest's.
FAST_LIVENESS = {"periodSeconds": 2, "failureThreshold": 3}
# What kpa-probe.sh prints when kpa-agent's /livez answers 503 with a restart request.
RESTART_OUTPUT = "not live: kpa-agent answered 503: restart requested: "
# What the agent reports of the Raft client on a node steady on CA fp (the process's start
# time aside).
RAFT_KEYS = ("listener", "started_known", "started_trusts", "started_serves", "current", "needs_restart",
             "restart")


def raft_steady(fp):
    return {"listener": "CONTROLLER", "started_known": True, "started_trusts": [fp], "started_serves": fp,
            "current": True, "needs_restart": False, "restart": "none"}


def reset_controller_connections(pod, peer_ip):
    """Closes pod's TCP connections with peer_ip on the controller port (either end), so that
    an election needs new Raft connections, as it does once idle ones were closed."""
    for port in ("dport", "sport"):
        h.run(["ip", "netns", "exec", pod.ns, "ss", "-K", "-tnH", "dst", peer_ip, port, "=", ":9093"], check=False)


class Timeline:
    """Every agent's tls.ca_rotation (phase, step, raft.restart, raft.current, blocked), about
    once a second, kept when it changes: what a failure report shows of the rotation."""

    def __init__(self, pods, t0):
        self.pods, self.t0 = pods, t0
        self.changes = []
        self.last = {}
        self.stopped = False
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        while not self.stopped:
            for p in self.pods:
                try:
                    c = p.status()["tls"]["ca_rotation"]
                    r = c.get("raft") or {}
                    now = (c["phase"], c["step"], r.get("restart"), r.get("current"), r.get("restart_reason"),
                           c.get("blocked"))
                except Exception as e:  # an agent that does not answer is part of the story
                    now = ("no answer", str(e)[:80])
                if self.last.get(p.name) != now:
                    self.last[p.name] = now
                    self.changes.append((round(time.monotonic() - self.t0, 1), p.name, now))
            time.sleep(1)

    def stop(self):
        self.stopped = True
        self.t.join(timeout=30)

    def __str__(self):
        return "\n".join(f"  +{t}s {name}: {now}" for t, name, now in self.changes)


class CaRotationOnControllers(CaRotation):
    """Three combined nodes, their controller listener SSL with client auth required: Kafka's
    Raft client keeps the TLS material its process started with, so the agents take each of the
    three steps and then have their broker restarted by the kubelet (a 503 from /livez, the
    preStop gate, SIGTERM), one node at a time, until every node's Raft client runs on the new
    CA; then the quorum still elects a leader when the active controller dies, which a full
    dynamic rotation without restarts broke (docs/tls-rotation.md)."""
    SEPARATE = False
    test_a_new_ca_is_trusted_everywhere_before_any_broker_serves_its_leaf = None

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        try:
            # The kubelet runs the probes from the spec it is built with, and nothing probes a
            # pod before it: the shorter livenessProbe is in force from the first probe on.
            for p in cls.pods:
                p.container("kafka")["livenessProbe"].update(FAST_LIVENESS)
            cls.kubelets = [h.Kubelet(p, agent_overrides=AGENT).adopt() for p in cls.pods]
        except BaseException:
            cls.env.close()
            raise

    def raft(self, pod):
        return self.ca(pod)["raft"]

    def agent_lines(self, pod, last=12):
        with open(os.path.join(pod.root, "agent.log")) as f:
            return [line.strip() for line in f if "tls_" in line or "raft" in line or "restart" in line][-last:]

    def report(self, timeline=None):
        out = []
        for p in self.pods:
            try:
                c = self.ca(p)
            except Exception as e:
                c = f"no /status: {e}"
            out.append(f"{p.name}: {c}\n  " + "\n  ".join(self.agent_lines(p)))
        if timeline:
            out.append("timeline:\n" + str(timeline))
        for kl in self.kubelets:
            out.append(f"kubelet {kl.pod.name}: " + "; ".join(f"{w} {d}" for _, w, d in kl.history("kafka")
                                                              if w not in ("ready",))[-2000:])
        return "\n".join(out)

    def test_a_controller_rotates_by_gated_restarts_one_at_a_time_and_the_quorum_still_elects(self):
        fa, fb = fingerprint(os.path.join(self.old, "ca.crt")), fingerprint(os.path.join(self.new, "ca.crt"))
        t_setup = time.monotonic()
        # Before the change: every agent knows what its broker process started with (told by
        # the kafka container's probes), A, and asks for nothing.
        for kl in self.kubelets:
            h.wait_for(lambda: kl.history("kafka", ("started",)), 120,
                       f"{kl.pod.name}: the kafka container's startupProbe to pass", interval=0.5)
        try:
            for p in self.pods:
                h.wait_for(lambda: {k: self.raft(p).get(k) for k in RAFT_KEYS} == raft_steady(fa), 60,
                           f"{p.name}: its Raft client known to have started on A", interval=0.5)
        except TimeoutError as e:
            raise AssertionError(f"{e}\n{self.report()}") from None
        for p in self.pods:
            c = self.ca(p)
            self.assertEqual((c["phase"], c["trusts"], c["serves"]), ("steady", [fa], fa), p.name)
            self.assertRegex(c["raft"]["process_started"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")
            self.assertIn("\nkpa_tls_raft_restart_requested 0\n", p.get("/metrics")[1])
        everyone = ",".join(f"{p.fqdn}:9092" for p in self.pods)
        quorum = h.QuorumWatcher(self.env, None, interval_ms=500, bootstrap=everyone, command_config=self.client)
        self.addCleanup(quorum.stop)
        watch = h.Watcher(self.env, everyone, ["--command-config", self.client, TOPIC], 500)
        self.addCleanup(watch.stop)
        watch.wait(lambda s: len(s) == 3 and all(len(e["isr"]) == 3 for e in s.values()), 120, "full ISR")
        load = h.Load(self.env, everyone, [TOPIC], rate=100, size=200, name="carot-raft", command_config=self.client)
        obs = Observer(self.pods, self.new)
        t0 = time.monotonic()
        timeline = Timeline(self.pods, t0)
        self.addCleanup(timeline.stop)
        for p in self.pods:
            h.swap_secret(p.volumes["tls"], self.new_files)

        def steady_on_b():
            for p in self.pods:
                c = self.ca(p)
                if (c["phase"], c["trusts"], c["serves"], c["raft"]["current"], c["raft"]["restart"]) != \
                        ("steady", [fb], fb, True, "none"):
                    return None
            return True
        try:
            h.wait_for(steady_on_b, RAFT_ROTATION_BOUND_S,
                       "every agent: steady, trusting B only, serving B's leaf, its Raft client started on B",
                       interval=1)
        except TimeoutError as e:
            raise AssertionError(f"{e}\n{self.report(timeline)}") from None
        took = time.monotonic() - t0
        # The last broker restarted may still be joining the ISR: Ready by its readinessProbe.
        for kl in self.kubelets:
            kl.wait_ready(300)
        settled = time.monotonic() - t0
        timeline.stop()
        obs.stop()
        stats = load.stop()
        watch.stop()
        log = f"\n{self.report(timeline)}"

        # Each broker was restarted by the kubelet exactly three times (one per step), each
        # time because its liveness probe failed twice in a row on the agent's restart request,
        # each stop through the preStop gate and SIGTERM; nothing else restarted a container.
        restarts = {}
        for kl in self.kubelets:
            name = kl.pod.name
            failed = kl.history("kafka", ("probe-failed",))
            self.assertEqual([d[0] for _, _, d in failed], ["liveness"] * 3, f"{name}{log}")
            for _, _, (_, outputs) in failed:
                self.assertEqual(len(outputs), FAST_LIVENESS["failureThreshold"], f"{name}: {outputs}")
                for out in outputs:
                    self.assertTrue(out.startswith(RESTART_OUTPUT), f"{name}: liveness said {out!r}")
            self.assertEqual(len(kl.history("kafka", ("running",), t0)), 3, f"{name}{log}")
            self.assertEqual(kl.history("kafka", ("exit", "sigkill")), [], f"{name}{log}")
            # The manifest's exec hook (kpa-probe.sh prestop): exit 0 on the agent's 200.
            hooks = kl.history("kafka", ("prestop-done",))
            self.assertEqual([d[0] for _, _, d in hooks], [0] * 3, f"{name}: {hooks}")
            self.assertTrue(all(d[1].startswith("safe to stop: ") for _, _, d in hooks), f"{name}: {hooks}")
            self.assertEqual(kl.history("kpa-agent", ("probe-failed", "exit", "killing", "running")), [], name)
            restarts[name] = kl.down_intervals("kafka", t0)
            self.assertEqual(len(restarts[name]), 3, f"{name}: {restarts[name]}")
        # Never two brokers down at once. Down counts from the kubelet's decision to kill (its
        # liveness probe failed on the agent's request; the preStop hook runs first) to the new
        # process: an agent asks only while no peer restarts, so no kill may begin while another
        # broker is being stopped or is down; the preStop gate is the last line, not the one
        # under test. And no partition of the RF-3 topic ever had fewer than
        # min.insync.replicas (2) in sync, which two brokers out at once would make 1 (every
        # restart took its broker out of the ISR: 2 was seen).
        downs = sorted((a, b, kl.pod.name) for kl in self.kubelets
                       for a, b in kl.down_intervals("kafka", t0, begin="killing"))
        for (a1, b1, n1), (a2, b2, n2) in zip(downs, downs[1:]):
            self.assertLess(b1, a2, f"{n1} killed at {a1 - t0:.1f}s, running again at {b1 - t0:.1f}s, and {n2} "
                                    f"killed at {a2 - t0:.1f}s{log}")
        isr = [len(e["isr"]) for e in watch.events if "isr" in e and e["at"] >= t0]
        self.assertEqual(min(isr), 2, f"smallest ISR seen after the switch{log}")
        # Still in order: no broker was seen serving B's leaf while some broker refused B.
        self.assertEqual(set(obs.first_serving), {p.name for p in self.pods}, obs.first_serving)
        self.assertTrue(obs.last_untrusting, "no broker was ever seen refusing B's leaf")
        self.assertLess(max(obs.last_untrusting.values()), min(obs.first_serving.values()))
        # 0 produce errors, every acknowledged record read back, in order.
        self.assertEqual(stats["failed"], {}, stats)
        self.assertGreater(stats["acked"], 0)
        check = h.verify(self.env, everyone, [TOPIC], load.acked_path, self.client)
        self.assertEqual((check["lost"], check["misordered"]), (0, 0), check)
        # Every listener serves B's leaf; A's leaf is refused where a client certificate is
        # required (CONTROLLER, MTLS): the processes run on B only.
        for p in self.pods:
            for port, client in ((9092, None), (9093, self.new), (9094, self.new)):
                ok, served, err = handshake(p.ip, port, client)
                self.assertTrue(ok, f"{p.name}:{port}: {err}")
                self.assertEqual(served, leaf_der(self.new), f"{p.name}:{port}")
            for port in (9093, 9094):
                self.assertEqual(handshake(p.ip, port, self.old)[2], "refused", f"{p.name}:{port} accepts A's leaf")
            c = self.ca(p)
            self.assertEqual({k: c["raft"].get(k) for k in RAFT_KEYS}, raft_steady(fb), p.name)
            self.assertIsNone(c.get("blocked"), p.name)
            self.assertIn("\nkpa_tls_raft_restart_requested 0\n", p.get("/metrics")[1])
            steps = [l for l in self.agent_lines(p, 10000) if "tls_ca_rotation_step" in l]
            for step in ("add_trust", "serve_leaf", "drop_trust"):
                self.assertTrue(any(step in l for l in steps), f"{p.name}: no {step}: {steps}")

        # The quorum: the active controller dies; the two left must elect a leader over new
        # Raft connections, which now carry B's material both ways.
        before = quorum.wait(lambda a: a["leader"] >= 0, 60, "a quorum leader", after=time.monotonic())
        leader = next(p for p in self.pods if p.node_id == before["leader"])
        y, z = [p for p in self.pods if p is not leader]
        reset_controller_connections(y, z.ip)
        reset_controller_connections(z, y.ip)
        t_kill = time.monotonic()
        faults.kill(leader)
        after = quorum.wait(lambda a: a["leader"] in (y.node_id, z.node_id) and a["epoch"] > before["epoch"],
                            ELECTION_BOUND_S, "a new quorum leader among the two controllers left", after=t_kill)
        down = [b - a for ivs in restarts.values() for a, b in ivs]
        h.figure("tls_ca_rotation_raft_restarts", rotation_s=round(took, 1), settled_s=round(settled, 1),
                 restarts=sum(len(ivs) for ivs in restarts.values()), down_s_max=round(max(down), 1),
                 down_s_total=round(sum(down), 1), acked=stats["acked"], retried=sum(stats["retried"].values()),
                 samples=obs.samples, elected_s=round(after["at"] - t_kill, 1),
                 test_s=round(time.monotonic() - t_setup, 1))


if __name__ == "__main__":
    unittest.main()
