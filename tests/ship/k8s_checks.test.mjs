// Each check of k8s_checks.mjs can fail: k8s/ as it is passes it, and a rendering with one
// known defect (most of them defects k8s/ once had) fails it with the expected line. Also
// the behaviours that need more than one rendering: a config edit rolls the brokers, another
// namespace takes everything along, README's deploy commands work as written.
//
//   KPA_K8S_MODULES=DIR KPA_BUILD_DIR=DIR node --test k8s_checks.test.mjs
// (validate_k8s.sh --tests BUILD_DIR sets both.)
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { checkRendering, parseRendering, setup } from "./k8s_checks.mjs";

const REPO = fileURLToPath(new URL("../..", import.meta.url));
const ctx = await setup({ modules: process.env.KPA_K8S_MODULES, build: process.env.KPA_BUILD_DIR });
const NS = "kafka";

function render(dir) {
  return parseRendering(ctx, dir, execFileSync("kubectl", ["kustomize", dir], { encoding: "utf8" }));
}
const renderings = new Map();
// A fresh copy of the rendering of k8s/<path>, to change at will.
function rendered(path) {
  if (!renderings.has(path)) renderings.set(path, JSON.stringify(render(join(REPO, "k8s", path))));
  return JSON.parse(renderings.get(path));
}
// k8s/ copied to a scratch folder, changed by edit(root), then rendered at k8s/<path>.
function renderedCopy(path, edit) {
  const root = mkdtempSync(join(tmpdir(), "kpa-k8s-"));
  try {
    cpSync(join(REPO, "k8s"), join(root, "k8s"), { recursive: true });
    edit(root);
    return render(join(root, "k8s", path));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
async function failures(objs, opts = {}) {
  return checkRendering(ctx, "t", objs, { namespace: NS, ...opts });
}
async function assertClean(objs, opts) {
  assert.deepEqual(await failures(objs, opts), []);
}
// The failures of objs include one matching each pattern.
async function assertFails(objs, patterns, opts) {
  const got = await failures(objs, opts);
  for (const p of patterns)
    assert.ok(got.some((f) => p.test(f)), `expected a failure matching ${p}, got:\n${got.join("\n") || "(none)"}`);
}
const find = (objs, kind, name) => objs.find((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
const podSpec = (objs) => find(objs, "StatefulSet", "kafka").spec.template.spec;
const container = (objs, name) => {
  const s = podSpec(objs);
  return [...(s.initContainers ?? []), ...s.containers].find((c) => c.name === name);
};
const env = (c, name) => c.env.find((e) => e.name === name);
const mount = (c, name) => c.volumeMounts.find((m) => m.name === name);

// ---- 1. Storage ----------------------------------------------------------------------------

test("every rendering of k8s/ passes every check", async () => {
  for (const path of ["base", "overlays/tls-sasl", "overlays/external-nodeport", "overlays/rack-aware"])
    await assertClean(rendered(path));
});

test("the data PVC mounted above the image's VOLUME /var/lib/kafka/data is refused (the old layout)", async () => {
  const objs = rendered("base");
  mount(container(objs, "kafka"), "data").mountPath = "/var/lib/kafka";
  mount(container(objs, "kpa-init"), "data").mountPath = "/var/lib/kafka";
  env(container(objs, "kpa-init"), "KPA_LOG_DIRS").value = "/var/lib/kafka/data";
  await assertFails(objs, [
    /kafka: image \S*apache\/kafka:\S+ declares VOLUME \/var\/lib\/kafka\/data inside volume data \(mounted at \/var\/lib\/kafka\)/,
    /kafka: log dir \/var\/lib\/kafka\/data is in the image's anonymous VOLUME \/var\/lib\/kafka\/data, not on a PersistentVolumeClaim/,
  ]);
});

test("a log dir at the PVC's mount point is refused (lost+found)", async () => {
  const objs = rendered("base");
  env(container(objs, "kpa-init"), "KPA_LOG_DIRS").value = "/var/lib/kafka/data";
  await assertFails(objs, [/log dir \/var\/lib\/kafka\/data is the mount point of volume data: a filesystem's lost\+found/]);
});

test("kpa-init must see the log dirs on the same volume, at the same path, read-only", async () => {
  const objs = rendered("base");
  mount(container(objs, "kpa-init"), "data").readOnly = false;
  await assertFails(objs, [/kpa-init: does not see log dir \/var\/lib\/kafka\/data\/kafka-logs where the broker does/]);
});

test("a log dir off the PVC is refused", async () => {
  const objs = rendered("base");
  env(container(objs, "kpa-init"), "KPA_LOG_DIRS").value = "/tmp/kafka-logs";
  await assertFails(objs, [/log dir \/tmp\/kafka-logs is on volume tmp, which is not a PersistentVolumeClaim/]);
});

// ---- 2. Namespaces -------------------------------------------------------------------------

// The overlays as they were: no namespace of their own.
const withoutOverlayNamespace = (overlay) => (root) => {
  const f = join(root, "k8s", "overlays", overlay, "kustomization.yaml");
  writeFileSync(f, readFileSync(f, "utf8").replace(/^namespace: .*$/m, ""));
};

test("tls-sasl's Issuers and Certificates land in the release namespace (and so Secret kafka-tls)", async () => {
  const objs = renderedCopy("overlays/tls-sasl", withoutOverlayNamespace("tls-sasl"));
  await assertFails(objs, ["Issuer/kafka-selfsigned", "Certificate/kafka-ca", "Issuer/kafka-ca", "Certificate/kafka-tls"].map(
    (o) => new RegExp(`${o}: namespace \\(none: kubectl's current namespace\\), expected the release namespace kafka`)));
  const cert = find(rendered("overlays/tls-sasl"), "Certificate", "kafka-tls");
  assert.equal(cert.metadata.namespace, NS);
  assert.equal(cert.spec.secretName, "kafka-tls");
});

test("external-nodeport's Services land in the release namespace", async () => {
  const objs = renderedCopy("overlays/external-nodeport", withoutOverlayNamespace("external-nodeport"));
  await assertFails(objs, [0, 1, 2].map(
    (i) => new RegExp(`Service/kafka-${i}-external: namespace \\(none: kubectl's current namespace\\)`)));
});

test("a certificate's Service names are in the release namespace", async () => {
  const objs = rendered("overlays/tls-sasl");
  find(objs, "Certificate", "kafka-tls").spec.dnsNames.push("kafka-bootstrap.prod.svc.cluster.local");
  await assertFails(objs, [/dnsName kafka-bootstrap\.prod\.svc\.cluster\.local names namespace prod, expected kafka/]);
});

test("a kind whose scope is unknown is refused rather than passed", async () => {
  const objs = rendered("base");
  objs.push({ apiVersion: "v1", kind: "ReplicationController", metadata: { name: "x", namespace: NS }, spec: {} });
  await assertFails(objs, [/cannot tell whether a ReplicationController is namespaced/]);
});

// ---- 3. Services and readiness -------------------------------------------------------------

test("a per-broker external Service that follows readiness is refused (the old external-nodeport)", async () => {
  const objs = rendered("overlays/external-nodeport");
  for (let i = 0; i < 3; i++) {
    const svc = find(objs, "Service", `kafka-${i}-external`);
    assert.equal(svc.spec.publishNotReadyAddresses, true);
    delete svc.spec.publishNotReadyAddresses;
  }
  await assertFails(objs, [0, 1, 2].map((i) =>
    new RegExp(`Service/kafka-${i}-external: selects the brokers of StatefulSet kafka but follows readiness`)));
});

test("kafka-bootstrap publishes every broker that runs, ready or not", async () => {
  const objs = rendered("base");
  const svc = find(objs, "Service", "kafka-bootstrap");
  assert.equal(svc.spec.publishNotReadyAddresses, true);
  svc.spec.publishNotReadyAddresses = false;
  await assertFails(objs, [/Service\/kafka-bootstrap: selects the brokers of StatefulSet kafka but follows readiness/]);
});

test("a Service that selects no broker is left alone", async () => {
  const objs = rendered("base");
  objs.push({ apiVersion: "v1", kind: "Service", metadata: { name: "other", namespace: NS },
    spec: { selector: { "app.kubernetes.io/name": "other" }, ports: [{ port: 80 }] } });
  objs.push({ apiVersion: "v1", kind: "Service", metadata: { name: "kafka-9-external", namespace: NS },
    spec: { selector: { "statefulset.kubernetes.io/pod-name": "kafka-9" }, ports: [{ port: 80 }] } });
  await assertClean(objs);
});

// ---- 4. Config changes roll the brokers ----------------------------------------------------

const appendTo = (file, text) => (root) => {
  const f = join(root, "k8s", "base", file);
  writeFileSync(f, readFileSync(f, "utf8") + text);
};
const replaceIn = (file, from, to) => (root) => {
  const f = join(root, "k8s", "base", file);
  const before = readFileSync(f, "utf8");
  assert.ok(from.test(before), `${file} has no ${from}`);
  writeFileSync(f, before.replace(from, to));
};
const both = (...edits) => (root) => edits.forEach((e) => e(root));
// The pod template (what the StatefulSet controller compares) and the ConfigMap a volume or a
// variable of the pod names, after edit.
function afterEdit(edit) {
  const objs = renderedCopy("base", edit);
  const tmpl = find(objs, "StatefulSet", "kafka").spec.template;
  const cm = (name) => find(objs, "ConfigMap", name);
  const vol = tmpl.spec.volumes.find((v) => v.name === "template").configMap.name;
  const idRef = tmpl.spec.initContainers.find((c) => c.name === "kpa-init").env
    .find((e) => e.name === "KPA_CLUSTER_ID").valueFrom.configMapKeyRef.name;
  return { tmpl: JSON.stringify(tmpl), template: cm(vol), clusterId: cm(idRef) };
}

test("an edit of server.properties or log4j2.yaml changes the pod template, so the brokers roll", () => {
  const base = afterEdit(() => {});
  const sp = afterEdit(appendTo("config/server.properties", "log.retention.hours=72\n"));
  assert.notEqual(sp.tmpl, base.tmpl);
  assert.match(sp.template.data["server.properties"], /^log\.retention\.hours=72$/m);
  assert.equal(sp.clusterId.metadata.name, base.clusterId.metadata.name);
  const lg = afterEdit(replaceIn("config/log4j2.yaml", /level: INFO/, "level: DEBUG"));
  assert.notEqual(lg.tmpl, base.tmpl);
  assert.equal(lg.clusterId.metadata.name, base.clusterId.metadata.name);
});

test("an edit of cluster.id changes the pod template too (kpa-init then stops the rollout at the first broker)", () => {
  const base = afterEdit(() => {});
  const id = afterEdit(replaceIn("kustomization.yaml", /cluster\.id=\S+/, "cluster.id=AAAAAAAAAAAAAAAAAAAAAA"));
  assert.notEqual(id.tmpl, base.tmpl);
  assert.equal(id.clusterId.data["cluster.id"], "AAAAAAAAAAAAAAAAAAAAAA");
  assert.equal(id.template.metadata.name, base.template.metadata.name);
});

test("without the content hash an edit would not roll the brokers, and the check says so", async () => {
  const noHash = replaceIn("kustomization.yaml", /^configMapGenerator:$/m,
    "generatorOptions:\n  disableNameSuffixHash: true\nconfigMapGenerator:");
  const base = afterEdit(noHash);
  const sp = afterEdit(both(noHash, appendTo("config/server.properties", "log.retention.hours=72\n")));
  assert.equal(sp.tmpl, base.tmpl);
  await assertFails(renderedCopy("base", noHash), [
    /StatefulSet\/kafka: ConfigMap kafka-config has no content hash in its name/,
    /StatefulSet\/kafka: ConfigMap kafka-cluster-id has no content hash in its name/,
  ]);
});
