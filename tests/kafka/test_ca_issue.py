"""Real Kafka: with KPA_TLS_CA_DIR (kpa-init issues the pod's certificate from a CA), kpa-agent
issues it again once two thirds of its lifetime are gone and puts it in place without a broker
restart (docs/tls-rotation.md, "Issuing from KPA_TLS_CA_DIR"). One node in combined mode from
the tls-sasl overlay (SASL_SSL INTERNAL, SSL CONTROLLER, mTLS MTLS), its "tls" volume a CA
(ca.crt + ca.key) given to kpa-init and kpa-agent as KPA_TLS_CA_DIR.

kpa-init's leaf lives weeks (90 days, capped at the test CA's 30). To make it due within
seconds, the test puts in the stores a leaf of the same CA and names whose two-thirds point is
about 30 s away, and restarts the agent
only (its re-check interval is 5 minutes, so a renewal near the due moment comes from the timer
set at the leaf's due moment, not from the re-check). The tests run in order on one broker.
"""
import datetime
import os
import subprocess
import unittest

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

import harness as h

USERS = {"kafka": "inter-broker secret", "alice": "alice secret"}
TOPIC = "issued"
RECHECK = "300s"
# The short leaf: valid from BACK_S ago for LIFE_S seconds, so due (two thirds gone) 30 s after
# it is made, and expired 60 s after that (a renewal under ASan took up to 29 s).
BACK_S = 90
LIFE_S = 180
# Bound on a rotation after the due moment: the timer's slack + issuance + DescribeConfigs +
# AlterConfigs + the broker's reload + handshakes, on a loaded 2-core machine under ASan.
ROTATION_BOUND_S = 60


def _run(*cmd):
    return subprocess.run(cmd, check=True, capture_output=True, timeout=60)


def stored_leaf(kpa_dir):
    """The leaf of kpa-init's keystore.p12 (read with its store password)."""
    pem = _run("openssl", "pkcs12", "-in", os.path.join(kpa_dir, "keystore.p12"), "-nokeys", "-clcerts",
               "-passin", "file:" + os.path.join(kpa_dir, "store.password")).stdout
    return x509.load_pem_x509_certificate(pem[pem.index(b"-----BEGIN"):])


def serial_hex(cert):
    # As OpenSSL prints it (BN_bn2hex): whole bytes, so a leading 0 nibble shows.
    s = format(cert.serial_number, "X")
    return "0" + s if len(s) % 2 else s


def put_short_leaf(kpa_dir, ca_dir, work):
    """Replaces keystore.p12 with a leaf of the same CA and the same names and key type as
    kpa-init's, valid from BACK_S ago for LIFE_S seconds. Returns (serial, due as Unix seconds),
    due computed as tls_issued_due does: notAfter - lifetime / 3."""
    old = stored_leaf(kpa_dir)
    with open(os.path.join(ca_dir, "ca.key"), "rb") as f:
        ca_key = serialization.load_pem_private_key(f.read(), None)
    with open(os.path.join(ca_dir, "ca.crt"), "rb") as f:
        ca = x509.load_pem_x509_certificate(f.read())
    key = ec.generate_private_key(ec.SECP256R1())
    now = int(datetime.datetime.now(datetime.timezone.utc).timestamp())
    nb, na = now - BACK_S, now - BACK_S + LIFE_S
    b = (x509.CertificateBuilder().subject_name(old.subject).issuer_name(ca.subject)
         .public_key(key.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(datetime.datetime.fromtimestamp(nb, datetime.timezone.utc))
         .not_valid_after(datetime.datetime.fromtimestamp(na, datetime.timezone.utc)))
    for ext in old.extensions:
        if ext.oid != x509.ExtensionOID.AUTHORITY_KEY_IDENTIFIER and ext.oid != x509.ExtensionOID.SUBJECT_KEY_IDENTIFIER:
            b = b.add_extension(ext.value, ext.critical)
    cert = b.sign(ca_key, hashes.SHA256())
    os.makedirs(work, exist_ok=True)
    crt, k = os.path.join(work, "short.crt"), os.path.join(work, "short.key")
    with open(crt, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(k, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    os.chmod(k, 0o600)
    ks = os.path.join(kpa_dir, "keystore.p12")
    st = os.stat(ks)
    tmp = ks + ".test"
    _run("openssl", "pkcs12", "-export", "-in", crt, "-inkey", k, "-name", "kafka", "-out", tmp,
         "-passout", "file:" + os.path.join(kpa_dir, "store.password"))
    os.chown(tmp, st.st_uid, st.st_gid)
    os.chmod(tmp, 0o600)
    os.replace(tmp, ks)
    return serial_hex(cert), na - LIFE_S // 3


class CaIssue(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.env = h.Env()
        try:
            work = os.path.join(cls.env.work, "secrets")
            cls.ca = h.make_ca(os.path.join(work, "ca"))
            users = h.make_users(os.path.join(work, "users"), USERS)
            cls.pod = cls.env.pod("kafka", 0, kustomization="k8s/overlays/tls-sasl",
                                  secrets={"kafka-tls": cls.ca, "kafka-sasl-users": users},
                                  extra_env={"KPA_CONTROLLER_COUNT": "1"},
                                  template=h.single_node_template("k8s/overlays/tls-sasl"))
            # The overlay gives a cert-manager Secret as KPA_TLS_DIR; here the same volume holds
            # a CA, given to both containers as KPA_TLS_CA_DIR.
            for c in ("kpa-init", "kpa-agent"):
                for e in cls.pod.container(c)["env"]:
                    if e["name"] == "KPA_TLS_DIR":
                        e["name"] = "KPA_TLS_CA_DIR"
            cls.overrides = {"--interval": "1s", "--tls-recheck-interval": RECHECK}
            cls.env.start([cls.pod], agent_overrides=cls.overrides)
            cls.pod.wait_ready(timeout=180)
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

    def agent_tls_lines(self):
        with open(os.path.join(self.pod.root, "agent.log")) as f:
            return [line.strip() for line in f if "tls_" in line][-10:]

    def wait_tls(self, pred, timeout, what):
        try:
            return h.wait_for(lambda: (lambda t: t if pred(t) else None)(self.tls_status()), timeout, what,
                              interval=0.25)
        except TimeoutError as e:
            raise AssertionError(f"{e}; /status tls: {self.tls_status()}; agent: {self.agent_tls_lines()}") from None

    def serves(self, t, serial):
        return {l["name"]: (l["served"] or {}).get("serial") for l in t["listeners"]} == \
            {"INTERNAL": serial, "MTLS": serial}

    def test_1_the_agent_reissues_at_the_due_moment_without_restart_or_produce_errors(self):
        first = stored_leaf(self.pod.kpa_dir)
        t = self.wait_tls(lambda t: self.serves(t, serial_hex(first)), 60, "the agent sees kpa-init's leaf served")
        # kpa-init's 90-day leaf: renewed 60 days (+100 s of the 300 s backdating) after issuance.
        na = int(first.not_valid_after.replace(tzinfo=datetime.timezone.utc).timestamp())
        nb = int(first.not_valid_before.replace(tzinfo=datetime.timezone.utc).timestamp())
        due = na - (na - nb) // 3
        self.assertEqual(t["issued_from_ca_dir"]["renews_at"],
                         datetime.datetime.fromtimestamp(due, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
        self.assertTrue(self.serves(t, serial_hex(first)), t)
        pid = self.pod.broker.pid

        # A leaf due in seconds, then the agent alone restarted: it puts the stored leaf in
        # place (the broker still serves kpa-init's) and sets its timer at the due moment.
        self.pod.agent.stop()
        short, short_due = put_short_leaf(self.pod.kpa_dir, self.ca, os.path.join(self.env.work, "short"))
        self.pod.start_agent(self.overrides)
        t = self.wait_tls(lambda t: self.serves(t, short), 90, "the broker serves the short leaf")
        self.assertEqual(t["issued_from_ca_dir"]["renews_at"],
                         datetime.datetime.fromtimestamp(short_due, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
        self.assertGreater(short_due - h.time.time(), 5, "the agent took too long to start: the due moment passed")
        rotated_before = t["rotations"]["rotated"]

        load = h.Load(self.env, self.boot, [TOPIC], rate=100, size=200, name="issued", command_config=self.client)
        # Not before the due moment: until a second before it, every look finds the short leaf
        # (the agent decides with tls_issued_reusable, which holds until due).
        while h.time.time() < short_due - 1:
            self.assertEqual(h.served_serial(self.pod, 9092), short)
            self.assertEqual(self.tls_status()["stored"]["serial"], short)
            h.time.sleep(1)
        t = self.wait_tls(lambda t: t["last_rotation"] and t["last_rotation"]["result"] == "rotated" and
                          t["last_rotation"]["serial"] not in (short, serial_hex(first)),
                          ROTATION_BOUND_S + 2, "the agent re-issues once due")
        seen = h.time.time()
        took = seen - short_due
        self.assertGreaterEqual(seen, short_due)
        new = t["last_rotation"]["serial"]
        self.assertEqual(t["rotations"]["rotated"], rotated_before + 1)
        self.assertTrue(self.serves(t, new), t)
        # Every TLS listener serves it, the controller listener of this combined node too.
        for port in (9092, 9093, 9094):
            self.assertEqual(h.served_serial(self.pod, port), new, port)
        self.assertEqual(self.pod.broker.pid, pid, "the broker was restarted")
        # The new leaf: the CA's, with kpa-init's names.
        leaf = stored_leaf(self.pod.kpa_dir)
        self.assertEqual(serial_hex(leaf), new)
        self.assertEqual(leaf.issuer, first.issuer)
        self.assertEqual(leaf.subject, first.subject)
        self.assertEqual(leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value,
                         first.extensions.get_extension_for_class(x509.SubjectAlternativeName).value)
        # Issued now (backdated 300 s, but not before the CA: made a minute ago) for 90 days,
        # but never beyond the CA (30 days, as kpa-init's first leaf).
        with open(os.path.join(self.ca, "ca.crt"), "rb") as f:
            ca_nb = int(x509.load_pem_x509_certificate(f.read()).not_valid_before
                        .replace(tzinfo=datetime.timezone.utc).timestamp())
        nb_new = int(leaf.not_valid_before.replace(tzinfo=datetime.timezone.utc).timestamp())
        self.assertGreaterEqual(nb_new, max(short_due - 300, ca_nb))
        self.assertLessEqual(nb_new, max(int(seen) + 1 - 300, ca_nb))
        self.assertEqual(leaf.not_valid_after, first.not_valid_after)
        self.assertEqual(oct(os.stat(self.ks).st_mode & 0o777), "0o600")
        h.time.sleep(3)
        stats = load.stop()
        self.assertEqual(stats["failed"], {}, stats)
        self.assertGreater(stats["acked"], 0)
        check = h.verify(self.env, self.boot, [TOPIC], load.acked_path, self.client)
        self.assertEqual(check["lost"], 0, check)
        # Logged as a KPA_TLS_DIR renewal is, and nothing secret in the log.
        with open(os.path.join(self.pod.root, "agent.log")) as f:
            log = f.read()
        self.assertIn(f"new certificate serial {new} (was {short})", log)
        self.assertNotIn("PRIVATE KEY", log)
        with open(os.path.join(self.pod.kpa_dir, "store.password")) as f:
            self.assertNotIn(f.read().strip(), log)
        code, body = self.pod.get("/metrics")
        self.assertIn(f'kpa_tls_rotation_total{{result="rotated"}} {rotated_before + 1}', body)
        self.pod.wait_ready(timeout=60)
        h.figure("tls_ca_dir_reissue", after_due_s=round(took, 1), acked=stats["acked"],
                 retried=sum(stats["retried"].values()))

    def test_2_a_ca_change_in_the_ca_dir_is_refused_and_nothing_is_touched(self):
        with open(self.ks, "rb") as f:
            store = f.read()
        serving = h.served_serial(self.pod, 9092)
        other = h.make_ca(os.path.join(self.env.work, "secrets", "other-ca"), name="kpa-test-root-b")
        h.swap_secret(self.pod.volumes["tls"], other)
        t = self.wait_tls(lambda t: t["last_rotation"]["result"] == "refused", 60, "the CA change is refused")
        self.assertIn("a CA change with KPA_TLS_CA_DIR needs the ordered CA rotation", t["last_rotation"]["reason"])
        with open(self.ks, "rb") as f:
            self.assertEqual(f.read(), store, "the key store changed")
        self.assertEqual(h.served_serial(self.pod, 9092), serving)
        self.assertEqual(t["rotations"]["refused"], 1)
        with open(os.path.join(self.pod.root, "agent.log")) as f:
            self.assertNotIn("PRIVATE KEY", f.read())


if __name__ == "__main__":
    unittest.main()
