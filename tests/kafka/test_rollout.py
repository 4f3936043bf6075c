"""Real Kafka: a StatefulSet rolling update under load, gated by kpa and naive, on one
3-node combined-mode Apache Kafka cluster (KPA_KAFKA_VERSION) made from k8s/base.

Each mode rolls every pod, highest ordinal first, as the StatefulSet controller and the kubelet
do (harness.rolling_update, harness.Kubelet): preStop, SIGTERM, exit, a new pod on the same PVC
(kpa-init again), and the next pod only once this one is Ready by its readinessProbe.
  gated  the manifest as shipped: kpa-agent's /readyz, /livez and /prestop;
  naive  what the popular charts do: tcpSocket probes on the broker port, no preStop.
Throughout, a producer (acks=all, idempotent) writes LOAD_RATE records/s of LOAD_SIZE bytes
round-robin over TOPICS x PARTITIONS partitions (RF 3, min.insync.replicas 2), keeping every
acknowledged record; afterwards a consumer reads everything back: every acknowledged record
must be there, unchanged, in order. A metadata watcher asks a broker that is not being rolled
every 100 ms and records each under-min-ISR and offline episode.

The danger, and what it takes to show it here: a restarted broker must copy what was written
while it was down before it rejoins the ISR. On a production cluster that is gigabytes, and
minutes; here it would be a few MB, copied in well under a second. So every broker gets a
follower replication throttle (follower.replication.throttled.rate, THROTTLE bytes/s, on every
topic's replicas): Kafka throttles only a follower that lags, so the steady state is untouched
and only a restarted broker's catch-up is slowed, to THROTTLE minus the load's own rate on the
wire (about LOAD_RATE * (LOAD_SIZE + 70) bytes/s: a record per batch).
A throttle alone did not show the danger in every run: Kafka enforces it between fetches, not
within one, and measures it over replication.quota.window.num windows (11 x 1 s), counting a
fresh sensor as if the windows before it had been empty. So a restarted follower's first
fetches (up to replica.fetch.response.max.bytes, 10 MB, each) and about ten seconds' worth of
quota came through before it throttled at all, which was the whole backlog of a short
restart. BROKER_EXTRA makes the throttle hold from the first second: 2 windows of 1 s (one
second of burst) and 64 KiB per fetch response (an in-sync follower needs about 90 kB/s from
each leader, a few fetches a second). Then a broker that was away D seconds (its controlled
shutdown, exit, JVM start, KRaft registration: 10-14 s on an idle machine) needs about
(D * wire_rate - THROTTLE) / (THROTTLE - wire_rate) ~ 3.4 D - 4 s to rejoin every ISR, while
the tcpSocket probe calls it Ready at most one periodSeconds (5 s) after its port accepts, and
the next broker leaves the ISR about a second after its SIGTERM (controlled shutdown). A loaded
machine lengthens D and the catch-up (a CPU-starved fetcher copies slower than the throttle),
not the probe's period, so the naive roll stops the next broker while the last one is still
catching up in every run. Both modes run with the same load, throttle and broker settings.
"""
import time
import unittest

import harness as h
import leaders as ld

TOPICS = ["roll-a", "roll-b"]
PARTITIONS = 24
LOAD_RATE = 250            # records/s
LOAD_SIZE = 1000           # bytes per record
THROTTLE = 350000          # bytes/s, per broker, for lagging followers only (see above)
# Static broker settings that make the throttle hold from a restarted follower's first second
# (see above); the rest of server.properties is k8s/base's.
BROKER_EXTRA = """
replication.quota.window.num=2
replication.quota.window.size.seconds=1
replica.fetch.response.max.bytes=65536
"""
MIN_ISR = 2
# The watcher must have answered at least this often; a blind watcher could miss an episode.
MAX_BLIND_S = 2.0
# After a gated roll every partition is led by its preferred leader again within this bound
# (each agent asks before its pod is Ready, so it is usually so at once; issue 12).
LEADERSHIP_BOUND_S = 30


def leadership_after_roll(pods, topics, roll_end, gated):
    """The leader distribution once the roll is over, asked of pods[0]'s broker: how many
    partitions were led by someone other than their preferred leader at the end of the roll;
    gated, how long after it the last of them was led by its preferred leader again
    (TimeoutError past LEADERSHIP_BOUND_S), and each agent's restored_after_ms (from caught up
    to leading its preferred partitions: the share of the readiness wait)."""
    state = ld.leaders(pods[0], topics)
    out = {"partitions": len(state), "skewed_at_end": len(ld.skewed(state))}
    if gated:
        out["preferred_after_roll_s"] = round(ld.wait_preferred(pods[0], topics, LEADERSHIP_BOUND_S, after=roll_end), 2)
        out["restored_after_caught_up_ms"] = {p.name: p.status()["leadership"]["restored_after_ms"] for p in pods}
    return out


class RealRollout(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.env = h.Env()
        cls.kubelets = []
        try:
            template = h.manifest()["configmap"]["data"]["server.properties"] + BROKER_EXTRA
            cls.pods = [cls.env.pod("kafka", i, template=template) for i in range(3)]
            # The agents run with the manifest's own flags: the gate's overhead is measured
            # as shipped.
            cls.env.start(cls.pods)
            cls.kubelets = [h.Kubelet(p).adopt() for p in cls.pods]
            for k in cls.kubelets:
                k.wait_ready(180)
            cls.boot = ",".join(f"{p.fqdn}:9092" for p in cls.pods)
            for p in cls.pods:
                cls.env.probe("alter", "--bootstrap", cls.boot, "--broker", str(p.node_id),
                              f"follower.replication.throttled.rate={THROTTLE}")
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        for k in cls.kubelets:
            k.close()
        cls.env.close()

    def roll(self, mode):
        """Creates this mode's topics, runs the load through a rolling update in `mode`,
        reads everything back; returns the figures."""
        topics = [f"{t}-{mode}" for t in TOPICS]
        for t in topics:
            self.env.probe("create-topic", "--bootstrap", self.boot, "--topic", t,
                           "--partitions", str(PARTITIONS), "--replication-factor", "3",
                           f"min.insync.replicas={MIN_ISR}", "follower.replication.throttled.replicas=*")
        # Watch through kafka-0 while kafka-2 and kafka-1 roll, through kafka-2 while kafka-0 does.
        watcher = h.MetaWatcher(self.pods[0], topics, MIN_ISR)
        self.addCleanup(watcher.stop)
        watcher.full_isr(120)
        load = h.Load(self.env, self.boot, topics, rate=LOAD_RATE, size=LOAD_SIZE, name=mode)
        self.assertEqual(load.partitions, len(topics) * PARTITIONS)
        watcher.reset()
        pollers = {}

        def hook(phase, kl, info):
            if phase == "before":
                watcher.via(self.pods[2] if kl.pod is self.pods[0] else self.pods[0])
            elif phase == "started" and mode == "gated":
                pollers[kl.pod.name] = h.Poller(kl.pod, kl.pod.path("readiness"), interval=0.1)

        result = h.rolling_update(self.kubelets, mode, hook=hook)
        leadership = leadership_after_roll(self.pods, topics, result["steps"][-1]["ready_at"], mode == "gated")
        for p in pollers.values():
            p.stop()
        # The rollout is over when the StatefulSet is; the data is accounted for once the last
        # pod has also caught up (under the naive probe it is "Ready" before that).
        settled = watcher.full_isr(300)
        stats = load.stop()
        episodes = watcher.summary()
        watcher.stop()
        check = h.verify(self.env, self.boot, topics, load.acked_path)

        # Per pod: when the watcher first saw the restarted broker in every ISR of its
        # partitions, and how long after that its /readyz answered 200 and the kubelet
        # called it Ready.
        steps = []
        for s in result["steps"]:
            pod = [p for p in self.pods if p.name == s["pod"]][0]
            nid = pod.node_id
            isr_at = watcher.first(lambda st: all(nid in isr for _, reps, isr in st.values() if nid in reps),
                                   after=s["started_at"])
            step = {"pod": s["pod"], "prestop_s": round(s["prestop_s"], 2), "stop_s": round(s["stop_s"], 2),
                    "exit_code": s["exit_code"], "killed": s["killed"], "down_s": round(s["down_s"], 2),
                    "isr_after_start_s": None if isr_at is None else round(isr_at - s["started_at"], 2),
                    "ready_after_start_s": round(s["ready_at"] - s["started_at"], 2)}
            if isr_at is not None:
                step["kubelet_ready_after_isr_s"] = round(s["ready_at"] - isr_at, 2)
            if s["pod"] in pollers:
                r200 = pollers[s["pod"]].first(lambda c, b: c == 200, after=s["started_at"])
                step["readyz_200_after_isr_s"] = None if r200 is None or isr_at is None else round(r200[0] - isr_at, 2)
            steps.append(step)
        fig = {"mode": mode, "load": f"{LOAD_RATE} records/s x {LOAD_SIZE} B, {len(topics)} topics x "
                                     f"{PARTITIONS} partitions, RF 3, min.insync.replicas {MIN_ISR}, "
                                     f"catch-up throttle {THROTTLE} B/s",
               "acked": check["acked"], "lost": check["lost"], "misordered_partitions": check["misordered"],
               "produce_failed": stats["failed"], "produce_retried": stats["retried"],
               "under_min": episodes["under_min"], "offline": episodes["offline"],
               "consumer_stall": stats["stall"], "rollout_wall_s": round(result["wall_s"], 1),
               "settled_after_rollout_s": round(max(0.0, settled - (result["steps"][-1]["ready_at"])), 1),
               "watcher_max_blind_s": episodes["max_blind_s"], "leadership": leadership, "steps": steps}
        h.figure("rollout", **fig)
        self.assertLess(episodes["max_blind_s"], MAX_BLIND_S, "the watcher went blind during the roll")
        self.assertEqual(stats["sent"], stats["acked"] + sum(stats["failed"].values()))
        self.assertEqual(check["acked"], stats["acked"])
        self.assertEqual(check["lost"], 0, f"acknowledged records lost in the {mode} roll")
        self.assertEqual(check["misordered"], 0, f"partitions out of order after the {mode} roll")
        self.assertGreater(stats["acked"], LOAD_RATE * result["wall_s"] * 0.5, "the load did not run")
        for s in result["steps"]:
            self.assertEqual((s["exit_code"], s["killed"]), (143, False), s)
        return fig, steps

    def test_gated_roll_loses_nothing_and_never_drops_below_min_isr(self):
        fig, steps = self.roll("gated")
        # Leadership back to the preferred distribution (roll() waited for it, bounded).
        h.figure("rollout_leadership", **fig["leadership"])
        self.assertLessEqual(fig["leadership"]["preferred_after_roll_s"], LEADERSHIP_BOUND_S, fig["leadership"])
        self.assertEqual(fig["under_min"]["episodes"], 0, fig["under_min"])
        self.assertEqual(fig["offline"]["episodes"], 0, fig["offline"])
        self.assertEqual(fig["produce_failed"], {})
        for s in steps:
            # The kubelet called the pod Ready only once the broker was in every ISR.
            self.assertIsNotNone(s["isr_after_start_s"], s)
            self.assertGreaterEqual(s["kubelet_ready_after_isr_s"], 0, s)
            self.assertTrue(s["prestop_s"] >= 0 and s["readyz_200_after_isr_s"] is not None, s)

    def test_naive_roll_loses_no_acknowledged_record_but_drops_below_min_isr(self):
        """The naive roll under the same load: every acknowledged record read back, in order
        (in roll()), and the danger the gate exists for: the tcpSocket probe called a pod Ready
        before its broker was back in every ISR, the roll stopped the next broker meanwhile,
        and partitions fell below min.insync.replicas (why this shows in every run: the
        module's docstring)."""
        fig, steps = self.roll("naive")
        early = sum(1 for s in steps if s["isr_after_start_s"] is None or s["kubelet_ready_after_isr_s"] < 0)
        h.figure("rollout_naive_exposure", under_min_episodes=fig["under_min"]["episodes"],
                 ready_before_isr_pods=early, pods=len(steps))
        self.assertGreaterEqual(early, 1, steps)
        self.assertGreater(fig["under_min"]["episodes"], 0, fig["under_min"])


if __name__ == "__main__":
    unittest.main()
