"""Real Kafka: every kpa-init topology boots from kpa-init's files as written, forms a cluster,
serves produce and consume through kpa-init's own client.properties (kcat), and every agent
reaches /readyz 200. Peer: real Apache Kafka brokers (KPA_KAFKA_VERSION).

  a  combined mode, 3 nodes
  b  a separate controller StatefulSet (3 controllers + 3 brokers), default offsets
  c  SASL_SSL client and inter-broker listeners, SSL controller listener, CA-issued certificates
  d  the same from a cert-manager style Secret (leaf + intermediate + CA), client auth required
  e  an EXTERNAL listener from the external-nodeport overlay's template, through NodePorts
"""
import hashlib
import os
import signal
import unittest

import harness as h

USERS = {"kafka": "inter-broker secret", "alice": " spaced pass "}
# (c)'s inter-broker user, which kpa-agent also uses: a password ending in blanks reaches the
# broker intact only when client.properties is read as librdkafka reads it (kcat -F trims the
# line, so (c) produces and consumes with Kafka's Java client instead).
USERS_C = dict(USERS, kafka="inter-broker secret  ")
MESSAGES = [f"record-{i:04d}" for i in range(200)]


def digest(folder):
    """sha256 of every file of a folder, to prove nothing rewrote kpa-init's output."""
    out = {}
    for name in sorted(os.listdir(folder)):
        p = os.path.join(folder, name)
        if os.path.isfile(p):
            with open(p, "rb") as f:
                out[name] = hashlib.sha256(f.read()).hexdigest()
    return out


class Topology:
    """Shared tests; a subclass sets LETTER and builds its pods in build()."""
    LETTER = "?"
    # Java client properties for the client namespace: (protocol, user) or None (plaintext).
    CLIENT = None
    # Who produces and consumes: "kcat" (kpa-init's client.properties, inside a broker pod)
    # or "java" (Kafka's own Java client from the client namespace, as CLIENT says).
    CLIENT_TOOL = "kcat"

    @classmethod
    def setUpClass(cls):
        cls.env = h.Env()
        try:
            cls.pods = cls.build(cls.env)
            t0 = h.time.monotonic()
            for p in cls.pods:
                p.run_init()
            cls.digests = {p.name: digest(p.kpa_dir) for p in cls.pods}
            cls.brokers = [p for p in cls.pods if "broker" in p.roles]
            for p in cls.pods:
                p.start_broker()
                p.start_agent({"--interval": "1s", "--log-dirs-interval": "1s"})
            for p in cls.pods:
                p.wait_broker_up(timeout=180)
            cls.boot_s = h.time.monotonic() - t0
            for p in cls.pods:
                p.wait_ready(timeout=180)
            cls.ready_s = h.time.monotonic() - t0
            h.figure(f"topology_{cls.LETTER}", boot_s=round(cls.boot_s, 1), ready_s=round(cls.ready_s, 1),
                     pods=len(cls.pods))
        except BaseException:
            cls.env.close()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.env.close()

    def client_config(self):
        if self.CLIENT is None:
            return []
        protocol, user = self.CLIENT
        path = os.path.join(self.env.work, "client-java.properties")
        h.java_client_config(self.brokers[0], path, user, USERS.get(user), protocol)
        return ["--command-config", path]

    def bootstrap(self):
        return f"{self.brokers[0].fqdn}:9092"

    def kcat(self, pod, args, stdin=None):
        return h.run(pod.argv(["kcat", "-F", "/etc/kafka/kpa/client.properties"] + args),
                     input=stdin, env=pod.base_env(), timeout=60)

    def test_every_agent_reaches_readyz_200(self):
        for p in self.pods:
            code, body = p.get(p.path("readiness") + "?verbose")
            self.assertEqual(code, 200, f"{p.name}: {body}")

    def test_kafka_init_files_are_used_unmodified(self):
        for p in self.pods:
            self.assertEqual(digest(p.kpa_dir), self.digests[p.name], p.name)

    def test_produce_and_consume_with_kpa_init_client_properties(self):
        topic = f"topology-{self.LETTER}"
        self.env.probe("create-topic", "--bootstrap", self.bootstrap(), "--topic", topic,
                       "--partitions", "3", "--replication-factor", "3", *self.client_config())
        if self.CLIENT_TOOL == "java":
            out = self.env.probe("send", "--bootstrap", self.bootstrap(), "--topic", topic,
                                 *self.client_config(), stdin="\n".join(MESSAGES) + "\n")
            self.assertEqual(out, {"sent": len(MESSAGES)})
            out = self.env.probe("consume", "--bootstrap", f"{self.brokers[-1].fqdn}:9092",
                                 "--topic", topic, "--count", str(len(MESSAGES)), *self.client_config())
            self.assertEqual(out["values"], MESSAGES)
            return
        producer, consumer = self.brokers[0], self.brokers[-1]
        self.kcat(producer, ["-P", "-t", topic, "-X", "acks=all"], stdin="\n".join(MESSAGES) + "\n")
        r = self.kcat(consumer, ["-C", "-t", topic, "-o", "beginning", "-e", "-q", "-f", "%s\n"])
        self.assertEqual(sorted(r.stdout.split()), MESSAGES)

    def test_every_log_dir_is_measured_and_described_over_the_listener_security(self):
        # DescribeLogDirs goes over the agent's own transport (kconn: TLS, client
        # certificates, SASL PLAIN as client.properties says); a controller-only node's dirs
        # are measured but not described.
        for p in self.pods:
            broker = "broker" in p.roles

            def seen():
                d = p.status()["disk"]
                return d if (d["kafka"]["known"] or not broker) and all(
                    "free_bytes" in x for x in d["log_dirs"]) else None
            d = h.wait_for(seen, 60, f"{p.name}: its log dirs in /status")
            self.assertEqual(d["kafka"]["asked"], broker, p.name)
            self.assertEqual([x["dir"] for x in d["log_dirs"]], ["/var/lib/kafka/data/kafka-logs"], p.name)
            self.assertEqual([x["state"] for x in d["log_dirs"]], ["online" if broker else "unknown"], d)
            self.assertTrue(d["ok"], d)

    def test_kpa_agent_check_reports_ready(self):
        for p in self.pods:
            rc, out = p.agent_check()
            self.assertEqual((rc, out.get("ready")), (0, True), f"{p.name}: {out}")


class CombinedMode(Topology, unittest.TestCase):
    """(a) three nodes, each broker and controller, from k8s/base as it is."""
    LETTER = "a"

    @staticmethod
    def build(env):
        return [env.pod("kafka", i) for i in range(3)]

    def test_roles_and_voters(self):
        for p in self.pods:
            props = p.props()
            self.assertEqual(props["process.roles"], "broker,controller")
            self.assertEqual(props["node.id"], str(p.ordinal))
            self.assertEqual(props["controller.quorum.voters"], ",".join(
                f"{i}@kafka-{i}.kafka-headless.kafka.svc.cluster.local:9093" for i in range(3)))


class SeparateControllers(Topology, unittest.TestCase):
    """(b) a controller StatefulSet of 3 and a broker StatefulSet of 3, default offsets."""
    LETTER = "b"

    @staticmethod
    def build(env):
        extra = {"KPA_CONTROLLER_STATEFULSET": "kafka-controller"}
        ctl = [env.pod("kafka-controller", i, extra_env=extra) for i in range(3)]
        brk = [env.pod("kafka", i, extra_env=extra) for i in range(3)]
        return ctl + brk

    def test_controller_prestop_holds_while_another_voter_is_down(self):
        # Stopping a second controller of three would leave no caught-up majority.
        ctl = [p for p in self.pods if p.roles == "controller"]
        stopped, asked = ctl[2], ctl[0]
        self.assertEqual(stopped.broker.stop(signal.SIGTERM, timeout=120), 143)
        h.wait_for(lambda: asked.status()["quorum"]["safe_to_stop"]["safe"] is False, 60,
                   f"{asked.name}'s /status to show the quorum unsafe to stop")
        t, result = asked.prestop_async()
        t.join(timeout=8)
        self.assertTrue(t.is_alive(), f"/prestop answered while a voter is down: {result}")
        restarted = h.time.monotonic()
        stopped.start_broker()
        stopped.wait_broker_up(timeout=180)
        t.join(timeout=120)
        self.assertFalse(t.is_alive(), "/prestop still held after the voter came back")
        self.assertEqual(result["code"], 200)
        self.assertTrue(result["body"].startswith("safe to stop"), result["body"])
        h.figure("controller_prestop_release_after_restart", seconds=round(result["at"] - restarted, 1))
        stopped.wait_ready(timeout=120)

    def test_controller_prestop_holds_while_a_voter_that_looks_caught_up_does_not_answer(self):
        # A voter paused a moment ago still looks caught up to the leader (its last caught-up
        # time is recent); the gate asks it directly, and it does not answer.
        ctl = [p for p in self.pods if p.roles == "controller"]
        leader = ctl[0].status()["quorum"]["leader"]
        asked = next(p for p in ctl if p.node_id != leader)
        paused = next(p for p in ctl if p.node_id not in (leader, asked.node_id))
        paused.broker.send(signal.SIGSTOP)
        try:
            t, result = asked.prestop_async()
            stop = h.wait_for(lambda: (lambda s: s if "when asked" in s["reason"] else None)(
                asked.status()["quorum"]["safe_to_stop"]), 30,
                f"{asked.name}'s gate to find voter {paused.node_id} not answering")
            self.assertFalse(stop["safe"], stop)
            self.assertIn(f"voter {paused.node_id} did not answer when asked", stop["reason"])
            self.assertTrue(t.is_alive(), f"/prestop answered while a voter is paused: {result}")
        finally:
            paused.broker.send(signal.SIGCONT)
        resumed = h.time.monotonic()
        t.join(timeout=120)
        self.assertFalse(t.is_alive(), "/prestop still held after the voter resumed")
        self.assertEqual(result["code"], 200)
        self.assertTrue(result["body"].startswith("safe to stop"), result["body"])
        h.figure("controller_prestop_release_after_resume", seconds=round(result["at"] - resumed, 1))

    def test_min_insync_replicas_is_the_cluster_wide_value_the_controllers_were_given(self):
        # ELR (4.1+): the first active controller turns its own static value into the
        # cluster-level default, which outranks every broker's config (kpa-init writes the
        # template's value on the controllers too).
        out = self.env.probe("describe", "--bootstrap", self.bootstrap(), "--broker",
                             str(self.brokers[0].node_id), "--key", "min.insync.replicas")
        self.assertEqual((out["value"], out["source"]), ("2", "DYNAMIC_DEFAULT_BROKER_CONFIG"))

    def test_node_ids_do_not_overlap(self):
        ids = [p.node_id for p in self.pods]
        self.assertEqual(len(set(ids)), 6, ids)
        self.assertEqual([p.roles for p in self.pods], ["controller"] * 3 + ["broker"] * 3)


class SeparateControllersSaslController(Topology, unittest.TestCase):
    """(b) with SASL_SSL everywhere, the controller listener included: a broker-only node
    logs in to the controllers with its own JAAS entry for that listener."""
    LETTER = "f"
    CLIENT = ("SASL_SSL", "alice")
    CLIENT_TOOL = "java"

    @staticmethod
    def build(env):
        ca = h.make_ca(os.path.join(env.work, "secrets", "ca"))
        users = h.make_users(os.path.join(env.work, "secrets", "users"), USERS)
        extra = {"KPA_CONTROLLER_STATEFULSET": "kafka-controller",
                 "KPA_SECURITY_PROTOCOL_MAP": "INTERNAL:SASL_SSL,CONTROLLER:SASL_SSL",
                 "KPA_TLS_CA_DIR": "/etc/kafka/ca", "KPA_SASL_USERS_DIR": "/etc/kafka/sasl-users"}
        mounts = [(ca, "/etc/kafka/ca"), (users, "/etc/kafka/sasl-users")]
        ctl = [env.pod("kafka-controller", i, extra_env=extra, extra_mounts=mounts) for i in range(3)]
        brk = [env.pod("kafka", i, extra_env=extra, extra_mounts=mounts) for i in range(3)]
        return ctl + brk

    def test_broker_only_nodes_log_in_to_the_sasl_controller_listener(self):
        for p in self.brokers:
            props = p.props()
            self.assertEqual(props["sasl.mechanism.controller.protocol"], "PLAIN")
            self.assertIn('username="kafka"', props["listener.name.controller.plain.sasl.jaas.config"])


class SaslSslIssuedFromCa(Topology, unittest.TestCase):
    """(c) SASL_SSL client and inter-broker listeners, an SSL controller listener; kpa-init
    issues each pod's certificate from a CA."""
    LETTER = "c"
    CLIENT = ("SASL_SSL", "alice")
    CLIENT_TOOL = "java"

    @staticmethod
    def build(env):
        ca = h.make_ca(os.path.join(env.work, "secrets", "ca"))
        users = h.make_users(os.path.join(env.work, "secrets", "users"), USERS_C)
        extra = {"KPA_LISTENERS": "INTERNAL://:9092,CONTROLLER://:9093,CLIENT://:9094",
                 "KPA_SECURITY_PROTOCOL_MAP": "INTERNAL:SASL_SSL,CONTROLLER:SSL,CLIENT:SASL_SSL",
                 "KPA_TLS_CA_DIR": "/etc/kafka/ca", "KPA_SASL_USERS_DIR": "/etc/kafka/sasl-users"}
        mounts = [(ca, "/etc/kafka/ca"), (users, "/etc/kafka/sasl-users")]
        return [env.pod("kafka", i, extra_env=extra, extra_mounts=mounts) for i in range(3)]

    def test_client_listener_takes_a_password_with_spaces(self):
        # alice's password begins and ends with a space: SASL/PLAIN must get it byte for byte.
        path = os.path.join(self.env.work, "alice.properties")
        h.java_client_config(self.brokers[0], path, "alice", USERS["alice"], "SASL_SSL")
        out = self.env.probe("describe", "--bootstrap", f"{self.brokers[0].fqdn}:9094",
                             "--broker-default", "x", "--key", "min.insync.replicas",
                             "--command-config", path)
        self.assertEqual(out["key"], "min.insync.replicas")


class CertManagerSecretMutualTls(Topology, unittest.TestCase):
    """(d) as (c), from a cert-manager style Secret (leaf + intermediate + CA), with
    KPA_TLS_CLIENT_AUTH=required: the tls-sasl overlay's listeners."""
    LETTER = "d"
    CLIENT = ("SASL_SSL", "alice")

    @staticmethod
    def build(env):
        tls = h.make_cert_manager_secret(os.path.join(env.work, "secrets", "tls"), [
            "*.kafka-headless.kafka.svc.cluster.local", "*.kafka-headless.kafka.svc",
            "kafka-bootstrap.kafka.svc.cluster.local", "kafka-bootstrap.kafka.svc"])
        users = h.make_users(os.path.join(env.work, "secrets", "users"), USERS)
        # The tls-sasl overlay as rendered: its listeners, KPA_TLS_DIR from Secret kafka-tls,
        # KPA_TLS_CLIENT_AUTH=required, SASL users from Secret kafka-sasl-users.
        secrets = {"kafka-tls": tls, "kafka-sasl-users": users}
        return [env.pod("kafka", i, kustomization="k8s/overlays/tls-sasl", secrets=secrets)
                for i in range(3)]

    def test_mtls_listener_refuses_a_client_without_certificate(self):
        path = os.path.join(self.env.work, "nocert.properties")
        with open(path, "w") as f:
            f.write(f"security.protocol=SSL\nssl.truststore.type=PEM\n"
                    f"ssl.truststore.location={self.brokers[0].kpa_dir}/ca.pem\n")
        r = h.run(self.env.probe_argv("describe", "--bootstrap", f"{self.brokers[0].fqdn}:9094",
                                      "--broker-default", "x", "--key", "min.insync.replicas",
                                      "--command-config", path), check=False, timeout=120)
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("SslAuthenticationException", r.stderr)


class ExternalListenerTemplate(Topology, unittest.TestCase):
    """(e) the external-nodeport overlay: EXTERNAL advertised as {host_ip}:{31090+ordinal};
    the harness plays kube-proxy's NodePorts; the client is given node addresses only."""
    LETTER = "e"

    @staticmethod
    def build(env):
        # The external-nodeport overlay as rendered.
        pods = [env.pod("kafka", i, kustomization="k8s/overlays/external-nodeport") for i in range(3)]
        for p in pods:
            h.NodePort(env, 31090 + p.ordinal, p.ip, 9094)
        return pods

    def test_advertised_external_address(self):
        for p in self.pods:
            self.assertIn(f"EXTERNAL://{h.HOST_IP}:{31090 + p.ordinal}",
                          p.props()["advertised.listeners"].split(","))

    def test_external_client_produces_through_node_ports(self):
        # Only the node address is known outside: no pod DNS name is needed.
        boot = f"{h.HOST_IP}:31090"
        self.env.probe("create-topic", "--bootstrap", boot, "--topic", "external",
                       "--partitions", "3", "--replication-factor", "3")
        out = self.env.probe("produce", "--bootstrap", boot, "--topic", "external", "--count", "300")
        self.assertEqual(out, {"acked": 300, "errors": {}})


if __name__ == "__main__":
    unittest.main()
