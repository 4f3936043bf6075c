"""Real Kafka: the stop gate never releases on a stale local view (issue 9, "a stale local
view"). Peer: one KRaft controller (a controller StatefulSet of 1) and three broker-only nodes
(KPA_KAFKA_VERSION) from k8s/base, agents with the manifest's flags.

A broker cut off from the controllers keeps serving the metadata it last had: its own view
freezes with every ISR full, so the local view alone would call a stop safe whatever happened
since. Whatever the peers' answers already catch is kept out of the way, so that only the
cross-check with another broker's view can hold the stop: every member of every ISR stays
registered and answers as itself throughout.

  1. The local broker (kafka-0) is cut off from the controller: its outgoing packets to the
     controller listener (port 9093) are dropped in its network namespace, nothing else. Its
     view freezes. The controller keeps it registered (broker.session.timeout.ms is raised to
     BROKER_SESSION_MS on this cluster, so that the cut does not fence it).
  2. Another broker stops replicating: its outgoing packets to port 9092 (its fetches from the
     leaders) are dropped, while it still answers on 9092 and heartbeats to the controller. A
     record is written to each partition the live broker leads (a follower whose log ends
     where the leader's does counts as caught up however long it has not fetched), and after
     replica.lag.time.max.ms (LAG_MS here) the live leader takes the lagging broker out of
     those partitions' ISRs (the local broker, cut off, cannot shrink its own).
  3. So the live view has partitions at exactly min.insync.replicas with the local broker in
     their ISR (or under it, if a loaded machine stalled the local broker's fetches too),
     while the frozen local view has every ISR full: /prestop must hold on the live view,
     naming it, and release once both paths are back and the views agree again.

One controller (a controller StatefulSet of 1) keeps a quorum whatever happens to the brokers;
in combined mode the cut would take a voter with it.
"""
import re
import time
import unittest

import harness as h
from faults import drop_tcp, undrop

EXTRA = {"KPA_CONTROLLER_STATEFULSET": "kafka-controller", "KPA_CONTROLLER_COUNT": "1"}
TOPIC = "stale"
PARTITIONS = 3
BROKER_SESSION_MS = 300000
LAG_MS = 5000
TEMPLATE_EXTRA = f"""
broker.session.timeout.ms={BROKER_SESSION_MS}
replica.lag.time.max.ms={LAG_MS}
"""


class StaleLocalView(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.env = h.Env()
        try:
            template = h.manifest()["configmap"]["data"]["server.properties"] + TEMPLATE_EXTRA
            cls.ctl = cls.env.pod("kafka-controller", 0, extra_env=EXTRA, template=template)
            cls.brokers = [cls.env.pod("kafka", i, extra_env=EXTRA, template=template) for i in range(3)]
            cls.env.start([cls.ctl] + cls.brokers)
            for p in cls.brokers:
                p.wait_ready(180)
            cls.boot = ",".join(f"{p.fqdn}:9092" for p in cls.brokers)
            cls.env.probe("create-topic", "--bootstrap", cls.boot, "--topic", TOPIC,
                          "--partitions", str(PARTITIONS), "--replication-factor", "3")
        except BaseException:
            cls.env.close()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.env.close()

    def released(self, pod, timeout=300):
        """Asks /prestop until it says safe (each ask waits up to --prestop-timeout); a failure
        says what it answered last."""
        last = []

        def ask():
            r = pod.get(pod.path("prestop"), timeout=150)
            last.append(r)
            return r if r[1].startswith("safe to stop") else None
        try:
            return h.wait_for(ask, timeout, f"{pod.name}'s /prestop to release")
        except TimeoutError as e:
            raise AssertionError(f"{e}; it answered last: {last[-1] if last else None}") from None

    @staticmethod
    def view(watcher, pred, timeout, what):
        """watcher.wait, failing with the live view and the watcher's errors in the message."""
        try:
            return watcher.wait(pred, timeout, what)
        except TimeoutError as e:
            raise AssertionError(f"{e}; the view: {watcher.state}; failed asks: {watcher.errors}") from None

    def gate(self, pod):
        st = pod.status()
        return (st or {}).get("safe_to_stop", {}).get("gate")

    def test_a_broker_cut_off_from_the_controller_is_held_on_a_live_peers_view(self):
        local, lagging, live = self.brokers
        for p in self.brokers:
            p.wait_ready(120)
        self.released(local)
        watcher = h.MetaWatcher(live, [TOPIC], min_isr=2)
        self.addCleanup(watcher.stop)
        self.view(watcher, lambda s: all(len(isr) == 3 for _, _, isr in s.values()), 120,
                  "every ISR full")
        led_by_live = sorted(p for (_, p), (leader, _, _) in watcher.state.items() if leader == live.node_id)
        self.assertTrue(led_by_live, watcher.state)

        drop_tcp(local, "eth0", ("dport", 9093))
        self.addCleanup(undrop, local, "eth0")
        cut = time.monotonic()
        drop_tcp(lagging, "eth0", ("dport", 9092))
        self.addCleanup(undrop, lagging, "eth0")
        # A follower whose log ends where the leader's does counts as caught up however long
        # it has not fetched: a record in each of the live leader's partitions (acks=1: the
        # ISR cannot grow its high watermark now) leaves the lagging broker behind.
        for p in led_by_live:
            h.run(self.env.client_argv(["kcat", "-P", "-b", f"{live.fqdn}:9092", "-t", TOPIC, "-p", str(p),
                                        "-X", "acks=1"]), input="behind\n", timeout=60)
        # The live leader takes the lagging broker out of its partitions' ISRs (and, on a
        # machine loaded enough to stall the local broker's fetches for LAG_MS, the local one
        # too: then they are under their minimum, which holds a stop just as well).
        shrunk = self.view(watcher, lambda s: all(lagging.node_id not in s[(TOPIC, p)][2] for p in led_by_live),
                           120, f"broker {live.node_id} to take broker {lagging.node_id} out of its ISRs")
        t, result = local.prestop_async(timeout=300)
        n = len(led_by_live)
        want = (rf"^in broker (\d+)'s metadata: stopping would leave {n} partitions? below "
                rf"min\.insync\.replicas: {TOPIC}-{led_by_live[0]} isr=[12] min=2 replicas=3")
        seen = []

        def holding():
            g = self.gate(local)
            seen.append(g)
            return g if g and re.match(want, g["reason"]) else None
        try:
            g = h.wait_for(holding, 60, "the gate to hold on a live peer's view")
        except TimeoutError as e:
            raise AssertionError(f"{e}; the gate said last: {seen[-1] if seen else None}") from None
        self.assertFalse(g["safe"], g)
        self.assertIn(int(re.match(want, g["reason"]).group(1)), (lagging.node_id, live.node_id), g)
        # Every in-sync member of the local view answered as itself: the hold comes from the
        # peer's view alone.
        self.assertEqual(g["peers_not_answering"], [], g)
        # The local view alone would have let it go: frozen, with every ISR full.
        local_view = local.status()["safe_to_stop"]
        self.assertTrue(local_view["safe"], local_view)
        self.assertEqual(local_view["reason"], "no hosted partition would drop below "
                                               f"min.insync.replicas ({PARTITIONS} hosted)")
        self.assertTrue(t.is_alive(), result)

        # Both paths back: the local broker catches up with the controller, the other one
        # with the leaders and rejoins every ISR; the views agree again and /prestop releases.
        undrop(local, "eth0")
        undrop(lagging, "eth0")
        restored = time.monotonic()
        t.join(180)
        self.assertFalse(t.is_alive(), "/prestop still held after both paths came back")
        self.assertEqual(result["code"], 200)
        self.assertRegex(result["body"], r"^safe to stop: no hosted partition would drop below "
                                         rf"min\.insync\.replicas \({PARTITIONS} hosted\); broker "
                                         r"\d+'s metadata agrees")
        def all_in(s):
            return all(len(isr) == 3 for _, _, isr in s.values())
        # The release may come from the other peer's view a poll before this watcher's.
        self.view(watcher, all_in, 60, "every ISR full again")
        full = watcher.first(all_in, after=restored)
        self.assertIsNotNone(full, "the watcher never saw every ISR full again")
        # Not before the live view had every ISR full again (the watcher polls every 100 ms;
        # 1 s allowed for two brokers' views to differ by a moment).
        self.assertGreaterEqual(result["at"], full - 1.0)
        h.figure("gate_stale_local_view", isr_shrunk_after_cut_s=round(shrunk - cut, 1),
                 released_after_restore_s=round(result["at"] - restored, 1),
                 released_after_full_isr_s=round(result["at"] - full, 2))

if __name__ == "__main__":
    unittest.main()
