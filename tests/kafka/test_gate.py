"""Real Kafka: the stop gate fails closed when min.insync.replicas cannot be read. Peer: a
3-node combined-mode Apache Kafka cluster (KPA_KAFKA_VERSION) with Kafka's StandardAuthorizer,
where kpa-agent's SASL user may describe topics (Metadata) but not their configs
(DescribeConfigs), as in a locked-down cluster whose ACLs forgot the agent.
"""
import os
import re
import time
import unittest

import harness as h

USERS = {"kafka": "inter-broker secret", "agent": "agent secret"}
TEMPLATE_EXTRA = """
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
# The brokers reach the controllers on the PLAINTEXT controller listener as ANONYMOUS.
super.users=User:kafka;User:ANONYMOUS
"""


class GateFailsClosed(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.env = h.Env()
        try:
            users = h.make_users(os.path.join(cls.env.work, "secrets", "users"), USERS)
            extra = {"KPA_SECURITY_PROTOCOL_MAP": "INTERNAL:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT",
                     "KPA_SASL_USERS_DIR": "/etc/kafka/sasl-users", "KPA_SASL_AGENT_USER": "agent"}
            template = h.manifest()["configmap"]["data"]["server.properties"] + TEMPLATE_EXTRA
            cls.pods = [cls.env.pod("kafka", i, extra_env=extra, template=template,
                                    extra_mounts=[(users, "/etc/kafka/sasl-users")]) for i in range(3)]
            cls.env.start(cls.pods, agent_overrides={"--interval": "1s", "--prestop-timeout": "6s"})
            cls.admin = os.path.join(cls.env.work, "admin.properties")
            h.java_client_config(cls.pods[0], cls.admin, "kafka", USERS["kafka"], "SASL_PLAINTEXT")
            cls.boot = f"{cls.pods[0].fqdn}:9092"
            cls.env.probe("acl", "--bootstrap", cls.boot, "--command-config", cls.admin,
                          "--principal", "User:agent", "--resource-type", "topic", "--name", "*",
                          "--operation", "describe")
            cls.env.probe("create-topic", "--bootstrap", cls.boot, "--command-config", cls.admin,
                          "--topic", "locked", "--partitions", "3", "--replication-factor", "3")
            for p in cls.pods:
                p.wait_ready(timeout=180)
        except BaseException:
            cls.env.close()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.env.close()

    def test_unknown_min_isr_holds_the_stop_then_releases_once_readable(self):
        pod = self.pods[0]
        # Every partition is fully in sync, yet without min.insync.replicas the agent cannot
        # know that a stop is safe: it holds until --prestop-timeout and says why.
        t = time.monotonic()
        code, body = pod.get(pod.path("prestop"), timeout=60)
        held = time.monotonic() - t
        self.assertEqual(code, 200)
        self.assertTrue(body.startswith("gave up waiting"), body)
        self.assertRegex(body, r"min\.insync\.replicas is unknown for 3 hosted partitions")
        self.assertGreaterEqual(held, 5.0)
        status = pod.status()
        self.assertEqual(status["safe_to_stop"]["min_isr_unknown"], 3, status.get("safe_to_stop"))
        # The same agent releases at once when its user may read the configs.
        for rtype, name in (("topic", "*"), ("cluster", "kafka-cluster")):
            self.env.probe("acl", "--bootstrap", self.boot, "--command-config", self.admin,
                           "--principal", "User:agent", "--resource-type", rtype, "--name", name,
                           "--operation", "describe_configs")
        code, body = h.wait_for(lambda: (lambda r: r if r[1].startswith("safe to stop") else None)(
            pod.get(pod.path("prestop"), timeout=60)), 60, "/prestop to release once configs are readable")
        self.assertEqual(code, 200)
        self.assertTrue(re.match(r"safe to stop", body), body)


if __name__ == "__main__":
    unittest.main()
