"""Real Kafka: a rolling upgrade, then its finalization, done the way docs/upgrade.md says.

A 3-node combined-mode cluster (a static quorum, controller.quorum.voters, as kpa-init writes
it) is formatted and started on the shipped release (tests/kafka/versions, default 4.1.1),
then rolled pod by pod to the newest (4.4.0) the way a StatefulSet RollingUpdate does it
(harness.rolling_update: highest ordinal first, preStop GET /prestop, SIGTERM, a new pod on the
same volume with the new jars, the next pod only once Ready by GET /readyz), under a steady
acks=all idempotent load on an RF-3, min.insync.replicas=2 topic. Then:

- every acknowledged record is read back (count, offsets, order, every byte);
- a metadata watcher records each under-min-ISR or offline episode;
- kpa-agent's /status shows the finalized metadata.version lagging on upgraded brokers only,
  and after the roll names the finalization command;
- that command, run in a broker container as `kubectl exec` would, finalizes metadata.version;
  /status shows no lag; kraft.version stays 0 (the quorum stays static).

Needs both jar folders (tests/kafka/provision.sh FROM and TO). Runs once per CI run, not per
version (tests/kafka/run.sh). Versions: KPA_KAFKA_UPGRADE_FROM, KPA_KAFKA_UPGRADE_TO.
"""
import os
import shlex
import time
import unittest

import harness as h

TOPIC = "upgrade"
PARTITIONS = 6
LOAD_RATE = 200            # records/s
LOAD_SIZE = 1000           # bytes per record
MIN_ISR = 2
MAX_BLIND_S = 2.0          # the watcher must have answered at least this often
# Short enough that /status shows a finalization within seconds; the shipped default is 60 s.
AGENT = {"--features-interval": "5s"}


def upgrade_versions():
    roles = {role: v for v, role in h.versions()}
    return (os.environ.get("KPA_KAFKA_UPGRADE_FROM", roles["shipped"]),
            os.environ.get("KPA_KAFKA_UPGRADE_TO", roles["newest"]))


class RollingUpgrade(unittest.TestCase):
    def setUp(self):
        self.old, self.new = upgrade_versions()
        self.env = h.Env(version=self.old)
        self.addCleanup(self.env.close)
        self.new_lib = self.env.lib_for(self.new)
        self.pods = [self.env.pod("kafka", i) for i in range(3)]
        self.env.start(self.pods, agent_overrides=AGENT)
        self.kubelets = [h.Kubelet(p, agent_overrides=AGENT).adopt() for p in self.pods]
        self.addCleanup(lambda: [k.close() for k in self.kubelets])
        for k in self.kubelets:
            k.wait_ready(180)
        self.boot = ",".join(f"{p.fqdn}:9092" for p in self.pods)

    def features(self, pod):
        """/status "features" and "finalization" once the agent has read them."""
        def got():
            s = pod.status()
            return s if s and s.get("finalization", {}).get("known") else None
        s = h.wait_for(got, 60, f"{pod.name}'s /status to show the feature levels")
        return s["features"], s["finalization"]

    def test_gated_upgrade_loses_nothing_and_finalization_clears_the_lag(self):
        env, pods = self.env, self.pods
        # Before: every broker runs the old software at its own newest metadata.version.
        feats, fin = self.features(pods[0])
        mv_old = feats["metadata.version"]["finalized"]
        self.assertEqual(feats["metadata.version"]["supported_max"], mv_old, feats)
        self.assertFalse(feats["metadata.version"]["lags"])
        self.assertFalse(fin["pending"], fin)
        self.assertEqual(feats["kraft.version"]["finalized"], 0, feats)

        env.probe("create-topic", "--bootstrap", self.boot, "--topic", TOPIC, "--partitions",
                  str(PARTITIONS), "--replication-factor", "3", f"min.insync.replicas={MIN_ISR}")
        watcher = h.MetaWatcher(pods[0], [TOPIC], MIN_ISR)
        self.addCleanup(watcher.stop)
        watcher.full_isr(120)
        load = h.Load(env, self.boot, [TOPIC], rate=LOAD_RATE, size=LOAD_SIZE, name="upgrade")
        self.assertEqual(load.partitions, PARTITIONS)
        watcher.reset()

        # The roll, watched through a broker not being rolled. Mid-way, an upgraded broker
        # sees the old level lag its software, and a broker not yet upgraded does not: the lag
        # is measured against each one's own software.
        seen = {}

        def hook(phase, kl, info):
            if phase == "before":
                watcher.via(pods[2] if kl.pod is pods[0] else pods[0])
            elif phase == "ready":
                seen[kl.pod.name] = self.features(kl.pod)
                if kl.pod.ordinal == 2:
                    seen["kafka-0 (old software)"] = self.features(pods[0])
        result = h.rolling_update(self.kubelets, "gated", hook=hook, libs=self.new_lib)
        settled = watcher.full_isr(300)
        stats = load.stop()
        episodes = watcher.summary()
        watcher.stop()
        check = h.verify(env, self.boot, [TOPIC], load.acked_path)

        steps = [{"pod": s["pod"], "prestop_s": round(s["prestop_s"], 2), "stop_s": round(s["stop_s"], 2),
                  "exit_code": s["exit_code"], "killed": s["killed"], "down_s": round(s["down_s"], 2),
                  "ready_after_start_s": round(s["ready_at"] - s["started_at"], 2),
                  "total_s": round(s["total_s"], 2)} for s in result["steps"]]
        h.figure("upgrade", upgrade_from=self.old, upgrade_to=self.new, mode="gated",
                 load=f"{LOAD_RATE} records/s x {LOAD_SIZE} B, 1 topic x {PARTITIONS} partitions, "
                      f"RF 3, min.insync.replicas {MIN_ISR}",
                 acked=check["acked"], lost=check["lost"], misordered_partitions=check["misordered"],
                 produce_failed=stats["failed"], produce_retried=stats["retried"],
                 under_min=episodes["under_min"], offline=episodes["offline"],
                 consumer_stall=stats["stall"], rollout_wall_s=round(result["wall_s"], 1),
                 settled_after_rollout_s=round(max(0.0, settled - result["steps"][-1]["ready_at"]), 1),
                 watcher_max_blind_s=episodes["max_blind_s"], steps=steps)

        self.assertLess(episodes["max_blind_s"], MAX_BLIND_S, "the watcher went blind during the roll")
        self.assertEqual(stats["sent"], stats["acked"] + sum(stats["failed"].values()))
        self.assertEqual(check["acked"], stats["acked"])
        self.assertGreater(stats["acked"], LOAD_RATE * result["wall_s"] * 0.5, "the load did not run")
        self.assertEqual(check["lost"], 0, "acknowledged records lost in the upgrade")
        self.assertEqual(check["misordered"], 0, "partitions out of order after the upgrade")
        self.assertEqual(stats["failed"], {})
        self.assertEqual(episodes["under_min"]["episodes"], 0, episodes["under_min"])
        self.assertEqual(episodes["offline"]["episodes"], 0, episodes["offline"])
        for s in result["steps"]:
            self.assertEqual((s["exit_code"], s["killed"]), (143, False), s)
            # The hook's exit code: kpa-probe.sh prestop exits 0 on kpa-agent's 200.
            self.assertEqual(s["prestop"][0], 0, s)

        # Mid-way and after the roll: upgraded brokers show the lag and the command.
        old_feats, old_fin = seen["kafka-0 (old software)"]
        self.assertFalse(old_feats["metadata.version"]["lags"], old_feats)
        self.assertFalse(old_fin["pending"])
        new_feats, new_fin = seen["kafka-2"]
        mv_new = new_feats["metadata.version"]["supported_max"]
        self.assertGreater(mv_new, mv_old)
        self.assertEqual(new_feats["metadata.version"]["finalized"], mv_old)
        self.assertTrue(new_feats["metadata.version"]["lags"])
        self.assertTrue(new_fin["pending"])
        feats, fin = self.features(pods[0])
        self.assertEqual(feats["metadata.version"], {"finalized": mv_old, "supported_min": feats["metadata.version"]["supported_min"],
                                                     "supported_max": mv_new, "lags": True})
        self.assertEqual(fin["features"], ["metadata.version"])
        # kraft.version lags too (the new software could run a dynamic quorum) but is never
        # part of the command: 0 -> 1 would turn the static quorum dynamic.
        self.assertTrue(feats["kraft.version"]["lags"])
        self.assertEqual(feats["kraft.version"]["finalized"], 0)
        cmd = shlex.split(fin["command"])
        self.assertEqual(cmd[0], "kafka-features.sh")
        self.assertEqual(cmd[-2:], ["--feature", f"metadata.version={mv_new}"])
        metrics = pods[0].get("/metrics")[1]
        self.assertIn('kpa_feature_finalized_level{feature="metadata.version"} %d\n' % mv_old, metrics)
        self.assertIn('kpa_feature_supported_max_level{feature="metadata.version"} %d\n' % mv_new, metrics)
        self.assertIn("kpa_feature_finalization_pending 1\n", metrics)

        # Finalization as docs/upgrade.md says: the command from /status, in a broker
        # container (kubectl -n kafka exec kafka-0 -c kafka -- /opt/kafka/bin/...).
        t = time.monotonic()
        r = self.in_broker(pods[0], ["/opt/kafka/bin/" + cmd[0]] + cmd[1:])
        self.assertIn(f"metadata.version was upgraded to {mv_new}.", r.stdout)
        for p in pods:
            h.wait_for(lambda: (lambda f: not f[1]["pending"] and f[0]["metadata.version"]["finalized"] == mv_new)(
                self.features(p)), 60, f"{p.name}'s /status to show metadata.version {mv_new} finalized")
        finalize_s = time.monotonic() - t
        feats, fin = self.features(pods[1])
        self.assertFalse(feats["metadata.version"]["lags"])
        self.assertNotIn("command", fin)
        self.assertEqual(feats["kraft.version"]["finalized"], 0, "the static quorum turned dynamic")
        self.assertIn("kpa_feature_finalization_pending 0\n", pods[1].get("/metrics")[1])
        # Kafka's own view agrees: kraft.version finalized at 0.
        d = self.in_broker(pods[0], ["/opt/kafka/bin/kafka-features.sh", "--bootstrap-server",
                                     f"{pods[0].fqdn}:9092", "describe"]).stdout
        kraft = [line for line in d.splitlines() if line.startswith("Feature: kraft.version")]
        self.assertEqual(len(kraft), 1, d)
        self.assertRegex(kraft[0], r"FinalizedVersionLevel:\s*0\s")
        h.figure("upgrade_finalize", upgrade_from=self.old, upgrade_to=self.new,
                 metadata_version_from=mv_old, metadata_version_to=mv_new, kraft_version=0,
                 finalize_s=round(finalize_s, 1))

    def in_broker(self, pod, cmd):
        """cmd in the pod's kafka container (its mounts, user and jars), as kubectl exec runs it."""
        c = pod.container("kafka")
        e = pod.container_env(c)
        e["KAFKA_HEAP_OPTS"] = "-Xmx256m"
        e["KAFKA_JVM_PERFORMANCE_OPTS"] = "-XX:TieredStopAtLevel=1"
        return h.run(pod.argv(cmd, "kafka"), env=e, timeout=120)


if __name__ == "__main__":
    unittest.main()
