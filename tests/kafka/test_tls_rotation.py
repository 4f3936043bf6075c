"""Real Kafka: kpa-agent puts a renewed certificate in place without a broker restart
(docs/tls-rotation.md). One node in combined mode from the tls-sasl overlay (SASL_SSL INTERNAL,
SSL CONTROLLER, mTLS MTLS listeners, a cert-manager style Secret: leaf + intermediate + root),
with KPA_TLS_DIR given to the agent as the overlay does. The Secret is replaced the way the
kubelet does it: a new "..<timestamp>" folder, then an atomic swap of the "..data" symlink.

The tests run in order on the same broker (test_1..test_5): each starts from what the previous
one left, and each proves its point by what the broker serves (a TLS handshake) and by the
agent's /status.
"""
import datetime
import os
import re
import subprocess
import unittest

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

import faults
import harness as h

USERS = {"kafka": "inter-broker secret", "alice": "alice secret"}
DNS = ["*.kafka-headless.kafka.svc.cluster.local", "*.kafka-headless.kafka.svc"]
TOPIC = "rotation"
# The agent re-checks the Secret this often besides its change events: short here, so that a
# refusal logged "once" is seen to stay logged once over several re-checks.
RECHECK = "2s"
# Bound on a rotation: debounce (1 s) + rebuild + DescribeConfigs + AlterConfigs + the
# broker's reload + handshakes, on a loaded 2-core machine under ASan.
ROTATION_BOUND_S = 90
# The agent's confirmation bound (TLSROT_CONFIRM_MS) and its bound on one handshake
# (TLSROT_CALL_MIN_MS): a listener out of reach fails a rotation after about their sum.
CONFIRM_S, HANDSHAKE_S = 60, 15


def _inter(secret):
    work = os.path.join(secret, ".work")
    with open(os.path.join(work, "inter.key"), "rb") as f:
        key = serialization.load_pem_private_key(f.read(), None)
    with open(os.path.join(work, "inter.crt"), "rb") as f:
        cert = x509.load_pem_x509_certificate(f.read())
    with open(os.path.join(work, "inter.crt")) as f:
        pem = f.read()
    return key, cert, pem


def make_leaf(secret, out, dns=DNS, not_before=None, not_after=None, other_key=False, drop=()):
    """A Secret folder `out` with a new leaf from the intermediate of `secret`: tls.crt (leaf
    then intermediate), tls.key, ca.crt. other_key: tls.key is a key that does not match;
    drop: files left out (a half-written Secret). Returns the leaf's serial (upper-case hex)."""
    ikey, icert, ipem = _inter(secret)
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    nb = not_before or now - datetime.timedelta(minutes=5)
    na = not_after or now + datetime.timedelta(days=10)
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kafka")]))
            .issuer_name(icert.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(nb).not_valid_after(na)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                           critical=False)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(d) for d in dns]), critical=False)
            .sign(ikey, hashes.SHA256()))
    os.makedirs(out, exist_ok=True)
    files = {
        "tls.crt": cert.public_bytes(serialization.Encoding.PEM).decode() + ipem,
        "tls.key": (ec.generate_private_key(ec.SECP256R1()) if other_key else key).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode(),
    }
    with open(os.path.join(secret, "ca.crt")) as f:
        files["ca.crt"] = f.read()
    for name, text in files.items():
        if name not in drop:
            with open(os.path.join(out, name), "w") as f:
                f.write(text)
    # As OpenSSL prints it (BN_bn2hex, openssl x509 -serial): whole bytes, so a leading 0 nibble shows.
    hexs = format(cert.serial_number, "X")
    return "0" + hexs if len(hexs) % 2 else hexs


class TlsRotation(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.env = h.Env()
        try:
            work = os.path.join(cls.env.work, "secrets")
            cls.secret = h.make_cert_manager_secret(os.path.join(work, "tls"), DNS)
            users = h.make_users(os.path.join(work, "users"), USERS)
            tmpl = h.single_node_template("k8s/overlays/tls-sasl")
            cls.pod = cls.env.pod("kafka", 0, kustomization="k8s/overlays/tls-sasl",
                                  secrets={"kafka-tls": cls.secret, "kafka-sasl-users": users},
                                  extra_env={"KPA_CONTROLLER_COUNT": "1"}, template=tmpl)
            cls.env.start([cls.pod], agent_overrides={"--interval": "1s", "--tls-recheck-interval": RECHECK})
            cls.pod.wait_ready(timeout=180)
            cls.volume = cls.pod.volumes["tls"]
            cls.boot = f"{cls.pod.fqdn}:9092"
            cls.client = os.path.join(cls.env.work, "alice.properties")
            h.java_client_config(cls.pod, cls.client, "alice", USERS["alice"], "SASL_SSL")
            cls.env.probe("create-topic", "--bootstrap", cls.boot, "--topic", TOPIC, "--partitions", "2",
                          "--replication-factor", "1", "--command-config", cls.client)
            cls.ks = os.path.join(cls.pod.kpa_dir, "keystore.p12")
        except BaseException:
            cls.env.close()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.env.close()

    def tls_status(self):
        return self.pod.status()["tls"]

    def wait_rotation(self, pred, what, bound=ROTATION_BOUND_S):
        try:
            return h.wait_for(lambda: (lambda t: t if pred(t) else None)(self.tls_status()), bound, what)
        except TimeoutError as e:
            raise AssertionError(f"{e}; /status tls: {self.tls_status()}; agent: {self.agent_tls_lines()}") from None

    def agent_tls_lines(self):
        with open(os.path.join(self.pod.root, "agent.log")) as f:
            return [line.strip() for line in f if "tls_" in line][-10:]

    def configs(self, *args):
        return self.env.tool("kafka-configs.sh", "--bootstrap-server", self.boot, "--command-config", self.client,
                             "--entity-type", "brokers", "--entity-name", str(self.pod.node_id), *args)

    def agent_log_count(self, event):
        with open(os.path.join(self.pod.root, "agent.log")) as f:
            return sum(1 for line in f if f'"{event}"' in line or f"event={event}" in line)

    def test_1_a_renewed_leaf_is_served_without_restart_and_without_produce_errors(self):
        # An operator's per-broker dynamic config, set beforehand, must survive: the legacy
        # AlterConfigs the agent sends replaces the whole per-broker set.
        self.configs("--alter", "--add-config", "log.cleaner.threads=2")
        before = self.tls_status()
        old = h.served_serial(self.pod, 9092)
        self.assertEqual(before["listeners"][0]["served"]["serial"], old)
        pid = self.pod.broker.pid
        load = h.Load(self.env, self.boot, [TOPIC], rate=100, size=200, name="rotation",
                      command_config=self.client)
        serial = make_leaf(self.secret, os.path.join(self.env.work, "renewed"))
        t0 = h.time.monotonic()
        h.swap_secret(self.volume, os.path.join(self.env.work, "renewed"))
        t = self.wait_rotation(lambda t: t["last_rotation"] and t["last_rotation"]["result"] == "rotated",
                               "the agent's /status reports the rotation")
        took = h.time.monotonic() - t0
        self.assertEqual(t["last_rotation"]["serial"], serial)
        # Every TLS listener the agent handshakes serves it, and so does each port, from outside.
        self.assertEqual({l["name"]: l["served"]["serial"] for l in t["listeners"]}, {"INTERNAL": serial, "MTLS": serial})
        self.assertEqual(h.served_serial(self.pod, 9092), serial)
        self.assertEqual(h.served_serial(self.pod, 9094), serial,
                         f"/status tls: {self.tls_status()}; agent: {self.agent_tls_lines()}")
        # The controller listener of a combined node is reloaded with the broker's.
        self.assertEqual(h.served_serial(self.pod, 9093), serial)
        self.assertEqual(self.pod.broker.pid, pid, "the broker was restarted")
        # Produce through the rotation, and a few seconds after it on new connections.
        h.time.sleep(3)
        stats = load.stop()
        self.assertEqual(stats["failed"], {}, stats)
        self.assertGreater(stats["acked"], 0)
        check = h.verify(self.env, self.boot, [TOPIC], load.acked_path, self.client)
        self.assertEqual(check["lost"], 0, check)
        # The operator's value is still there, beside kpa's own keys.
        out = self.configs("--describe").stdout
        self.assertIn("log.cleaner.threads=2", out)
        self.assertIn("listener.name.internal.ssl.keystore.location=", out)
        # The agent keeps checking its broker with the new material.
        self.pod.wait_ready(timeout=60)
        self.assertEqual(self.agent_log_count("tls_rotated"), 1)
        # How long the broker's network processors took to agree (each reloads on its own).
        agreed = int(re.search(r"(\d+)ms after the broker took the reload", t["last_rotation"]["reason"]).group(1))
        h.figure("tls_leaf_rotation", rotation_s=round(took, 1), processors_agreed_s=round(agreed / 1000, 1),
                 acked=stats["acked"], retried=sum(stats["retried"].values()))

    def refused(self, name, reason_part, **leaf):
        """Bad material: refused with reason_part, logged once over several re-checks, the
        key store and the served certificate untouched."""
        with open(self.ks, "rb") as f:
            store = f.read()
        serving = h.served_serial(self.pod, 9092)
        count = self.agent_log_count("tls_rotation_refused")
        src = os.path.join(self.env.work, name)
        make_leaf(self.secret, src, **leaf)
        h.swap_secret(self.volume, src)
        t = self.wait_rotation(lambda t: t["last_rotation"]["result"] == "refused" and
                               reason_part in t["last_rotation"]["reason"], f"{name}: refused")
        # Three more re-checks find the same material: still one log line.
        h.time.sleep(3 * 2 + 1)
        self.assertEqual(self.agent_log_count("tls_rotation_refused"), count + 1, name)
        with open(self.ks, "rb") as f:
            self.assertEqual(f.read(), store, f"{name}: the key store changed")
        self.assertEqual(h.served_serial(self.pod, 9092), serving)
        self.assertEqual(t["listeners"][0]["served"]["serial"], serving)
        return t

    def test_2_bad_material_keeps_the_old_stores_and_the_broker_untouched(self):
        self.refused("mismatch", "KPA_TLS_DIR/tls.key does not match the certificate", other_key=True)
        self.refused("uncovered", f"advertised host {self.pod.fqdn} is not covered", dns=["other.example.com"])
        now = datetime.datetime.now(datetime.timezone.utc)
        self.refused("expired", "KPA_TLS_DIR/tls.crt expired at",
                     not_before=now - datetime.timedelta(days=20), not_after=now - datetime.timedelta(days=1))
        self.refused("half-written", "KPA_TLS_DIR/tls.key: file not found", drop=("tls.key",))
        # The metrics count each refusal once.
        code, body = self.pod.get("/metrics")
        self.assertIn('kpa_tls_rotation_total{result="refused"} 4', body)
        self.assertIn('kpa_tls_rotation_total{result="rotated"} 1', body)

    def test_3_a_sensitive_per_broker_config_is_never_dropped_the_rotation_is_refused(self):
        # Kafka returns no value for a config of unknown type (it may be a password): the
        # agent cannot send it back, so it refuses, names it, and touches nothing.
        self.configs("--alter", "--add-config", "kpa.test.custom=keep-me")
        # Only once the broker itself shows it: AlterConfigs goes through the controller, and
        # a rotation that read the set before the broker applied it would not see it
        # (docs/tls-rotation.md, Limits).
        h.wait_for(lambda: "kpa.test.custom" in self.configs("--describe").stdout, 60, "the broker shows the config")
        t = self.refused("sensitive", "per-broker dynamic config kpa.test.custom is sensitive")
        self.assertIn("kpa.test.custom", t["last_rotation"]["reason"])
        self.assertIn("kpa.test.custom", self.configs("--describe").stdout)
        # Once the operator moves it away, the same watch rotates.
        self.configs("--alter", "--delete-config", "kpa.test.custom")
        h.wait_for(lambda: "kpa.test.custom" not in self.configs("--describe").stdout, 60, "the config is gone")
        serial = make_leaf(self.secret, os.path.join(self.env.work, "after-sensitive"))
        h.swap_secret(self.volume, os.path.join(self.env.work, "after-sensitive"))
        self.wait_rotation(lambda t: t["last_rotation"]["result"] == "rotated" and
                           t["last_rotation"]["serial"] == serial, "rotated after the config was moved")
        self.assertEqual(h.served_serial(self.pod, 9092), serial)

    def test_4_expiry_is_visible(self):
        code, body = self.pod.get("/metrics")
        t = self.tls_status()
        na = {l["name"]: l["served"]["not_after"] for l in t["listeners"]}
        m = dict(re.findall(r'kpa_tls_cert_not_after_seconds\{listener="(\w+)"\} (\d+)', body))
        self.assertEqual(set(m), {"INTERNAL", "MTLS"})
        for name, secs in m.items():
            self.assertEqual(datetime.datetime.fromtimestamp(int(secs), datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                             na[name])
        # 10 days left, under the default 14-day warning: the condition warns, readiness stays.
        self.assertFalse(t["tls_expiry"]["ok"])
        self.assertIn("expires in 9 days", t["tls_expiry"]["reason"])
        self.assertIn("kpa_tls_expiry_ok 0", body)
        self.assertEqual(self.pod.get(self.pod.path("readiness"))[0], 200)

    def rotation_totals(self):
        code, body = self.pod.get("/metrics")
        return {k: int(v) for k, v in re.findall(r'kpa_tls_rotation_total\{result="(\w+)"\} (\d+)', body)}

    def test_5_a_reload_not_confirmed_fails_once_then_is_retried_at_the_next_recheck(self):
        # The MTLS listener out of the agent's reach (its TCP packets to port 9094 dropped in the
        # pod): the stores are written and the broker takes the reload (INTERNAL serves the new
        # serial), but the agent cannot confirm MTLS. That is the state a 4.4.0 broker leaves
        # when its network processors reload at different moments: the stores are the new ones
        # (a restart uses them), the broker not confirmed; the reload is asked again, with no
        # new Secret, once every listener answers.
        pid = self.pod.broker.pid
        before = self.rotation_totals()
        failed_logged = self.agent_log_count("tls_rotation_failed")
        old = h.served_serial(self.pod, 9094)
        serial = make_leaf(self.secret, os.path.join(self.env.work, "unconfirmed"))
        self.addCleanup(faults.undrop, self.pod, "lo")
        faults.drop_tcp(self.pod, "lo", ("dport", 9094))
        t0 = h.time.monotonic()
        h.swap_secret(self.volume, os.path.join(self.env.work, "unconfirmed"))
        t = self.wait_rotation(lambda t: t["last_rotation"]["result"] == "failed", "the rotation reported failed",
                               bound=CONFIRM_S + 4 * HANDSHAKE_S + ROTATION_BOUND_S)
        failed_s = h.time.monotonic() - t0
        self.assertEqual(t["last_rotation"]["reason"], f"the broker took the reload but does not serve serial {serial} "
                         f"on every TLS listener after {CONFIRM_S * 1000}ms (retried)")
        # Written: the key store holds the new leaf; taken: INTERNAL serves it; MTLS unconfirmed.
        self.assertEqual(t["stored"]["serial"], serial)
        listeners = {l["name"]: l for l in t["listeners"]}
        self.assertEqual(listeners["INTERNAL"]["served"]["serial"], serial)
        self.assertIsNone(listeners["MTLS"]["served"], t)
        self.assertNotEqual(t["last_rotation"].get("serial"), serial)
        self.assertEqual(h.served_serial(self.pod, 9092), serial)
        self.assertEqual(self.rotation_totals(), dict(before, failed=before.get("failed", 0) + 1))
        self.assertEqual(self.agent_log_count("tls_rotation_failed"), failed_logged + 1)
        # The path back: the next re-check asks for the reload again and confirms it.
        faults.undrop(self.pod, "lo")
        t1 = h.time.monotonic()
        t = self.wait_rotation(lambda t: t["last_rotation"]["result"] == "rotated" and
                               t["last_rotation"]["serial"] == serial, "rotated at a re-check, no new Secret",
                               bound=2 * HANDSHAKE_S + ROTATION_BOUND_S)
        retried_s = h.time.monotonic() - t1
        self.assertRegex(t["last_rotation"]["reason"], f"^every TLS listener serves serial {serial} on every connection, "
                         r"\d+ms after the broker took the reload$")
        self.assertEqual({l["name"]: l["served"]["serial"] for l in t["listeners"]}, {"INTERNAL": serial, "MTLS": serial})
        self.assertEqual(h.served_serial(self.pod, 9094), serial)
        self.assertNotEqual(old, serial)
        self.assertEqual(self.pod.broker.pid, pid, "the broker was restarted")
        self.assertEqual(self.rotation_totals(), dict(before, failed=before.get("failed", 0) + 1,
                                                      rotated=before.get("rotated", 0) + 1))
        self.assertEqual(self.agent_log_count("tls_rotation_failed"), failed_logged + 1)
        h.figure("tls_unconfirmed_retry", failed_after_s=round(failed_s, 1), rotated_after_undrop_s=round(retried_s, 1))


if __name__ == "__main__":
    unittest.main()
