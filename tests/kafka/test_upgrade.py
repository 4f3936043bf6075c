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
import json
import os
import shlex
import subprocess
import time
import unittest

import harness as h

RATE = 200          # records a second
PARTITIONS = 6
MIN_ISR = 2
# Short enough that /status shows a finalization within seconds; the shipped default is 60 s.
AGENT = {"--features-interval": "5s"}


def upgrade_versions():
    roles = {role: v for v, role in h.versions()}
    return (os.environ.get("KPA_KAFKA_UPGRADE_FROM", roles["shipped"]),
            os.environ.get("KPA_KAFKA_UPGRADE_TO", roles["newest"]))


def episodes(events, t0, t1):
    """Under-min-ISR and offline episodes per partition from watcher events between t0 and
    t1: (count, seconds) each."""
    state = {}
    under, offline = {}, {}
    n_under = n_off = 0
    s_under = s_off = 0.0
    for ev in events:
        if "partition" not in ev:
            continue
        key = (ev["topic"], ev["partition"])
        at = ev["at"]
        is_under = len(ev["isr"]) < MIN_ISR
        is_off = ev["leader"] < 0
        if is_under and key not in under:
            under[key] = at
            n_under += at >= t0
        elif not is_under and key in under:
            if at >= t0:
                s_under += at - max(under[key], t0)
            del under[key]
        if is_off and key not in offline:
            offline[key] = at
            n_off += at >= t0
        elif not is_off and key in offline:
            if at >= t0:
                s_off += at - max(offline[key], t0)
            del offline[key]
        state[key] = ev
    s_under += sum(t1 - max(a, t0) for a in under.values())
    s_off += sum(t1 - max(a, t0) for a in offline.values())
    return (n_under, s_under), (n_off, s_off)


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

        env.probe("create-topic", "--bootstrap", self.boot, "--topic", "upgrade", "--partitions",
                  str(PARTITIONS), "--replication-factor", "3", f"min.insync.replicas={MIN_ISR}")
        watcher = env.watcher(self.boot, ["upgrade"])
        self.addCleanup(watcher.stop)
        watcher.wait(lambda s: len(s) == PARTITIONS and all(len(e["isr"]) == 3 for e in s.values()),
                     60, "every partition of upgrade fully in sync")
        acked_path = os.path.join(env.work, "acked.txt")
        load = subprocess.Popen(env.probe_argv("load", "--bootstrap", self.boot, "--topic", "upgrade",
                                               "--rate", str(RATE), "--acked", acked_path),
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, start_new_session=True)
        env.procs.append(h._Adopted(load))
        started = load.stdout.readline()
        self.assertIn('"load":"started"', started, load.stderr.read() if not started else started)
        h.wait_for(lambda: os.path.getsize(acked_path) > 0, 60, "the load's first acknowledgement")

        # The roll. Mid-way, an upgraded broker sees the old level lag its software, and a
        # broker not yet upgraded does not: the lag is measured against each one's software.
        seen = {}

        def hook(phase, kl, info):
            if phase == "ready":
                seen[kl.pod.name] = self.features(kl.pod)
                if kl.pod.ordinal == 2:
                    seen["kafka-0 (old software)"] = self.features(pods[0])
        t0 = time.monotonic()
        roll = h.rolling_update(self.kubelets, "gated", hook=hook, libs=self.new_lib)
        t1 = time.monotonic()

        out, err = load.communicate(timeout=180)   # closes stdin: the load ends
        result = json.loads(out.strip().splitlines()[-1])
        watcher.stop()
        (n_under, s_under), (n_off, s_off) = episodes(watcher.events, t0, t1)

        read_path = os.path.join(env.work, "read.txt")
        check = env.probe("verify", "--bootstrap", self.boot, "--topic", "upgrade", "--out", read_path,
                          timeout=300)
        acked = {}
        with open(acked_path) as f:
            for line in f:
                p, o, s, _ = line.split()
                acked[(int(p), int(o))] = int(s)
        read = {}
        order_ok = True
        last = {}
        with open(read_path) as f:
            for line in f:
                p, o, s = (int(x) for x in line.split())
                read[(p, o)] = s
                order_ok &= s > last.get(p, -1)
                last[p] = s
        lost = sum(1 for k, s in acked.items() if read.get(k) != s)

        per_pod = [{"pod": st["pod"], "prestop_s": round(st["prestop_s"], 1), "stop_s": round(st["stop_s"], 1),
                    "down_s": round(st["down_s"], 1), "total_s": round(st["total_s"], 1)}
                   for st in roll["steps"]]
        h.figure("upgrade", upgrade_from=self.old, upgrade_to=self.new, rate=RATE,
                 partitions=PARTITIONS, wall_s=round(roll["wall_s"], 1), per_pod=per_pod,
                 sent=result["sent"], acked=result["acked"], lost=lost, read=check["records"],
                 corrupt=check["corrupt"], errors=result["errors"], retries=result["retries"],
                 max_ack_gap_s=result["max_ack_gap_ms"] / 1000, under_min_episodes=n_under,
                 under_min_s=round(s_under, 1), offline_episodes=n_off, offline_s=round(s_off, 1))

        self.assertEqual(result["acked"], len(acked))
        self.assertGreater(result["acked"], RATE * 10, result)
        self.assertEqual(lost, 0, "acknowledged records lost")
        self.assertEqual(check["corrupt"], 0)
        self.assertTrue(order_ok, "a partition's records are out of order")
        self.assertEqual(result["errors"], {}, result)
        self.assertEqual((n_under, n_off), (0, 0), "under-min-ISR / offline episodes in a gated roll")
        self.assertTrue(all(st["prestop"][0] == 200 for st in roll["steps"]), roll["steps"])

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
