"""Real Kafka: leadership restored after a restart. Peer: a 3-node combined-mode Apache Kafka
cluster (KPA_KAFKA_VERSION) made from k8s/base, with one RF-3 topic whose partitions' preferred
leaders are spread over the three brokers.

A broker restarted the gated way (preStop /prestop, SIGTERM, a new pod on the same volume,
Ready by its readinessProbe) comes back leading nothing: the others took its partitions over.
Kafka moves them back only when auto.leader.rebalance.enable acts (every 300 s by default, and
only past a 10 % imbalance). With --restore-leadership on (the default), the agent asks for the
preferred leader election of exactly those partitions once its broker is caught up, and
readiness waits for it (bounded): by the time the kubelet calls the pod Ready, it leads its
preferred partitions again. With --restore-leadership off, the same restart leaves it skewed.
"""
import os
import time
import unittest

import harness as h
import leaders as ld

TOPIC = "lead"
PARTITIONS = 12
# The bound on restoring leadership after the restarted pod is Ready (the agent elects before
# Ready; this is generous for a loaded 2-core machine under ASan).
RESTORE_BOUND_S = 30
# How long the control run watches the skew persist after Ready: far less than Kafka's own
# rebalance interval (300 s), so the skew it sees is the one kpa would have repaired.
CONTROL_WATCH_S = 15


class LeadershipRestored(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.env = h.Env()
        cls.kubelets = []
        try:
            cls.pods = [cls.env.pod("kafka", i) for i in range(3)]
            cls.env.start(cls.pods)
            cls.kubelets = [h.Kubelet(p).adopt() for p in cls.pods]
            for k in cls.kubelets:
                k.wait_ready(180)
            cls.boot = ",".join(f"{p.fqdn}:9092" for p in cls.pods)
            cls.env.probe("create-topic", "--bootstrap", cls.boot, "--topic", TOPIC,
                          "--partitions", str(PARTITIONS), "--replication-factor", "3")
            ld.wait_preferred(cls.pods[0], [TOPIC], 60)
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        for k in cls.kubelets:
            k.close()
        cls.env.close()

    def restart(self, overrides):
        """Restarts kafka-2 the gated way with these agent flags; returns (step, preferred
        partitions of node 2)."""
        kl = self.kubelets[2]
        nid = kl.pod.node_id
        mine = sorted(k for k, (_, pref) in ld.leaders(self.pods[0], [TOPIC]).items() if pref == nid)
        self.assertEqual(len(mine), PARTITIONS // 3, "Kafka spreads preferred leaders evenly")
        kl.agent_overrides = overrides
        step = kl.restart_pod()
        return step, mine

    def test_a_with_restore_off_the_restarted_broker_stays_skewed(self):
        step, mine = self.restart({"--restore-leadership": "off"})
        nid = self.pods[2].node_id
        # The others took its partitions over while it was down; nobody gives them back.
        deadline = step["ready_at"] + CONTROL_WATCH_S
        while time.monotonic() < deadline:
            state = ld.leaders(self.pods[0], [TOPIC])
            led = [k for k in mine if state[k][0] == nid]
            self.assertEqual(led, [], "leadership came back without the agent asking")
            time.sleep(0.5)
        st = self.pods[2].status()["leadership"]
        self.assertEqual((st["restore"], st["state"], st["preferred"], st["preferred_led"], st["skewed"]),
                         (False, "off", len(mine), 0, len(mine)), st)
        self.assertIsNone(st["last_election"]["at"], st)
        code, text = self.pods[2].get("/metrics")
        self.assertRegex(text, r"(?m)^kpa_leadership_skewed_partitions %d$" % len(mine))
        self.assertRegex(text, r'(?m)^kpa_leader_elections_total\{result="elected"\} 0$')

        out = os.environ.get("KPA_ELECT_VECTORS_DIR")
        if out:
            # The raw answers, for the codec's unit vectors: the skewed partitions elected,
            # then asked again (ELECTION_NOT_NEEDED), and the ApiVersions range of key 43.
            v = self.env.version
            first = ld.elect_leaders_raw(self.pods[0].ip, 9092, [(TOPIC, p) for _, p in mine])
            again = ld.elect_leaders_raw(self.pods[0].ip, 9092, [(TOPIC, p) for _, p in mine])
            with open(os.path.join(out, f"electleaders-v2-kafka-{v}-elected.bin"), "wb") as f:
                f.write(first)
            with open(os.path.join(out, f"electleaders-v2-kafka-{v}-not-needed.bin"), "wb") as f:
                f.write(again)
            h.log(f"ElectLeaders versions of {v}: {ld.api_versions_range(self.pods[0].ip, 9092, 43)}")

    def test_b_with_restore_on_leadership_returns_to_preferred_by_ready(self):
        step, mine = self.restart({})
        nid = self.pods[2].node_id
        # Readiness waited for the election (--ready-waits-for-leadership): by the time the
        # kubelet called the pod Ready, the restarted broker's own metadata (what its agent
        # decides on) showed it leading its preferred partitions again; every broker's does
        # within the bound.
        at_ready = ld.leaders(self.pods[2], [TOPIC])
        self.assertEqual([k for k in mine if at_ready[k][0] != nid], [], "Ready before leadership was restored")
        took = ld.wait_preferred(self.pods[0], [TOPIC], RESTORE_BOUND_S, after=step["ready_at"])
        st = self.pods[2].status()["leadership"]
        h.figure("leadership_restore", pod="kafka-2", preferred=len(mine),
                 restored_after_ready_s=round(took, 2),
                 restored_after_caught_up_ms=st["restored_after_ms"],
                 ready_after_start_s=round(step["ready_at"] - step["started_at"], 2),
                 last_election=st["last_election"])
        self.assertEqual((st["restore"], st["state"], st["preferred"], st["preferred_led"], st["skewed"]),
                         (True, "restored", len(mine), len(mine), 0), st)
        # Within the readiness wait (10 s by default), so Ready came after it.
        self.assertLess(st["restored_after_ms"], 10000, st)
        last = st["last_election"]
        self.assertEqual((last["asked"], last["failed"], last["elected"] + last["not_needed"]),
                         (len(mine), 0, len(mine)), last)
        self.assertGreaterEqual(last["elected"], 1, last)
        state = ld.leaders(self.pods[0], [TOPIC])
        self.assertEqual([k for k in mine if state[k][0] != nid], [])
        code, text = self.pods[2].get("/metrics")
        self.assertRegex(text, r"(?m)^kpa_leadership_preferred_led_partitions %d$" % len(mine))
        self.assertRegex(text, r"(?m)^kpa_leadership_skewed_partitions 0$")


if __name__ == "__main__":
    unittest.main()
