"""Real Kafka: scale-down safety (docs/scale-down.md). Four pods of k8s/base on Apache Kafka
(KPA_KAFKA_VERSION): kafka-0..2 combined controller+broker (the quorum), kafka-3 broker-only
(KPA_CONTROLLER_COUNT stays 3). The harness's fake Kubernetes API server (harness.KubeApi,
tests/init/fake_apiserver.py: HTTPS with a test CA, one bearer token) serves StatefulSet
kafka/kafka with the spec.replicas the test sets, and the pods get its address, token and CA as
Kubernetes gives them (the service account volume, KUBERNETES_SERVICE_HOST/PORT), so kpa-agent
reads it with the manifest's own env and RBAC-shaped request.

- A restart (spec.replicas 4, kafka-3 hosts replicas): /prestop is not held by this rule.
- The read refused (403, the Role missing): kafka-3's /prestop holds (fail closed), /status
  and the log name the fault and the fix; once the read is allowed again it releases.
- A scale to 3 while a producer writes (acks=all): kafka-3's /prestop holds, /status names the
  reason and the exact commands; the reassignment the docs describe runs (kpa-scale-down.sh
  with Kafka's own kafka-reassign-partitions.sh, in kafka-3's kafka container, the brokers
  being removed derived from --target-replicas 3 as the Job of k8s/extras does); /prestop
  releases only after that; the broker stops; its fenced registration shows (DescribeCluster
  with fenced brokers) until the documented unregister (--target-replicas 3 again: the fenced
  broker found by kafka-cluster.sh list-endpoints --include-fenced-brokers) removes it; every
  acknowledged record is read back.
"""
import json
import re
import subprocess
import time
import unittest

import harness as h

TOPIC = "scale"
PARTITIONS = 8
MIN_ISR = 2
SCRIPT = "/etc/kafka/template/kpa-scale-down.sh"
# The kafka container runs the tools beside the broker: a small heap for each.
TOOL_ENV = {"KPA_TOOL_HEAP_OPTS": "-Xmx256m", "KAFKA_JVM_PERFORMANCE_OPTS": "-XX:TieredStopAtLevel=1"}


class RealScaleDown(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.env = h.Env()
        try:
            cls.pods = [cls.env.pod("kafka", i) for i in range(4)]
            assert cls.env.kube_api.replicas("kafka") == 4, cls.env.kube_api.replicas("kafka")
            cls.env.start(cls.pods, agent_overrides={"--interval": "1s", "--prestop-timeout": "300s"})
            for p in cls.pods:
                p.wait_ready(timeout=180)
            self_roles = [p.roles for p in cls.pods]
            assert self_roles == ["broker,controller"] * 3 + ["broker"], self_roles
            # The pods that stay: the producer and the tools never depend on kafka-3.
            cls.boot = ",".join(f"{p.fqdn}:9092" for p in cls.pods[:3])
            cls.env.probe("create-topic", "--bootstrap", cls.boot, "--topic", TOPIC,
                          "--partitions", str(PARTITIONS), "--replication-factor", "3",
                          f"min.insync.replicas={MIN_ISR}")
            for p in cls.pods:
                p.wait_ready(timeout=180)
        except BaseException:
            cls.env.close()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.env.close()

    def scale(self, replicas):
        self.env.kube_api.scale("kafka", replicas)

    def scale_down_status(self, pod, pred, what, timeout=60):
        """pod's /status once pred(scale_down, partitions) holds."""
        return h.wait_for(lambda: (lambda s: s if s and pred(s.get("scale_down") or {}, s.get("partitions") or {})
                                   else None)(pod.status()), timeout, what)

    def brokers(self):
        return self.env.probe("brokers", "--bootstrap", self.boot)["brokers"]

    def in_container(self, pod, *args, timeout=600):
        c = pod.container("kafka")
        e = dict(pod.container_env(c), **TOOL_ENV)
        return h.run(pod.argv(list(args), "kafka"), check=False, env=e, timeout=timeout)

    def test_1_restart_below_replicas_is_not_held(self):
        pod = self.pods[3]
        s = self.scale_down_status(pod, lambda sd, parts: sd.get("replicas") == 4 and parts.get("hosted", 0) > 0,
                                   "kafka-3 to read spec.replicas 4 and host replicas")
        sd = s["scale_down"]
        self.assertEqual(sd["state"], "stays", sd)
        self.assertFalse(sd["holds_prestop"], sd)
        self.assertIsNone(sd["move_command"])
        # It hosts replicas: were it being removed, this rule would hold it.
        self.assertGreater(s["partitions"]["hosted"], 0, s["partitions"])
        code, body = pod.get(pod.path("prestop"), timeout=120)
        self.assertEqual(code, 200)
        self.assertTrue(body.startswith("safe to stop: "), body)
        self.assertNotIn("removed", body)

    def test_1b_a_refused_read_holds_the_prestop_until_it_is_allowed(self):
        pod = self.pods[3]
        api = self.env.kube_api
        api.forbid()
        try:
            thread, res = pod.prestop_async(timeout=400)
            s = self.scale_down_status(pod, lambda sd, parts: sd.get("holds_prestop")
                                       and "(HTTP 403)" in (sd.get("lookup_error") or ""),
                                       "kafka-3's /prestop to hold on the refused read")
            sd = s["scale_down"]
            err = sd["lookup_error"]
            self.assertTrue(err.startswith(
                'the service account cannot get StatefulSet kafka/kafka: add "kafka" to resourceNames of Role '
                "kafka/kafka-kpa-statefulset-reader (its rule for get on statefulsets) and bind that Role to this "
                'pod\'s service account (HTTP 403) (API server: "statefulsets.apps'), err)
            self.assertEqual(sd["state"], "unknown")
            self.assertIsNone(sd["replicas"])
            self.assertEqual(sd["reason"], "cannot tell a scale-down from a restart, so /prestop holds until "
                             f"spec.replicas can be read (again every 3 s) or the prestop timeout ends: {err}; fix "
                             "that (k8s/base: the Role and RoleBinding kafka-kpa-statefulset-reader and the service "
                             "account token), or leave --pod-name (KPA_POD_NAME) unset to turn the scale-down rule off")
            self.assertEqual(res, {}, "the /prestop must still be held")
            code, metrics = pod.get("/metrics")
            self.assertEqual(code, 200)
            self.assertIn("\nkpa_scale_down_lookup_ok 0\n", metrics)
            self.assertIn("\nkpa_scale_down_holds_prestop 1\n", metrics)
        finally:
            api.forbid(False)
        t_allowed = time.monotonic()
        thread.join(120)
        self.assertEqual(res.get("code"), 200, res)
        self.assertTrue(res["body"].startswith("safe to stop: "), res["body"])
        self.assertGreater(res["at"], t_allowed)
        with open(pod.agent.logpath, errors="replace") as f:
            warned = [line for line in f if "statefulset_unknown" in line and "(HTTP 403)" in line]
        self.assertEqual(len(warned), 1, warned)
        self.assertIn("every /prestop holds until this is fixed or the prestop timeout ends (or leave --pod-name "
                      "unset to turn the scale-down rule off)", warned[0])

    def test_2_scale_down_holds_until_reassigned_then_unregisters(self):
        pod = self.pods[3]
        load = h.Load(self.env, self.boot, [TOPIC], rate=200, size=500)
        self.scale(3)
        t0 = time.monotonic()
        thread, res = pod.prestop_async(timeout=400)
        s = self.scale_down_status(pod, lambda sd, parts: sd.get("replicas") == 3 and sd.get("holds_prestop")
                                   and re.search(r"still hosts \d+ partition", sd.get("reason", "")),
                                   "kafka-3's /status to hold for the scale-down, naming what it hosts")
        sd = s["scale_down"]
        hosted = s["partitions"]["hosted"]
        self.assertGreater(hosted, 0)
        self.assertEqual(sd["state"], "removing")
        self.assertEqual(sd["reason"], "pod kafka-3 is being removed (ordinal 3 >= spec.replicas 3 of StatefulSet "
                         f"kafka/kafka) and broker 3 still hosts {hosted} partition replica"
                         f"{'' if hosted == 1 else 's'}: move them away first (move_command), then the stop proceeds")
        self.assertEqual(sd["move_command"], f"kubectl -n kafka exec kafka-3 -c kafka -- bash {SCRIPT} reassign "
                         f"--bootstrap-server {s['broker']['bootstrap']} --remove 3")
        self.assertEqual(s["broker"]["bootstrap"], f"{pod.fqdn}:9092")
        self.assertEqual(sd["unregister_command"], f"kubectl -n kafka exec kafka-0 -c kafka -- bash {SCRIPT} "
                         f"unregister --bootstrap-server {self.pods[0].fqdn}:9092 --remove 3")
        self.assertEqual(res, {}, "the /prestop must still be held")

        # The documented reassignment: the move_command's script, in kafka-3's kafka container,
        # with the Job's way of naming the brokers removed (the target replicas, no id list).
        t_move = time.monotonic()
        self.assertEqual(res, {}, "the /prestop must still be held when the reassignment starts")
        r = self.in_container(pod, "bash", SCRIPT, "reassign", "--bootstrap-server", f"{pod.fqdn}:9092",
                              "--target-replicas", "3", "--node-id-offset", "0",
                              "--command-config-if-exists", "/etc/kafka/client/client.properties",
                              "--timeout", "300")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("no client config at /etc/kafka/client/client.properties: the tools connect without one "
                      "(PLAINTEXT)\n", r.stdout)
        self.assertIn("brokers removed by a scale to 3 replicas (node ids >= 3): 3\n", r.stdout)
        self.assertIn("done: no partition has a replica on brokers 3", r.stdout)
        moved = time.monotonic()

        thread.join(120)
        self.assertEqual(res.get("code"), 200, res)
        self.assertTrue(res["body"].startswith("safe to stop: "), res["body"])
        self.assertIn("broker 3 hosts no replica", res["body"])
        self.assertGreater(res["at"], t_move)
        # The broker stops (SIGTERM, as the kubelet sends after the hook), then its agent.
        pod.broker.stop()
        pod.agent.stop()

        # Its registration lingers, fenced, until it is unregistered.
        h.wait_for(lambda: {"id": 3, "fenced": True} in self.brokers(), 60, "broker 3 to show fenced")
        # Broker 3 is fenced now: the target replicas still find it (list-endpoints with fenced).
        r = self.in_container(self.pods[0], "bash", SCRIPT, "unregister", "--bootstrap-server",
                              f"{self.pods[0].fqdn}:9092", "--target-replicas", "3")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("brokers removed by a scale to 3 replicas (node ids >= 3): 3\nunregistering broker 3\n", r.stdout)
        self.assertEqual(self.brokers(), [{"id": i, "fenced": False} for i in range(3)])

        stats = load.stop()
        v = h.verify(self.env, self.boot, [TOPIC], load.acked_path)
        self.assertGreater(v["acked"], 0)
        self.assertEqual(v["lost"], 0, v)
        self.assertEqual(v["misordered"], 0, v)
        h.figure("scale_down", hosted=hosted, held_s=round(res["at"] - t0, 1),
                 reassign_s=round(moved - t_move, 1), acked=v["acked"], lost=v["lost"],
                 failed=sum(stats.get("failed", {}).values()))
        asked = self.env.kube_api.requests()
        self.assertIn("/apis/apps/v1/namespaces/kafka/statefulsets/kafka", asked)
        self.assertEqual(set(asked), {"/apis/apps/v1/namespaces/kafka/statefulsets/kafka"})


if __name__ == "__main__":
    unittest.main()
