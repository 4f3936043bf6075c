// Each check of k8s_checks.mjs can fail: k8s/ as it is passes it, and a rendering with one
// known defect (most of them defects k8s/ once had) fails it with the expected line. Also
// the behaviours that need more than one rendering: a config edit rolls the brokers, another
// namespace takes everything along, the deploy commands of docs/ work as written.
//
//   KPA_K8S_MODULES=DIR KPA_BUILD_DIR=DIR KPA_K8S_SCHEMAS=DIR KPA_K8S_MINORS=1.29,1.37 \
//   KPA_K8S_CRDS=DIR node --test k8s_checks.test.mjs
// (validate_k8s.sh --tests BUILD_DIR sets them all.)
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { checkRendering, parseRendering, setup } from "./k8s_checks.mjs";

const REPO = fileURLToPath(new URL("../..", import.meta.url));
const ctx = await setup({ modules: process.env.KPA_K8S_MODULES, build: process.env.KPA_BUILD_DIR,
  schemas: process.env.KPA_K8S_SCHEMAS, minors: process.env.KPA_K8S_MINORS.split(","), crds: process.env.KPA_K8S_CRDS });
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

// ---- 5. Smaller items ----------------------------------------------------------------------

test("service links are off (a Service named jmx would set JMX_PORT and stop the JVM)", async () => {
  const objs = rendered("base");
  assert.equal(podSpec(objs).enableServiceLinks, false);
  delete podSpec(objs).enableServiceLinks;
  await assertFails(objs, [/StatefulSet\/kafka: enableServiceLinks is not false/]);
});

test("the broker's preStop is kpa-probe.sh prestop with a budget inside the grace period; an httpGet is refused", async () => {
  const objs = rendered("base");
  const kafka = container(objs, "kafka");
  assert.deepEqual(kafka.lifecycle.preStop.exec.command,
    ["/bin/bash", "/etc/kafka/template/kpa-probe.sh", "prestop", "127.0.0.1:8080", "150"]);
  // The hook it replaced: fails at once while kpa-agent is down, and the kubelet stops the
  // broker at once.
  kafka.lifecycle.preStop = { httpGet: { path: "/prestop", port: 8080 } };
  await assertFails(objs, [/kafka preStop: expected exec kpa-probe\.sh prestop/]);
  const budget = async (b, grace, patterns) => {
    const o = rendered("base");
    const cmd = container(o, "kafka").lifecycle.preStop.exec.command;
    if (b === undefined) cmd.pop();
    else cmd[4] = b;
    if (grace !== undefined) podSpec(o).terminationGracePeriodSeconds = grace;
    await assertFails(o, patterns);
  };
  await budget("170", undefined, [/kafka preStop: kpa-probe\.sh's budget 170s leaves less than 30s of terminationGracePeriodSeconds 180/]);
  await budget("120", undefined, [/kafka preStop: kpa-probe\.sh's budget 120s does not outlast --prestop-timeout \(120s\)/]);
  await budget(undefined, undefined, [/kafka preStop: kpa-probe\.sh prestop has no budget in seconds/]);
  await budget("150", 170, [/kafka preStop: kpa-probe\.sh's budget 150s leaves less than 30s of terminationGracePeriodSeconds 170/]);
});

test("images are fully named and pinned, and the broker's is the shipped tested release", async () => {
  const objs = rendered("base");
  assert.equal(container(objs, "kpa-init").image, "registry.example.com/kpa:0.1.0");
  assert.equal(container(objs, "kpa-agent").image, "registry.example.com/kpa:0.1.0");
  const versions = readFileSync(join(REPO, "tests", "kafka", "versions"), "utf8");
  const shipped = /^(\S+) shipped$/m.exec(versions)[1];
  assert.equal(container(objs, "kafka").image, `docker.io/apache/kafka:${shipped}`);
  container(objs, "kpa-init").image = "kpa:0.1.0";
  container(objs, "kpa-agent").image = "registry.example.com/kpa:latest";
  container(objs, "kafka").image = "docker.io/apache/kafka:4.0.0";
  await assertFails(objs, [
    /kpa-init: image kpa:0\.1\.0 has no registry host/,
    /kpa-agent: image registry\.example\.com\/kpa:latest is not pinned/,
    new RegExp(`kafka: image docker\\.io/apache/kafka:4\\.0\\.0 is not apache/kafka:${shipped.replace(/\./g, "\\.")}`),
  ]);
});

// A kustomization of our own beside k8s/ in a copy of it, rendered.
function renderedAbove(kustomization, edit = () => {}) {
  const root = mkdtempSync(join(tmpdir(), "kpa-k8s-"));
  try {
    cpSync(join(REPO, "k8s"), join(root, "k8s"), { recursive: true });
    edit(root);
    const dir = join(root, "mine");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "kustomization.yaml"), kustomization);
    return render(dir);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
const onlyNamespace = (ns, path) => `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: ${ns}
resources:
  - ../k8s/${path}
`;

test("a kustomization that only sets namespace: moves everything, the ClusterRoleBinding's account too", async () => {
  for (const path of ["base", "overlays/external-nodeport", "overlays/rack-aware"]) {
    const objs = renderedAbove(onlyNamespace("other", path));
    assert.deepEqual(await failures(objs, { namespace: "other", namespacedClusterNames: false }), [], path);
    const crb = find(objs, "ClusterRoleBinding");
    assert.deepEqual(crb.subjects, [{ kind: "ServiceAccount", name: "kafka", namespace: "other" }]);
    assert.equal(find(objs, "Namespace").metadata.name, "other");
  }
});

test("with the subject's namespace written in rbac.yaml, the ClusterRoleBinding would bind kafka's account", async () => {
  const objs = renderedAbove(onlyNamespace("other", "base"), (root) => {
    const f = join(root, "k8s", "base", "rbac.yaml");
    writeFileSync(f, readFileSync(f, "utf8").replace(/^    name: kafka\n(?![\s\S]*^    name: kafka$)/m, "    name: kafka\n    namespace: kafka\n"));
  });
  await assertFails(objs, [/ClusterRoleBinding\/\S+: binds ServiceAccount kafka in namespace kafka, expected other/],
    { namespace: "other", namespacedClusterNames: false });
});

test("tls-sasl under another namespace keeps kafka's names in its certificate (docs/deploy.md says to patch them)", async () => {
  const objs = renderedAbove(onlyNamespace("other", "overlays/tls-sasl"));
  await assertFails(objs, [/Certificate\/kafka-tls: dnsName \*\.kafka-headless\.kafka\.svc\.cluster\.local names namespace kafka, expected other/],
    { namespace: "other", namespacedClusterNames: false });
});

// ---- The Role kpa-agent reads its StatefulSet with (docs/scale-down.md, "RBAC") -------------

const prefixed = (prefix, extra = "") => `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: kafka
namePrefix: ${prefix}
resources:
  - ../k8s/base
${extra}`;
const agentEnv = (sts, name) => sts.spec.template.spec.initContainers.find((c) => c.name === "kpa-agent").env.find((e) => e.name === name)?.value;
const initEnv = (sts, name) => sts.spec.template.spec.initContainers.find((c) => c.name === "kpa-init").env.find((e) => e.name === name)?.value;

test("an overlay's namePrefix renames the Role's resourceNames, KPA_STATEFULSET_ROLE and the headless Service with the StatefulSet", async () => {
  const objs = renderedAbove(prefixed("blue-"));
  await assertClean(objs);
  const sts = find(objs, "StatefulSet");
  assert.equal(sts.metadata.name, "blue-kafka");
  assert.deepEqual(find(objs, "Role", "blue-kafka-kpa-statefulset-reader").rules[0].resourceNames, ["blue-kafka"]);
  assert.equal(agentEnv(sts, "KPA_STATEFULSET_ROLE"), "blue-kafka-kpa-statefulset-reader");
  assert.equal(initEnv(sts, "KPA_HEADLESS_SERVICE"), "blue-kafka-headless");
  assert.equal(sts.spec.serviceName, "blue-kafka-headless");
});

test("without base's name rules a renamed StatefulSet's Role would keep kafka, and the check refuses it", async () => {
  const objs = renderedAbove(prefixed("blue-"), (root) => {
    const f = join(root, "k8s", "base", "kustomization.yaml");
    writeFileSync(f, readFileSync(f, "utf8").replace(/^configurations:\n  - kustomizeconfig\/names\.yaml\n/m, ""));
  });
  assert.deepEqual(find(objs, "Role", "blue-kafka-kpa-statefulset-reader").rules[0].resourceNames, ["kafka"]);
  await assertFails(objs, [
    /StatefulSet\/blue-kafka kpa-agent: kpa-agent reads StatefulSet blue-kafka \(KPA_POD_NAME\), but no Role of this rendering bound to ServiceAccount blue-kafka grants get on it/,
    /StatefulSet\/blue-kafka kpa-agent: KPA_STATEFULSET_ROLE names Role kafka-kpa-statefulset-reader, which does not grant ServiceAccount blue-kafka get on StatefulSet blue-kafka/,
  ]);
});

test("KPA_STATEFULSET_ROLE naming another Role, or a Role not bound to the pod's account, is refused", async () => {
  let objs = rendered("base");
  podSpec(objs).initContainers.find((c) => c.name === "kpa-agent").env.find((e) => e.name === "KPA_STATEFULSET_ROLE").value = "reader";
  await assertFails(objs, [/kpa-agent: KPA_STATEFULSET_ROLE names Role reader, which does not grant ServiceAccount kafka get on StatefulSet kafka/]);
  objs = rendered("base");
  find(objs, "RoleBinding", "kafka-kpa-statefulset-reader").subjects[0].name = "someone";
  await assertFails(objs, [/kpa-agent: kpa-agent reads StatefulSet kafka \(KPA_POD_NAME\), but no Role of this rendering bound to ServiceAccount kafka grants get on it/]);
});

// A separate controller StatefulSet kafka-controller (kpa-init's KPA_CONTROLLER_STATEFULSET)
// beside base's brokers, made from base's own pod template as a user would.
const CONTROLLER_KUSTOMIZATION = (component, prefix = "") => `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: kafka
${prefix ? `namePrefix: ${prefix}\n` : ""}resources:
  - ../k8s/base
  - controller.yaml
${component ? "components:\n  - ../k8s/components/controller-statefulset-reader\n" : ""}images:
  - {name: kpa, newName: registry.example.com/kpa, newTag: "0.1.0"}
  - {name: apache/kafka, newName: docker.io/apache/kafka, newTag: "${/^(\S+) shipped$/m.exec(readFileSync(join(REPO, "tests", "kafka", "versions"), "utf8"))[1]}"}
patches:
  - target: {kind: StatefulSet}
    patch: '[{"op": "add", "path": "/spec/template/spec/initContainers/0/env/-", "value": {"name": "KPA_CONTROLLER_STATEFULSET", "value": "kafka-controller"}}]'
`;
function withControllerSet(root) {
  const base = readFileSync(join(root, "k8s", "base", "statefulset.yaml"), "utf8");
  const ctl = base.replace(/^  name: kafka$/m, "  name: kafka-controller")
    .replaceAll("app.kubernetes.io/component: broker", "app.kubernetes.io/component: controller")
    .replace("value: kafka-kpa-statefulset-reader", "value: kafka-controller-kpa-statefulset-reader");
  mkdirSync(join(root, "mine"));
  writeFileSync(join(root, "mine", "controller.yaml"), ctl);
}

test("a separate controller StatefulSet reads its spec.replicas under its own Role (components/controller-statefulset-reader)", async () => {
  const objs = renderedAbove(CONTROLLER_KUSTOMIZATION(true), withControllerSet);
  const ctl = find(objs, "StatefulSet", "kafka-controller");
  assert.equal(initEnv(ctl, "KPA_CONTROLLER_STATEFULSET"), "kafka-controller");
  assert.equal(agentEnv(ctl, "KPA_STATEFULSET_ROLE"), "kafka-controller-kpa-statefulset-reader");
  assert.deepEqual(find(objs, "Role", "kafka-controller-kpa-statefulset-reader").rules[0].resourceNames, ["kafka-controller"]);
  assert.deepEqual(find(objs, "RoleBinding", "kafka-controller-kpa-statefulset-reader").subjects,
    [{ kind: "ServiceAccount", name: "kafka", namespace: "kafka" }]);
  // The brokers' Role stays as it was: each set is readable under its own Role only.
  assert.deepEqual(find(objs, "Role", "kafka-kpa-statefulset-reader").rules[0].resourceNames, ["kafka"]);
  await assertClean(objs);
  // A namePrefix renames the controllers' Role, its resourceNames and the agent's hint together.
  const blue = renderedAbove(CONTROLLER_KUSTOMIZATION(true, "blue-"), withControllerSet);
  assert.deepEqual(find(blue, "Role", "blue-kafka-controller-kpa-statefulset-reader").rules[0].resourceNames, ["blue-kafka-controller"]);
  assert.equal(agentEnv(find(blue, "StatefulSet", "blue-kafka-controller"), "KPA_STATEFULSET_ROLE"), "blue-kafka-controller-kpa-statefulset-reader");
  await assertClean(blue);
});

test("without the component, the controllers' kpa-agent would get 403, and the check says so", async () => {
  const objs = renderedAbove(CONTROLLER_KUSTOMIZATION(false), withControllerSet);
  await assertFails(objs, [
    /StatefulSet\/kafka-controller kpa-agent: kpa-agent reads StatefulSet kafka-controller \(KPA_POD_NAME\), but no Role of this rendering bound to ServiceAccount kafka grants get on it/,
  ]);
});

// The fenced blocks of one language of a page of docs/ between two headings (to: null for the
// end of the page).
function readmeBlocks(page, from, to, lang) {
  const text = readFileSync(join(REPO, "docs", page), "utf8");
  const a = text.indexOf(from), b = to === null ? text.length : text.indexOf(to, a);
  assert.ok(a >= 0 && b > a, `docs/${page} has no section ${from} .. ${to}`);
  const out = [];
  for (const m of text.slice(a, b).matchAll(new RegExp(`^( *)\`\`\`${lang}\\n([\\s\\S]*?)^\\1\`\`\`$`, "gm")))
    out.push(m[2].split("\n").map((l) => l.slice(m[1].length)).join("\n"));
  return out;
}

test("docs/deploy.md's second install (Another namespace) names its cluster-scoped objects for its namespace", async () => {
  const [k] = readmeBlocks("deploy.md", "## Another namespace", "## Checked offline", "yaml");
  const ns = /^namespace: (\S+)$/m.exec(k)[1];
  const objs = renderedAbove(k);
  await assertClean(objs, { namespace: ns });
  const first = rendered("base");
  const clusterNames = (o) => o.filter((x) => ["ClusterRole", "ClusterRoleBinding"].includes(x.kind)).map((x) => x.metadata.name);
  assert.deepEqual(clusterNames(objs), [`kafka-kpa-node-reader-${ns}`, `kafka-kpa-node-reader-${ns}`]);
  assert.equal(clusterNames(first).filter((n) => clusterNames(objs).includes(n)).length, 0);
  assert.equal(find(objs, "ClusterRoleBinding").roleRef.name, `kafka-kpa-node-reader-${ns}`);
});

// The commands of docs/image.md, docs/deploy.md and docs/upgrade.md, run as written by bash in a copy of
// the repository, with stand-ins for kubectl, docker and curl that record each call; kubectl's
// `apply -k DIR` renders DIR with the real `kubectl kustomize`. Each call is then checked
// against what was applied: its namespace, the objects, labels, containers, ports and Secrets
// it names.
test("the docs' deploy and upgrade commands work as written against the rendered objects", async () => {
  const blocks = [...readmeBlocks("image.md", "# The image", null, "sh"),
    ...readmeBlocks("deploy.md", "# Deploy on Kubernetes", null, "sh"),
    ...readmeBlocks("upgrade.md", "# Upgrade safely", "## Measured", "sh")];
  // Your registry, as README asks you to set it: another one than the manifests' placeholder,
  // so that the test sees README's sed take effect.
  const script = blocks.join("\n").replace(/^REGISTRY=\S+/gm, "REGISTRY=registry.kpa-test.example");
  assert.equal(script.match(/^REGISTRY=/gm)?.length, 2, "README sets REGISTRY in The image and in Deploy");
  const expectedKubectl = script.split("\n").filter((l) => /^\s*kubectl\s/.test(l)).length;
  assert.ok(expectedKubectl >= 8, `only ${expectedKubectl} kubectl commands found in README`);
  assert.doesNotMatch(script, /^\s*kustomize\s/m, "README needs a standalone kustomize binary");

  const root = mkdtempSync(join(tmpdir(), "kpa-readme-"));
  try {
    cpSync(join(REPO, "k8s"), join(root, "k8s"), { recursive: true });
    const bin = join(root, ".bin");
    mkdirSync(bin);
    const realKubectl = execFileSync("bash", ["-c", "command -v kubectl"], { encoding: "utf8" }).trim();
    const standIn = (name, extra = "") => {
      writeFileSync(join(bin, name), `#!/bin/bash
(IFS=$'\\x1f'; printf '%s\\n' "${name}$IFS$*") >>"$KPA_FAKE_LOG"
${extra}
exit 0
`);
      chmodSync(join(bin, name), 0o755);
    };
    standIn("kubectl", `if [ "$1" = apply ] && [ "$2" = -k ]; then { echo ---; "$KPA_REAL_KUBECTL" kustomize "$3"; } >>"$KPA_FAKE_APPLIED" || exit 1; fi`);
    standIn("docker");
    standIn("curl");
    const log = join(root, "calls"), applied = join(root, "applied.yaml");
    writeFileSync(log, "");
    writeFileSync(applied, "");
    // The exit status is that of the last pipeline (a grep that the stand-ins give nothing
    // to find); every command's complaint goes to stderr, which must stay empty.
    const run = spawnSync("bash", ["-c", script], { cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, KPA_FAKE_LOG: log, KPA_FAKE_APPLIED: applied,
        KPA_REAL_KUBECTL: realKubectl } });
    assert.equal(run.stderr, "", "README's commands complained");
    const calls = readFileSync(log, "utf8").split("\n").filter(Boolean).map((l) => l.split("\x1f"));
    const objs = parseRendering(ctx, "README", readFileSync(applied, "utf8"));
    const kubectl = calls.filter((c) => c[0] === "kubectl");
    assert.equal(kubectl.length, expectedKubectl, `kubectl calls made:\n${kubectl.map((c) => c.join(" ")).join("\n")}`);

    // The image built is the one the manifests run, and the cluster id is a new, valid one.
    const built = calls.find((c) => c[0] === "docker" && c[1] === "build");
    const tag = built[built.indexOf("-t") + 1];
    const sts = objs.filter((o) => o.kind === "StatefulSet");
    for (const o of sts)
      for (const c of o.spec.template.spec.initContainers) assert.equal(c.image, tag, `${c.name} runs ${c.image}, README builds ${tag}`);
    assert.ok(calls.some((c) => c[0] === "docker" && c[1] === "push" && c[2] === tag));
    const ids = objs.filter((o) => o.kind === "ConfigMap" && o.data?.["cluster.id"]).map((o) => o.data["cluster.id"]);
    const original = /cluster\.id=(\S+)/.exec(readFileSync(join(REPO, "k8s", "base", "kustomization.yaml"), "utf8"))[1];
    assert.ok(ids.length > 0);
    for (const id of ids) {
      assert.match(id, /^[A-Za-z0-9_-]{22}$/);
      assert.notEqual(id, original);
    }

    const namespaces = new Set(objs.filter((o) => o.kind === "Namespace").map((o) => o.metadata.name));
    const inNs = (ns, kind, name) => objs.find((o) => o.kind === kind && o.metadata.name === name && o.metadata.namespace === ns);
    const podsOf = (ns) => objs.filter((o) => o.kind === "StatefulSet" && o.metadata.namespace === ns);
    const pod = (ns, name) => podsOf(ns).find((o) => name.startsWith(`${o.metadata.name}-`)
      && Number(name.slice(o.metadata.name.length + 1)) < o.spec.replicas);
    const containers = (w) => [...(w.spec.template.spec.initContainers ?? []), ...w.spec.template.spec.containers];
    for (const c of kubectl) {
      const line = c.join(" ");
      const args = c.slice(1);
      const opt = (...names) => {
        const i = args.findIndex((a) => names.includes(a));
        if (i < 0) return undefined;
        const v = args[i + 1];
        args.splice(i, 2);
        return v;
      };
      if (args[0] === "apply" && args[1] === "-k") continue;
      const ns = opt("-n", "--namespace");
      assert.ok(ns, `${line}: no -n (it would act in kubectl's current namespace)`);
      assert.ok(namespaces.has(ns), `${line}: namespace ${ns} is not the release's`);
      const sel = opt("-l", "--selector"), container = opt("-c", "--container");
      const pos = args.filter((a) => !a.startsWith("-"));
      const kinds = { statefulset: "StatefulSet", pod: "Pod" };
      const ref = (r) => {
        const [k, name] = r.split("/");
        if (kinds[k] === "Pod") assert.ok(pod(ns, name), `${line}: no pod ${name} in ${ns}`);
        else assert.ok(inNs(ns, kinds[k], name), `${line}: no ${k} ${name} in ${ns}`);
        return name;
      };
      if (pos[0] === "rollout" && ["status", "restart"].includes(pos[1])) ref(pos[2]);
      else if (pos[0] === "get" && pos[1] === "pods") {
        const want = Object.fromEntries(sel.split(",").map((kv) => kv.split("=")));
        assert.ok(podsOf(ns).some((w) => Object.entries(want).every(([k, v]) => w.spec.template.metadata.labels[k] === v)),
          `${line}: selector ${sel} matches no broker pod's labels`);
      } else if (pos[0] === "port-forward") {
        const name = ref(pos[1]);
        const remote = Number(pos[2].split(":").pop());
        assert.ok(containers(pod(ns, name)).some((x) => (x.ports ?? []).some((p) => p.containerPort === remote)),
          `${line}: pod ${name} has no port ${remote}`);
      } else if (pos[0] === "logs") {
        const w = pod(ns, pos[1]);
        assert.ok(w, `${line}: no pod ${pos[1]} in ${ns}`);
        assert.ok(containers(w).some((x) => x.name === container), `${line}: pod ${pos[1]} has no container ${container}`);
      } else if (pos[0] === "create" && pos[1] === "secret" && pos[2] === "generic") {
        assert.ok(podsOf(ns).some((w) => (w.spec.template.spec.volumes ?? []).some((v) => v.secret?.secretName === pos[3])),
          `${line}: no pod in ${ns} mounts Secret ${pos[3]}`);
      } else {
        assert.fail(`${line}: a command this test does not know: teach it to check that one`);
      }
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

// ---- 7. The official schemas ---------------------------------------------------------------

test("an unknown field is refused by the official schemas of every supported minor", async () => {
  const objs = rendered("base");
  container(objs, "kafka").volumeMount = [];                // a typo of volumeMounts
  find(objs, "Service", "kafka-bootstrap").spec.publishNotReadyAdresses = true;
  find(objs, "StatefulSet", "kafka").status2 = {};
  const got = await failures(objs);
  for (const minor of process.env.KPA_K8S_MINORS.split(",")) {
    for (const p of [
      new RegExp(`StatefulSet/kafka: Kubernetes ${minor} schema: /spec/template/spec/containers/0: unknown field "volumeMount"`),
      new RegExp(`Service/kafka-bootstrap: Kubernetes ${minor} schema: /spec: unknown field "publishNotReadyAdresses"`),
      new RegExp(`StatefulSet/kafka: Kubernetes ${minor} schema: /: unknown field "status2"`),
    ]) assert.ok(got.some((f) => p.test(f)), `expected ${p} in:\n${got.join("\n")}`);
  }
});

test("a field newer than the oldest supported minor is refused by its schema only", async () => {
  const [oldest, newest] = [process.env.KPA_K8S_MINORS.split(",")[0], process.env.KPA_K8S_MINORS.split(",").pop()];
  const objs = rendered("base");
  podSpec(objs).resources = { limits: { memory: "3Gi" } };   // pod-level resources: Kubernetes 1.32
  const got = await failures(objs);
  assert.ok(got.some((f) => f.includes(`Kubernetes ${oldest} schema: /spec/template/spec: unknown field "resources"`)), got.join("\n"));
  assert.ok(!got.some((f) => f.includes(`Kubernetes ${newest} schema`)), got.join("\n"));
});

test("wrong types and missing required fields are refused", async () => {
  const objs = rendered("base");
  find(objs, "PodDisruptionBudget", "kafka").spec.maxUnavailable = true;
  delete container(objs, "kafka").name;
  await assertFails(objs, [
    /PodDisruptionBudget\/kafka: Kubernetes \S+ schema: \/spec\/maxUnavailable: must be (string|integer)/,
    /StatefulSet\/kafka: Kubernetes \S+ schema: \/spec\/template\/spec\/containers\/0: missing required field "name"/,
  ]);
});

test("cert-manager's objects are validated against its CRDs: unknown fields, enums", async () => {
  const objs = rendered("overlays/tls-sasl");
  const cert = find(objs, "Certificate", "kafka-tls");
  cert.spec.privateKey.algorithm = "DSA";
  cert.spec.dnsName = ["x"];
  find(objs, "Issuer", "kafka-ca").spec.ca.secret = "kafka-ca";
  await assertFails(objs, [
    /Certificate\/kafka-tls: Kubernetes \S+ schema: \/spec\/privateKey\/algorithm: must be equal to one of the allowed values \(RSA, ECDSA, Ed25519\)/,
    /Certificate\/kafka-tls: Kubernetes \S+ schema: \/spec: unknown field "dnsName"/,
    /Issuer\/kafka-ca: Kubernetes \S+ schema: \/spec\/ca: unknown field "secret"/,
  ]);
});

test("a kind no schema defines is refused", async () => {
  const objs = rendered("base");
  objs.push({ apiVersion: "policy/v1beta1", kind: "PodDisruptionBudget", metadata: { name: "old", namespace: NS }, spec: {} });
  await assertFails(objs, [/PodDisruptionBudget\/old: Kubernetes \S+ has no policy\/v1beta1 PodDisruptionBudget/]);
});

test("duplicate list entries are refused: env names, mount paths, ports with their protocol", async () => {
  const objs = rendered("base");
  const init = container(objs, "kpa-init");
  init.env.push({ name: "KPA_LOG_DIRS", value: "/tmp/x" });
  const kafka = container(objs, "kafka");
  kafka.volumeMounts.push({ name: "tmp", mountPath: "/var/log/kafka" });
  kafka.ports.push({ name: "tcp-other", containerPort: 9092, protocol: "TCP" });
  kafka.ports.push({ name: "udp-internal", containerPort: 9093, protocol: "UDP" });   // allowed: another protocol
  const got = await failures(objs);
  const i = init.env.length - 1, m = kafka.volumeMounts.length - 1, p = kafka.ports.length - 2;
  for (const want of [
    `spec.template.spec.initContainers[0].env[${i}] repeats`,
    `spec.template.spec.containers[0].volumeMounts[${m}] repeats`,
    `spec.template.spec.containers[0].ports[${p}] repeats StatefulSet.spec.template.spec.containers[0].ports[0] (same containerPort+protocol)`,
  ]) assert.ok(got.some((f) => f.includes(want)), `expected "${want}" in:\n${got.join("\n")}`);
  assert.ok(!got.some((f) => f.includes(`ports[${p + 1}] repeats`)), got.join("\n"));
});

test("a duplicate key in a YAML map is refused when the rendering is parsed", async () => {
  const before = (await import("./k8s_checks.mjs")).allFailures().length;
  const objs = parseRendering(ctx, "dup", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  name: y\n");
  const got = (await import("./k8s_checks.mjs")).allFailures().slice(before);
  assert.equal(objs.length, 0);
  assert.equal(got.length, 1);
  assert.match(got[0], /^dup: YAML: Map keys must be unique/);
});
