"""Real Kafka: a certificate renewed from the same CA reaches every listener without a restart,
but Kafka's Raft client keeps presenting the leaf its process started with
(docs/tls-rotation.md, Limits). Three combined nodes from the tls-sasl overlay (SSL CONTROLLER
listener with client auth required) start on a leaf with a day left of its ten (less than a sixth
of its lifetime). Under an acks=all load, every Secret is switched the way the kubelet does it
to a renewed leaf of the same CA: the agents put it in place dynamically, then have their
brokers restarted by the kubelet (a 503 from /livez, the preStop gate), one node at a time,
until every Raft client presents the renewed leaf.
"""
import datetime
import os
import time
import unittest

import harness as h
from test_ca_rotation import AGENT, DNS, FAST_LIVENESS, RESTART_OUTPUT, TOPIC, USERS, handshake, leaf_der
from test_tls_rotation import make_leaf

# One restart per node, one at a time, each with the JVM's start and the catch-up into the ISR,
# under ASan on a loaded 2-core machine.
RENEWAL_BOUND_S = 420


class RaftLeafRenewal(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.env = h.Env()
        try:
            work = os.path.join(cls.env.work, "secrets")
            ca = h.make_cert_manager_secret(os.path.join(work, "ca"), DNS)
            now = datetime.datetime.now(datetime.timezone.utc)
            # Ten days of life, one left: due for a restart (a sixth or less left) as soon as
            # a renewed leaf is in the key store, not before.
            cls.old = os.path.join(work, "old")
            cls.old_serial = make_leaf(ca, cls.old, not_before=now - datetime.timedelta(days=9),
                                       not_after=now + datetime.timedelta(days=1))
            cls.new = os.path.join(work, "new")
            cls.new_serial = make_leaf(ca, cls.new)
            users = h.make_users(os.path.join(work, "users"), USERS)
            secrets = {"kafka-tls": cls.old, "kafka-sasl-users": users}
            cls.pods = [cls.env.pod("kafka", i, kustomization="k8s/overlays/tls-sasl", secrets=secrets)
                        for i in range(3)]
            for p in cls.pods:
                p.container("kafka")["livenessProbe"].update(FAST_LIVENESS)
            cls.env.start(cls.pods, agent_overrides=AGENT)
            cls.kubelets = [h.Kubelet(p, agent_overrides=AGENT).adopt() for p in cls.pods]
            for p in cls.pods:
                p.wait_ready(timeout=240)
            cls.boot = ",".join(f"{p.fqdn}:9092" for p in cls.pods)
            cls.client = os.path.join(cls.env.work, "alice.properties")
            h.java_client_config(cls.pods[0], cls.client, "alice", USERS["alice"], "SASL_SSL")
            cls.env.probe("create-topic", "--bootstrap", cls.boot, "--topic", TOPIC, "--partitions", "3",
                          "--replication-factor", "3", "--command-config", cls.client)
        except BaseException:
            cls.env.close()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.env.close()

    def raft(self, pod):
        return pod.status()["tls"]["ca_rotation"]["raft"]

    def report(self):
        out = []
        for p in self.pods:
            try:
                t = p.status()["tls"]
                out.append(f"{p.name}: raft {t['ca_rotation'].get('raft')} last {t.get('last_rotation')}")
            except Exception as e:
                out.append(f"{p.name}: no /status: {e}")
            with open(os.path.join(p.root, "agent.log")) as f:
                out.append("  " + "\n  ".join([line.strip() for line in f if "tls_" in line][-8:]))
        for kl in self.kubelets:
            out.append(f"kubelet {kl.pod.name}: " + "; ".join(f"{w} {d}" for _, w, d in kl.history("kafka")
                                                              if w != "ready")[-1500:])
        return "\n".join(out)

    def test_a_renewed_leaf_reaches_the_raft_clients_by_one_gated_restart_each(self):
        old_serial, new_serial = self.old_serial, self.new_serial
        t_setup = time.monotonic()
        # Every agent knows what its broker process started with: the old leaf, with a day left,
        # which is not yet cause for a restart (the key store holds the same leaf).
        try:
            for p in self.pods:
                h.wait_for(lambda: (lambda r: r["started_known"] and r["current"] and
                                    (r.get("started_leaf") or {}).get("serial") == old_serial)(self.raft(p)),
                           120, f"{p.name}: its Raft client known to have started on the old leaf", interval=0.5)
        except TimeoutError as e:
            raise AssertionError(f"{e}\n{self.report()}") from None
        for p in self.pods:
            self.assertEqual(self.raft(p)["restart"], "none", p.name)
            self.assertIn("expires in 0 days", p.status()["tls"]["tls_expiry"]["reason"], p.name)
        watch = h.Watcher(self.env, self.boot, ["--command-config", self.client, TOPIC], 500)
        self.addCleanup(watch.stop)
        watch.wait(lambda s: len(s) == 3 and all(len(e["isr"]) == 3 for e in s.values()), 120, "full ISR")
        load = h.Load(self.env, self.boot, [TOPIC], rate=100, size=200, name="raft-renewal",
                      command_config=self.client)
        t0 = time.monotonic()
        for p in self.pods:
            h.swap_secret(p.volumes["tls"], self.new)

        def renewed():
            for p in self.pods:
                r = self.raft(p)
                if not (r["current"] and r["restart"] == "none" and
                        (r.get("started_leaf") or {}).get("serial") == new_serial):
                    return None
            return True
        try:
            h.wait_for(renewed, RENEWAL_BOUND_S, "every Raft client restarted onto the renewed leaf", interval=1)
        except TimeoutError as e:
            raise AssertionError(f"{e}\n{self.report()}") from None
        took = time.monotonic() - t0
        for kl in self.kubelets:
            kl.wait_ready(300)
        stats = load.stop()
        watch.stop()
        log = f"\n{self.report()}"

        # One restart each, by the kubelet on the agent's request (its liveness output says
        # why: the Raft client's leaf), through the preStop gate; nothing else restarted.
        downs = []
        for kl in self.kubelets:
            name = kl.pod.name
            failed = kl.history("kafka", ("probe-failed",))
            self.assertEqual([d[0] for _, _, d in failed], ["liveness"], f"{name}{log}")
            for out in failed[0][2][1]:
                self.assertTrue(out.startswith(RESTART_OUTPUT + "the Raft client presents the leaf its process "
                                               f"started with (serial {old_serial})"), f"{name}: {out!r}")
            self.assertEqual(kl.history("kafka", ("exit", "sigkill")), [], f"{name}{log}")
            # The request is logged once for the process, not at every probe that fails on it.
            with open(os.path.join(kl.pod.root, "agent.log")) as f:
                self.assertEqual(sum(1 for line in f if "tls_raft_restart_requested" in line), 1, name)
            # The manifest's exec hook (kpa-probe.sh prestop): exit 0 on the agent's 200.
            hooks = kl.history("kafka", ("prestop-done",))
            self.assertEqual([d[0] for _, _, d in hooks], [0], f"{name}: {hooks}")
            self.assertTrue(hooks[0][2][1].startswith("safe to stop: "), f"{name}: {hooks}")
            ivs = kl.down_intervals("kafka", t0, begin="killing")
            self.assertEqual(len(ivs), 1, f"{name}: {ivs}")
            downs += [(a, b, name) for a, b in ivs]
        downs.sort()
        for (a1, b1, n1), (a2, b2, n2) in zip(downs, downs[1:]):
            self.assertLess(b1, a2, f"{n1} down {a1 - t0:.1f}-{b1 - t0:.1f}s overlaps {n2} from {a2 - t0:.1f}s{log}")
        isr = [len(e["isr"]) for e in watch.events if "isr" in e and e["at"] >= t0]
        self.assertEqual(min(isr), 2, f"smallest ISR seen after the switch{log}")
        self.assertEqual(stats["failed"], {}, stats)
        self.assertGreater(stats["acked"], 0)
        check = h.verify(self.env, self.boot, [TOPIC], load.acked_path, self.client)
        self.assertEqual((check["lost"], check["misordered"]), (0, 0), check)
        # Every listener serves the renewed leaf, and the earliest expiry is ten days away.
        for p in self.pods:
            for port, client in ((9092, None), (9093, self.new), (9094, self.new)):
                ok, served, err = handshake(p.ip, port, client)
                self.assertTrue(ok, f"{p.name}:{port}: {err}")
                self.assertEqual(served, leaf_der(self.new), f"{p.name}:{port}")
            reason = p.status()["tls"]["tls_expiry"]["reason"]
            self.assertIn(f"(serial {new_serial}): the certificate expires in 9 days", reason, p.name)
            self.assertIn("\nkpa_tls_raft_restart_requested 0\n", p.get("/metrics")[1])
        down = [b - a for a, b, _ in downs]
        h.figure("tls_raft_leaf_renewal", renewal_s=round(took, 1), restarts=len(downs),
                 down_s_max=round(max(down), 1), acked=stats["acked"], test_s=round(time.monotonic() - t_setup, 1))


if __name__ == "__main__":
    unittest.main()
