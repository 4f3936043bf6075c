"""k8s/base/config/kpa-scale-down.sh against stand-ins for Kafka's tools (KAFKA_BIN: shell
scripts of this test that print what a 4.x tool prints and record how they were called): the
brokers being removed derived from --target-replicas and --node-id-offset, the client config
passed to every tool (--command-config, or --command-config-if-exists as the Job gives it),
the reassignment plan, bad input refused with one line and exit 2, and the Job of
k8s/extras/scale-down-job.yaml run as written (its command, args and env, its mounts moved
into a scratch folder). Peer: test_scaledown
(real Kafka) runs the same script against real brokers."""
import json
import os
import re
import subprocess
import tempfile
import unittest

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(os.path.dirname(os.path.dirname(HERE)), "k8s", "base", "config", "kpa-scale-down.sh")

# kafka-cluster.sh list-endpoints --include-fenced-brokers, as ClusterTool prints it: broker 4
# is gone already (fenced), 103 is of a set with offset 100.
ENDPOINTS = """ID         HOST                                  PORT       RACK       STATE      ENDPOINT_TYPE
0          kafka-0.kafka-headless.kafka.svc      9092       null       unfenced   broker
1          kafka-1.kafka-headless.kafka.svc      9092       null       unfenced   broker
2          kafka-2.kafka-headless.kafka.svc      9092       null       unfenced   broker
3          kafka-3.kafka-headless.kafka.svc      9092       null       unfenced   broker
4          kafka-4.kafka-headless.kafka.svc      9092       null       fenced     broker
"""
# kafka-configs.sh --entity-type brokers --describe: the live brokers.
BROKERS = "".join(f"Dynamic configs for broker {i} are:\n" for i in range(4))
# kafka-topics.sh --describe: a partition still names broker 5, unregistered already.
TOPICS = (
    "Topic: t\tTopicId: x\tPartitionCount: 3\tReplicationFactor: 3\tConfigs: \n"
    "\tTopic: t\tPartition: 0\tLeader: 0\tReplicas: 0,1,3\tIsr: 0,1,3\n"
    "\tTopic: t\tPartition: 1\tLeader: 1\tReplicas: 1,2,0\tIsr: 1,2,0\n"
    "\tTopic: t\tPartition: 2\tLeader: 2\tReplicas: 2,3,5\tIsr: 2,3\n"
)
# The same once kafka-3's pod is gone too.
GONE = ENDPOINTS.replace("9092       null       unfenced   broker\n4", "9092       null       fenced     broker\n4")
AFTER = TOPICS.replace("0,1,3", "0,1,2").replace("2,3,5", "2,0,1")

STUB = """#!/bin/bash
printf '%s' "$(basename "$0")" >>"$KPA_TEST_CALLS"; printf ' %s' "$@" >>"$KPA_TEST_CALLS"; echo >>"$KPA_TEST_CALLS"
case "$(basename "$0")" in
kafka-cluster.sh) [ "$1" = list-endpoints ] && cat "$KPA_TEST_DIR/endpoints"; exit 0 ;;
kafka-configs.sh) cat "$KPA_TEST_DIR/brokers" ;;
kafka-topics.sh) if [ -e "$KPA_TEST_DIR/executed" ]; then cat "$KPA_TEST_DIR/after"; else cat "$KPA_TEST_DIR/topics"; fi ;;
kafka-reassign-partitions.sh)
        for a in "$@"; do case $a in
                --execute) touch "$KPA_TEST_DIR/executed"; cp "${@: -1}" "$KPA_TEST_DIR/plan.json" ;;
                --verify) echo "Reassignment of partition t-0 is completed." ;;
        esac; done ;;
esac
"""


class KpaScaleDown(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        d = self.dir.name
        os.mkdir(os.path.join(d, "bin"))
        for tool in ("kafka-cluster.sh", "kafka-configs.sh", "kafka-topics.sh", "kafka-reassign-partitions.sh"):
            path = os.path.join(d, "bin", tool)
            with open(path, "w") as f:
                f.write(STUB)
            os.chmod(path, 0o755)
        for name, text in (("endpoints", ENDPOINTS), ("brokers", BROKERS), ("topics", TOPICS), ("after", AFTER)):
            with open(os.path.join(d, name), "w") as f:
                f.write(text)
        self.calls = os.path.join(d, "calls")
        open(self.calls, "w").close()
        self.config = os.path.join(d, "client.properties")
        with open(self.config, "w") as f:
            f.write("security.protocol=SASL_SSL\n")

    def tearDown(self):
        self.dir.cleanup()

    def run_script(self, *args):
        env = dict(os.environ, KAFKA_BIN=os.path.join(self.dir.name, "bin"), KPA_TEST_DIR=self.dir.name,
                   KPA_TEST_CALLS=self.calls)
        return subprocess.run(["bash", SCRIPT, *args], capture_output=True, text=True, env=env, timeout=60)

    def called(self):
        with open(self.calls) as f:
            return f.read().splitlines()

    def endpoints(self, text):
        with open(os.path.join(self.dir.name, "endpoints"), "w") as f:
            f.write(text)

    def test_unregister_derives_the_ids_at_or_above_the_target_fenced_ones_too(self):
        self.endpoints(GONE)
        r = self.run_script("unregister", "--bootstrap-server", "k:9092", "--target-replicas", "3")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("brokers removed by a scale to 3 replicas (node ids >= 3): 3,4\n", r.stdout)
        self.assertEqual(self.called(), [
            "kafka-cluster.sh list-endpoints --bootstrap-server k:9092 --include-fenced-brokers",
            "kafka-cluster.sh unregister --bootstrap-server k:9092 --id 3",
            "kafka-cluster.sh unregister --bootstrap-server k:9092 --id 4",
        ])

    def test_unregister_by_target_refuses_while_a_removed_broker_is_unfenced(self):
        r = self.run_script("unregister", "--bootstrap-server", "k:9092", "--target-replicas", "3")
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertEqual(r.stderr, "kpa-scale-down.sh: brokers 3 are still registered and not fenced (do their pods "
                                   "still run?): unregister them once their pods are gone\n")
        # Nothing was unregistered, not even the fenced broker 4.
        self.assertEqual(self.called(), [
            "kafka-cluster.sh list-endpoints --bootstrap-server k:9092 --include-fenced-brokers"])

    def test_the_node_id_offset_moves_the_first_removed_id(self):
        self.endpoints(GONE)
        r = self.run_script("unregister", "--bootstrap-server", "k:9092", "--target-replicas", "2",
                            "--node-id-offset", "1")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("(node ids >= 3): 3,4\n", r.stdout)
        r = self.run_script("unregister", "--bootstrap-server", "k:9092", "--target-replicas", "5",
                            "--node-id-offset", "0")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "no broker has a node id at or above 5 (offset 0 + 5 replicas): nothing to unregister\n")

    def test_reassign_by_target_moves_the_registered_and_the_named_replicas_away(self):
        r = self.run_script("reassign", "--bootstrap-server", "k:9092", "--target-replicas", "3",
                            "--command-config", self.config, "--timeout", "30")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        # 3 and 4 are registered, 5 only named as a replica; all three are at or above 3.
        self.assertIn("brokers removed by a scale to 3 replicas (node ids >= 3): 3,4,5\n", r.stdout)
        self.assertIn("done: no partition has a replica on brokers 3,4,5\n", r.stdout)
        with open(os.path.join(self.dir.name, "plan.json")) as f:
            plan = json.load(f)
        self.assertEqual(plan, {"version": 1, "partitions": [
            {"topic": "t", "partition": 0, "replicas": [0, 1, 2]},
            {"topic": "t", "partition": 2, "replicas": [2, 0, 1]},
        ]})
        # Every tool got the client config, in its own flag's spelling.
        for line in self.called():
            want = "--config " if line.startswith("kafka-cluster.sh") else "--command-config "
            self.assertIn(want + self.config, line)

    def test_command_config_if_exists_passes_it_only_when_the_secret_is_mounted(self):
        r = self.run_script("unregister", "--bootstrap-server", "k:9092", "--remove", "3",
                            "--command-config-if-exists", self.config)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(f"client config: {self.config}\n", r.stdout)
        self.assertEqual(self.called(), [f"kafka-cluster.sh unregister --bootstrap-server k:9092 --config {self.config} --id 3"])
        open(self.calls, "w").close()
        missing = os.path.join(self.dir.name, "none", "client.properties")
        r = self.run_script("unregister", "--bootstrap-server", "k:9092", "--remove", "3",
                            "--command-config-if-exists", missing)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(f"no client config at {missing}: the tools connect without one (PLAINTEXT)\n", r.stdout)
        self.assertEqual(self.called(), ["kafka-cluster.sh unregister --bootstrap-server k:9092 --id 3"])

    def test_bad_input_is_refused_with_one_line_and_exit_2(self):
        cases = [
            (["--target-replicas", "three"], "kpa-scale-down.sh: --target-replicas \"three\" is not a whole number from 0 to 999999999"),
            (["--target-replicas", "3", "--node-id-offset", "-1"], "kpa-scale-down.sh: --node-id-offset \"-1\" is not a whole number from 0 to 999999999"),
            (["--target-replicas", "0"], "kpa-scale-down.sh: --target-replicas 0 removes every broker: there is nowhere to move the replicas"),
            (["--target-replicas", "3", "--remove", "3"], "kpa-scale-down.sh: give --remove or --target-replicas, not both"),
            ([], "kpa-scale-down.sh: --remove \"\" is not a comma-separated list of node ids (or give --target-replicas)"),
            (["--remove", "3", "--command-config", "/nonexistent/c.properties"], "kpa-scale-down.sh: --command-config \"/nonexistent/c.properties\" is not a readable file"),
            (["--remove", "3", "--command-config", self.config, "--command-config-if-exists", self.config],
             "kpa-scale-down.sh: give --command-config or --command-config-if-exists, not both"),
            (["--remove"], "kpa-scale-down.sh: option \"--remove\" needs a value"),
        ]
        for extra, want in cases:
            r = self.run_script("reassign", "--bootstrap-server", "k:9092", *extra)
            self.assertEqual((r.returncode, r.stderr), (2, want + "\n"), extra)
        self.assertEqual(self.called(), [])

    def job_argv(self, job, client_dir, step=None):
        """The Job's container as the kubelet runs it: $(VAR) from its env, mounts remapped."""
        c = job["spec"]["template"]["spec"]["containers"][0]
        env = {e["name"]: e["value"] for e in c["env"]}
        if step:
            env["STEP"] = step
        argv = [re.sub(r"\$\((\w+)\)", lambda m: env[m.group(1)], a) for a in c["command"] + c["args"]]
        mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
        self.assertEqual(mounts["/etc/kafka/scale-down"], "scale-down")
        self.assertEqual(mounts["/etc/kafka/client"], "client")
        argv = [a.replace("/etc/kafka/scale-down/kpa-scale-down.sh", SCRIPT).replace("/etc/kafka/client", client_dir)
                for a in argv]
        self.assertEqual(argv[:2], ["/bin/bash", SCRIPT])
        return argv[2:]

    def test_the_job_as_written_derives_the_ids_and_takes_the_client_secret(self):
        with open(os.path.join(os.path.dirname(os.path.dirname(HERE)), "k8s", "extras", "scale-down-job.yaml")) as f:
            job = yaml.safe_load(f)
        vols = {v["name"]: v for v in job["spec"]["template"]["spec"]["volumes"]}
        sources = vols["client"]["projected"]["sources"]
        self.assertEqual([(x["secret"]["name"], x["secret"]["optional"], x["secret"]["items"]) for x in sources], [
            ("kafka-scale-down-client", True, [{"key": "client.properties", "path": "client.properties"}]),
            ("kafka-tls", True, [{"key": "ca.crt", "path": "ca.crt"}]),
        ])
        # Not world-readable: the properties hold a password.
        self.assertEqual(vols["client"]["projected"]["defaultMode"], 0o440)
        # A plain cluster: no Secret, so an empty folder, and no client config.
        empty = os.path.join(self.dir.name, "empty")
        os.mkdir(empty)
        r = self.run_script(*self.job_argv(job, empty))
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("brokers removed by a scale to 3 replicas (node ids >= 3): 3,4,5\n", r.stdout)
        self.assertTrue(all("-config " not in line for line in self.called()), self.called())
        # TLS/SASL: the Secret mounted; the unregister step too, once the pods are gone.
        self.endpoints(GONE)
        open(self.calls, "w").close()
        os.remove(os.path.join(self.dir.name, "executed"))
        r = self.run_script(*self.job_argv(job, self.dir.name, step="unregister"))
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        cfg = os.path.join(self.dir.name, "client.properties")
        self.assertEqual(self.called(), [
            f"kafka-cluster.sh list-endpoints --bootstrap-server kafka-0.kafka-headless.kafka.svc.cluster.local:9092 "
            f"--config {cfg} --include-fenced-brokers",
            f"kafka-cluster.sh unregister --bootstrap-server kafka-0.kafka-headless.kafka.svc.cluster.local:9092 "
            f"--config {cfg} --id 3",
            f"kafka-cluster.sh unregister --bootstrap-server kafka-0.kafka-headless.kafka.svc.cluster.local:9092 "
            f"--config {cfg} --id 4",
        ])


if __name__ == "__main__":
    unittest.main()
