"""Real Kafka: the stop gate fails closed. Peer: a 3-node combined-mode Apache Kafka cluster
(KPA_KAFKA_VERSION) with Kafka's StandardAuthorizer and SASL PLAIN, shared by every class:

- GateFailsClosed: kpa-agent's SASL user may describe topics (Metadata) but not their configs
  (DescribeConfigs), as in a locked-down cluster whose ACLs forgot the agent; then it may.
- GateTrustsNoStaleView (runs second: unittest runs classes in name order, and it needs the
  ACLs the first class grants last): metadata that lags reality never releases a stop. An
  in-sync peer that crashed but is not yet fenced (SIGSTOP) holds it; an agent that cannot
  reach its healthy broker (a wrong SASL password) holds it past --stale-after until a peer
  shows the broker fenced. (A broker cut off from the controllers, whose own view is stale:
  test_stale_view.)
- LeadershipNeedsClusterAlter (runs last): the agent may not ALTER the CLUSTER, so a restarted
  broker's preferred leader election is refused; /status says why, readiness does not wait,
  /livez is untouched; once granted, the next restart restores leadership.
"""
import os
import re
import signal
import time
import unittest

import harness as h
from faults import drop_tcp, undrop

USERS = {"kafka": "inter-broker secret", "agent": "agent secret"}
TEMPLATE_EXTRA = """
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
# The brokers reach the controllers on the PLAINTEXT controller listener as ANONYMOUS.
super.users=User:kafka;User:ANONYMOUS
"""


CLUSTER = {}


def setUpModule():
    env = h.Env()
    CLUSTER["env"] = env
    try:
        users = h.make_users(os.path.join(env.work, "secrets", "users"), USERS)
        extra = {"KPA_SECURITY_PROTOCOL_MAP": "INTERNAL:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT",
                 "KPA_SASL_USERS_DIR": "/etc/kafka/sasl-users", "KPA_SASL_AGENT_USER": "agent"}
        template = h.manifest()["configmap"]["data"]["server.properties"] + TEMPLATE_EXTRA
        pods = [env.pod("kafka", i, extra_env=extra, template=template,
                        extra_mounts=[(users, "/etc/kafka/sasl-users")]) for i in range(3)]
        CLUSTER["pods"] = pods
        env.start(pods, agent_overrides=AGENT_OVERRIDES)
        admin = os.path.join(env.work, "admin.properties")
        h.java_client_config(pods[0], admin, "kafka", USERS["kafka"], "SASL_PLAINTEXT")
        CLUSTER["admin"] = admin
        CLUSTER["boot"] = f"{pods[0].fqdn}:9092"
    except BaseException:
        env.close()
        raise


def tearDownModule():
    if "env" in CLUSTER:
        CLUSTER["env"].close()


AGENT_OVERRIDES = {"--interval": "1s", "--prestop-timeout": "6s"}


class GateFailsClosed(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.env = CLUSTER["env"]
        cls.pods = CLUSTER["pods"]
        cls.admin = CLUSTER["admin"]
        cls.boot = CLUSTER["boot"]
        # Ready (no topic yet) means the brokers serve clients: an admin call made earlier may
        # find no node to send to on a loaded machine.
        for p in cls.pods:
            p.wait_ready(timeout=180)
        cls.env.probe("acl", "--bootstrap", cls.boot, "--command-config", cls.admin,
                      "--principal", "User:agent", "--resource-type", "topic", "--name", "*",
                      "--operation", "describe")
        cls.env.probe("create-topic", "--bootstrap", cls.boot, "--command-config", cls.admin,
                      "--topic", "locked", "--partitions", "3", "--replication-factor", "3")
        for p in cls.pods:
            p.wait_ready(timeout=180)

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


class GateTrustsNoStaleView(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.env = CLUSTER["env"]
        cls.pods = CLUSTER["pods"]
        admin, boot = CLUSTER["admin"], CLUSTER["boot"]
        for p in cls.pods:
            p.wait_ready(timeout=180)
        # The gate's asks are DescribeConfigs of each peer's own BROKER resource. (ACLs are
        # idempotent: GateFailsClosed grants the same ones.)
        for rtype, name, op in (("topic", "*", "describe"), ("topic", "*", "describe_configs"),
                                ("cluster", "kafka-cluster", "describe_configs")):
            cls.env.probe("acl", "--bootstrap", boot, "--command-config", admin,
                          "--principal", "User:agent", "--resource-type", rtype, "--name", name,
                          "--operation", op)
        cls.env.probe("create-topic", "--bootstrap", boot, "--command-config", admin,
                      "--topic", "gate", "--partitions", "3", "--replication-factor", "3")
        for p in cls.pods:
            p.wait_ready(timeout=180)

    def released(self, pod, timeout=120):
        """Asks /prestop until it says safe (each ask waits up to --prestop-timeout)."""
        return h.wait_for(lambda: (lambda r: r if r[1].startswith("safe to stop") else None)(
            pod.get(pod.path("prestop"), timeout=60)), timeout, f"{pod.name}'s /prestop to release")

    def gate(self, pod):
        st = pod.status()
        return (st or {}).get("safe_to_stop", {}).get("gate")

    def restore_agent(self, pod):
        pod.agent.stop(signal.SIGTERM, timeout=30)
        pod.start_agent(AGENT_OVERRIDES)
        pod.wait_ready(180)

    def test_an_in_sync_peer_that_does_not_answer_holds_the_stop(self):
        asked, paused_pod = self.pods[0], self.pods[2]
        peer = paused_pod.node_id
        self.released(asked)
        # A crash KRaft has not noticed yet: for broker.session.timeout.ms (9 s) the paused
        # broker is still listed, and in every ISR.
        paused = time.monotonic()
        paused_pod.broker.send(signal.SIGSTOP)
        try:
            t, result = asked.prestop_async(timeout=60)
            g = h.wait_for(lambda: (lambda g: g if g and g["peers_not_answering"] else None)(
                self.gate(asked)), 30, "the gate to name a peer that does not answer")
            seen = time.monotonic() - paused
            self.assertEqual(g["peers_not_answering"], [peer], g)
            self.assertFalse(g["safe"], g)
            self.assertIn(f"in-sync peers not answering as themselves: {peer} ({peer}: ", g["reason"])
            self.assertIn("(1 more listed, not answering)", g["reason"])
            t.join(60)
            self.assertEqual(result["code"], 200)
            self.assertTrue(result["body"].startswith("gave up waiting after the prestop timeout: "
                                                      "stopping would leave"), result["body"])
        finally:
            paused_pod.broker.send(signal.SIGCONT)
        h.figure("gate_unanswered_peer_named", seconds_after_pause=round(seen, 1))
        code, body = self.released(asked)
        self.assertRegex(body, r"2 of 2 in-sync peers asked answered as themselves")

    def test_a_silent_broker_is_held_past_stale_after_until_a_peer_shows_it_fenced(self):
        pod = self.pods[1]
        # The agent cannot reach its healthy, in-sync broker (the path from the agent to the
        # broker's listener drops every packet), and has never reached it: it finds the other
        # brokers at the controllers' hosts of its server.properties.
        pod.agent.stop(signal.SIGTERM, timeout=30)
        self.addCleanup(self.restore_agent, pod)
        drop_tcp(pod, "lo", ("dport", 9092))
        self.addCleanup(undrop, pod, "lo")
        pod.start_agent(dict(AGENT_OVERRIDES, **{"--prestop-timeout": "90s", "--stale-after": "3s"}))
        h.wait_for(lambda: pod.status(), 60, f"{pod.name}'s agent to answer")
        asked = time.monotonic()
        t, result = pod.prestop_async(timeout=150)
        g = h.wait_for(lambda: (lambda g: g if g and "still lists it" in g["reason"] else None)(
            self.gate(pod)), 60, "the gate to see the broker listed by a peer")
        self.assertFalse(g["safe"], g)
        self.assertRegex(g["reason"], r"^the local broker does not answer, but broker \d still lists "
                                      r"it registered and in the ISR of \d+ partitions")
        # Well past --stale-after (3 s), still held.
        h.wait_for(lambda: time.monotonic() - asked > 3 + 5, 30, "time past --stale-after")
        self.assertTrue(t.is_alive(), result)
        self.assertIn("still lists it", self.gate(pod)["reason"])
        # Now it is really gone: paused past the session timeout, the controllers fence it.
        paused = time.monotonic()
        pod.broker.send(signal.SIGSTOP)
        try:
            t.join(90)
            self.assertFalse(t.is_alive(), "/prestop still held after the broker was fenced")
        finally:
            pod.broker.send(signal.SIGCONT)
        self.assertEqual(result["code"], 200)
        self.assertRegex(result["body"], r"^safe to stop: the local broker does not answer, and "
                                         r"broker \d lists it (as fenced or unregistered|in no ISR)")
        h.figure("gate_silent_broker_released_after_fencing",
                 held_s=round(result["at"] - asked, 1), after_pause_s=round(result["at"] - paused, 1))
        self.assertGreater(result["at"] - paused, 5, "released before KRaft could have fenced it")


if __name__ == "__main__":
    unittest.main()


class LeadershipNeedsClusterAlter(unittest.TestCase):
    """Runs last (unittest runs classes in name order). The agent's user may not ALTER the
    CLUSTER resource, so a restarted broker's preferred leader election is refused: the agent
    gives up at once, /status says why, readiness does not wait for it and /livez is untouched.
    Once the ACL is granted, the next restart's election restores leadership."""

    @classmethod
    def setUpClass(cls):
        cls.env = CLUSTER["env"]
        cls.pods = CLUSTER["pods"]
        cls.admin, cls.boot = CLUSTER["admin"], CLUSTER["boot"]
        for p in cls.pods:
            p.wait_ready(timeout=180)
        # The agent must see the topics (idempotent: GateFailsClosed grants the same).
        cls.env.probe("acl", "--bootstrap", cls.boot, "--command-config", cls.admin,
                      "--principal", "User:agent", "--resource-type", "topic", "--name", "*",
                      "--operation", "describe")
        cls.env.probe("create-topic", "--bootstrap", cls.boot, "--command-config", cls.admin,
                      "--topic", "leaders", "--partitions", "3", "--replication-factor", "3")
        for p in cls.pods:
            p.wait_ready(timeout=180)

    def restart_broker(self, pod):
        """SIGTERM (a controlled shutdown: its leaderships move to the others), start again,
        and wait until /readyz answers 200."""
        pod.broker.stop(signal.SIGTERM, timeout=60)
        pod.start_broker()
        pod.wait_ready(180)

    def failed_total(self, pod):
        _, text = pod.get("/metrics")
        m = re.search(r'(?m)^kpa_leader_elections_total\{result="failed"\} (\d+)$', text)
        self.assertIsNotNone(m, text)
        return int(m.group(1))

    def leadership(self, pod, state):
        return h.wait_for(lambda: (lambda s: s if s["state"] == state else None)(pod.status()["leadership"]),
                          60, f"{pod.name}'s /status leadership.state {state}")

    def test_without_alter_on_the_cluster_the_election_is_refused_and_said_and_readiness_does_not_wait(self):
        pod = self.pods[1]
        # The counter is the agent's since it started: earlier classes' restarts count too.
        failed_before = self.failed_total(pod)
        self.restart_broker(pod)
        st = self.leadership(pod, "gave_up")
        last = st["last_election"]
        self.assertGreaterEqual(st["preferred"], 1, st)
        self.assertEqual(st["skewed"], st["preferred"] - st["preferred_led"], st)
        self.assertEqual((last["asked"], last["failed"], last["results"]),
                         (st["skewed"], st["skewed"], {"CLUSTER_AUTHORIZATION_FAILED": st["skewed"]}), st)
        self.assertEqual(last["error"], "CLUSTER_AUTHORIZATION_FAILED (31): the agent's principal needs "
                                        "ALTER on the CLUSTER resource (docs/kpa-agent.md)")
        self.assertIn("gave up after 1 failed election", st["reason"])
        self.assertEqual(st["requests_since_ready"], 1, st)
        self.assertEqual(pod.get(pod.path("liveness"))[0], 200)
        code, body = pod.get("/readyz?verbose")
        self.assertEqual(code, 200, body)
        self.assertIn("[+]leadership ok", body)
        self.assertEqual(self.failed_total(pod) - failed_before, st["skewed"])

        # Granted: the next restart restores leadership.
        self.env.probe("acl", "--bootstrap", self.boot, "--command-config", self.admin,
                       "--principal", "User:agent", "--resource-type", "cluster", "--name", "kafka-cluster",
                       "--operation", "alter")
        self.restart_broker(pod)
        st = self.leadership(pod, "restored")
        self.assertEqual((st["skewed"], st["preferred_led"], st["last_election"]["failed"]),
                         (0, st["preferred"], 0), st)
