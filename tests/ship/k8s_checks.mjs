// The checks of k8s/ (validate_k8s.mjs runs them on the repository's renderings; the tests in
// k8s_checks.test.mjs run them on renderings with a known defect, to prove each one can fail).
//
// Every object is validated against the upstream OpenAPI schema (kubernetes-models; cert-
// manager's kinds with @kubernetes-models/cert-manager), and unknown fields are refused too,
// as `kubectl apply` does with strict field validation. Then, for every workload running
// kpa-init or kpa-agent: each --flag and variable they are given is one the program accepts,
// each probe and preStop hook aimed at kpa-agent uses one of its endpoints on its port, and
// the grace period covers the preStop bound.
//
// A check never throws for a defect of the manifests: it adds one line to ctx.failures,
// "<rendering> <Kind>/<name>: <what is wrong>".
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { get } from "node:http";
import { createServer } from "node:net";
import { basename, dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

// The state of one run: where the packages and programs are, and what was found.
let modules, build;
let failures = [];
const fail = (where, msg) => failures.push(`${where}: ${msg}`);

// ---- Schemas -------------------------------------------------------------------------------

// The model module of an apiVersion/kind, or null when no package models it.
function modelFile(apiVersion, kind) {
  const groupPath = apiVersion.includes("/") ? apiVersion : `v1`;
  for (const pkg of ["kubernetes-models", "@kubernetes-models/cert-manager"]) {
    const f = join(modules, pkg, groupPath, `${kind}.js`);
    if (existsSync(f)) return f;
  }
  return null;
}

// Field names, from the packages' TypeScript declarations: each model's .d.ts declares
// `export declare class <Kind> ... { "field"?: Type; ... }`, with Type an Array<...>, a map
// { [key: string]: ... }, an inline object, a named type imported from another file, or a
// scalar. The compiled JSON-schema validators accept unknown fields; this walk refuses them.
const declCache = new Map();
function declaration(file) {
  if (declCache.has(file)) return declCache.get(file);
  let decl = null;
  if (existsSync(file)) {
    const text = readFileSync(file, "utf8").replace(/\/\*[\s\S]*?\*\//g, "");
    const imports = new Map();
    for (const m of text.matchAll(/import \{ (\w+) \} from "([^"]+)";/g)) imports.set(m[1], m[2]);
    // A model's class lists every field, inherited ones included; a file without a class
    // declares a plain interface.
    let start = text.search(/export declare class \w+ extends Model<\w+> implements \w+ \{/);
    if (start < 0) start = text.search(/export interface \w+(?: extends [\w, ]+)? \{/);
    if (start >= 0) {
      const open = text.indexOf("{", start);
      decl = { file, imports, type: null };
      decl.type = parseType(text.slice(open, matching(text, open) + 1), decl);
    }
  }
  declCache.set(file, decl);
  return decl;
}
function matching(s, open) {
  let depth = 0;
  for (let i = open; i < s.length; i++) {
    if (s[i] === "{" || s[i] === "<") depth++;
    else if (s[i] === "}" || s[i] === ">") if (--depth === 0) return i;
  }
  throw new Error("unbalanced declaration");
}
function parseType(t, decl) {
  t = t.trim();
  let m;
  if ((m = /^Array<([\s\S]*)>$/.exec(t))) return { array: parseType(m[1], decl) };
  if ((m = /^\{\s*\[key: string\]:\s*([\s\S]*?);?\s*\}$/.exec(t))) return { map: parseType(m[1], decl) };
  if (t.startsWith("{") && matching(t, 0) === t.length - 1) {
    const props = new Map();
    const body = t.slice(1, -1);
    let i = 0;
    const re = /"([^"]+)"\??:\s*/y;
    while (i < body.length) {
      if (/\s/.test(body[i])) { i++; continue; }
      re.lastIndex = i;
      const p = re.exec(body);
      if (!p) break;                       // methods, constructors: not data
      let j = re.lastIndex, depth = 0;
      for (; j < body.length; j++) {
        if ("{<(".includes(body[j])) depth++;
        else if ("}>)".includes(body[j])) depth--;
        else if (body[j] === ";" && depth === 0) break;
      }
      props.set(p[1], { src: body.slice(re.lastIndex, j), type: undefined });
      i = j + 1;
    }
    return { props, decl };
  }
  if (/^I\w+$/.test(t) && decl.imports.has(t)) return { ref: t, decl };
  return { leaf: t };
}
function resolveRef(ref, decl) {
  const spec = decl.imports.get(ref);
  const file = spec.startsWith(".")
    ? join(dirname(decl.file), spec.replace(/\.js$/, ".d.ts"))
    : join(modules, `${spec}.d.ts`);
  const d = declaration(file);
  return d ? d.type : { leaf: ref };
}
function checkFields(value, type, path, where) {
  if (value === null || value === undefined || !type) return;
  if (type.ref) return checkFields(value, resolveRef(type.ref, type.decl), path, where);
  if (type.array && Array.isArray(value))
    return value.forEach((v, i) => checkFields(v, type.array, `${path}[${i}]`, where));
  if (type.map && typeof value === "object")
    return Object.entries(value).forEach(([k, v]) => checkFields(v, type.map, `${path}.${k}`, where));
  if (type.props && typeof value === "object" && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value)) {
      const p = type.props.get(k);
      if (!p) {
        fail(where, `${path}: unknown field "${k}"`);
        continue;
      }
      if (p.type === undefined) p.type = parseType(p.src, type.decl);
      checkFields(v, p.type, `${path}.${k}`, where);
    }
  }
}
async function validateObject(obj, where) {
  if (!obj || typeof obj !== "object" || !obj.apiVersion || !obj.kind) {
    fail(where, "not a Kubernetes object (apiVersion and kind expected)");
    return;
  }
  const file = modelFile(obj.apiVersion, obj.kind);
  if (!file) {
    fail(where, `no schema for ${obj.apiVersion} ${obj.kind}`);
    return;
  }
  const mod = await import(pathToFileURL(file));
  const Model = mod[obj.kind];
  try {
    new Model(obj).validate();
  } catch (e) {
    fail(where, `schema: ${e.message}`);
  }
  checkFields(obj, declaration(file.replace(/\.js$/, ".d.ts")).type, obj.kind, where);
}

// ---- The official schemas ------------------------------------------------------------------

// The Kubernetes API's own schemas, for each supported minor: the upstream OpenAPI definitions
// as JSON Schema, every object closed to unknown fields (kubernetes-validate's "-strict"
// _definitions.json, tests/ship/k8s-schemas.txt), validated with Ajv. cert-manager's kinds:
// the openAPIV3Schema of its CRDs (tests/ship/schemas/), closed the same way, as the API
// server's strict field validation (kubectl apply's default) refuses unknown fields of custom
// resources too. Their CEL rules (x-kubernetes-validations) are not evaluated.
const DEFS_ID = "https://kubernetes.io/api/_definitions.json";
let official = [];

// An openAPIV3Schema as JSON Schema: nullable and x-kubernetes-int-or-string spelled out, an
// object with properties closed unless it preserves unknown fields, descriptions dropped.
function crdSchema(node) {
  if (Array.isArray(node)) return node.map(crdSchema);
  if (!node || typeof node !== "object") return node;
  const out = {};
  for (const [k, v] of Object.entries(node)) {
    if (k === "description") continue;
    if (k === "properties" || k === "patternProperties")
      out[k] = Object.fromEntries(Object.entries(v).map(([pk, pv]) => [pk, crdSchema(pv)]));
    else if (["items", "additionalProperties", "not"].includes(k) && typeof v === "object") out[k] = crdSchema(v);
    else if (["allOf", "anyOf", "oneOf"].includes(k)) out[k] = v.map(crdSchema);
    else out[k] = v;
  }
  if (out["x-kubernetes-int-or-string"] && !out.anyOf && !out.oneOf) {
    delete out.type;
    out.anyOf = [{ type: "integer" }, { type: "string" }];
  }
  if (out.nullable === true && out.type) out.type = [out.type, "null"];
  if (out.type === "object" && out.properties && out.additionalProperties === undefined && !out["x-kubernetes-preserve-unknown-fields"])
    out.additionalProperties = false;
  return out;
}

async function loadOfficial(schemasDir, minors, crdDir) {
  const Ajv2020 = (await import(pathToFileURL(join(modules, "ajv/dist/2020.js")))).default;
  const { parseAllDocuments } = await import(pathToFileURL(join(modules, "yaml/dist/index.js")));
  const crds = [];
  for (const f of crdDir ? readdirSync(crdDir).filter((n) => n.endsWith(".yaml")).sort() : []) {
    for (const doc of parseAllDocuments(readFileSync(join(crdDir, f), "utf8"))) {
      const crd = doc.toJS();
      if (crd?.kind !== "CustomResourceDefinition") continue;
      (crd.spec.scope === "Namespaced" ? NAMESPACED : CLUSTER_SCOPED).add(crd.spec.names.kind);
      for (const v of crd.spec.versions) crds.push({ gvk: `${crd.spec.group}/${v.name}/${crd.spec.names.kind}`, schema: v.schema.openAPIV3Schema });
    }
  }
  const out = [];
  for (const minor of minors) {
    const defs = JSON.parse(readFileSync(join(schemasDir, `v${minor}`, "_definitions.json"), "utf8"));
    if (defs.$id !== DEFS_ID) throw new Error(`${schemasDir}/v${minor}/_definitions.json: $id ${defs.$id}, expected ${DEFS_ID}`);
    const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false });
    ajv.addSchema(defs);
    const byGvk = new Map();
    for (const [name, d] of Object.entries(defs.$defs))
      for (const g of d["x-kubernetes-group-version-kind"] ?? [])
        byGvk.set(`${g.group ? `${g.group}/` : ""}${g.version}/${g.kind}`, { $ref: `${DEFS_ID}#/$defs/${name}` });
    for (const c of crds) {
      const schema = crdSchema(c.schema);
      schema.properties = { ...schema.properties, metadata: { $ref: `${DEFS_ID}#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta` } };
      byGvk.set(c.gvk, schema);
    }
    out.push({ minor, ajv, defs: defs.$defs, byGvk, compiled: new Map() });
  }
  return out;
}

function ajvMessage(e) {
  const at = e.instancePath || "/";
  if (e.keyword === "additionalProperties") return `${at}: unknown field "${e.params.additionalProperty}"`;
  if (e.keyword === "required") return `${at}: missing required field "${e.params.missingProperty}"`;
  if (e.keyword === "enum") return `${at}: ${e.message} (${e.params.allowedValues.join(", ")})`;
  return `${at}: ${e.message}`;
}

function validateOfficial(obj, where) {
  for (const o of official) {
    const gvk = `${obj.apiVersion}/${obj.kind}`;
    const schema = o.byGvk.get(gvk);
    if (!schema) {
      fail(where, `Kubernetes ${o.minor} has no ${obj.apiVersion} ${obj.kind} (and no CRD here defines it)`);
      continue;
    }
    if (!o.compiled.has(gvk)) o.compiled.set(gvk, o.ajv.compile(schema));
    const validate = o.compiled.get(gvk);
    if (!validate(obj)) {
      // The branches of a oneOf each complain; the first few lines say enough.
      const msgs = [...new Set(validate.errors.filter((e) => e.keyword !== "oneOf" && e.keyword !== "anyOf").map(ajvMessage))];
      for (const m of msgs.slice(0, 5)) fail(where, `Kubernetes ${o.minor} schema: ${m}`);
    }
  }
  if (official.length) checkListKeys(obj, official[official.length - 1], where);
}

// Duplicates the API server refuses that a schema cannot express: two entries of one list
// with the same key (x-kubernetes-list-map-keys, else the strategic-merge key: env names,
// container names, mount paths, volume names, ports with their protocol), or two equal items
// of a set. Duplicate keys of a YAML map are refused when the YAML is parsed.
function checkListKeys(obj, o, where) {
  const resolve = (s) => {
    for (let i = 0; s?.$ref && i < 50; i++) s = s.$ref.startsWith(`${DEFS_ID}#/$defs/`) || s.$ref.startsWith("#/$defs/")
      ? o.defs[s.$ref.split("/$defs/")[1]] : null;
    return s;
  };
  const walk = (v, s, path) => {
    s = resolve(s);
    if (!s || v === null || typeof v !== "object") return;
    if (Array.isArray(v)) {
      const keys = s["x-kubernetes-list-map-keys"] ?? (s["x-kubernetes-patch-merge-key"] ? [s["x-kubernetes-patch-merge-key"]] : null);
      const seen = new Map();
      v.forEach((item, i) => {
        let k = null;
        if (keys && item && typeof item === "object") k = JSON.stringify(keys.map((n) => item[n] ?? (n === "protocol" ? "TCP" : null)));
        else if (s["x-kubernetes-list-type"] === "set") k = JSON.stringify(item);
        if (k !== null) {
          if (seen.has(k)) fail(where, `${path}[${i}] repeats ${path}[${seen.get(k)}] (same ${keys ? keys.join("+") : "value"}): the API server refuses duplicates`);
          else seen.set(k, i);
        }
        walk(item, s.items, `${path}[${i}]`);
      });
      return;
    }
    for (const [k, x] of Object.entries(v)) {
      const sub = s.properties?.[k] ?? (typeof s.additionalProperties === "object" ? s.additionalProperties : null);
      walk(x, sub, `${path}.${k}`);
    }
  };
  walk(obj, o.byGvk.get(`${obj.apiVersion}/${obj.kind}`), obj.kind);
}

// ---- Namespaces ----------------------------------------------------------------------------

// Whether a kind lives in a namespace, for the kinds manifests here may hold (the API server's
// discovery says it, and no cluster runs here). A kind in neither list is a failure: add it.
const NAMESPACED = new Set(["ConfigMap", "Secret", "Service", "ServiceAccount", "StatefulSet", "Deployment",
  "DaemonSet", "Job", "CronJob", "Pod", "PersistentVolumeClaim", "PodDisruptionBudget", "NetworkPolicy", "Role",
  "RoleBinding", "Issuer", "Certificate"]);
const CLUSTER_SCOPED = new Set(["Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition",
  "PersistentVolume", "StorageClass", "PriorityClass", "ClusterIssuer"]);

// Every namespaced object of a release lands in the release's namespace: an object without
// one goes to whatever namespace kubectl's context names (usually default), where an Issuer's
// Secret or a NodePort Service's endpoints are of no use to the brokers.
//
// Cluster-scoped objects of a release (namespacedClusterNames) end in "-<namespace>", so that
// two installs neither share nor overwrite them: deleting one install would delete a shared
// ClusterRole, and a second install would rebind a shared ClusterRoleBinding to its own
// account. A binding's roleRef names a role of the same rendering.
function checkNamespace(obj, where, ns, namespacedClusterNames, objs) {
  const have = obj?.metadata?.namespace;
  if (NAMESPACED.has(obj?.kind)) {
    if (have !== ns) fail(where, `namespace ${have ?? "(none: kubectl's current namespace)"}, expected the release namespace ${ns}`);
  } else if (CLUSTER_SCOPED.has(obj?.kind)) {
    if (have !== undefined) fail(where, `a cluster-scoped ${obj.kind} has namespace ${have}`);
    if (obj.kind === "Namespace" && obj.metadata?.name !== ns) fail(where, `a Namespace other than the release namespace ${ns}`);
  } else {
    fail(where, `cannot tell whether a ${obj?.kind} is namespaced: add it to NAMESPACED or CLUSTER_SCOPED`);
  }
  if (namespacedClusterNames && CLUSTER_SCOPED.has(obj?.kind) && !["Namespace", "CustomResourceDefinition"].includes(obj.kind)
      && !obj.metadata?.name?.endsWith(`-${ns}`))
    fail(where, `a cluster-scoped ${obj.kind} whose name does not end in -${ns}: a second install in another namespace would share or overwrite it`);
  // A binding's service accounts are this release's.
  if (obj?.kind === "RoleBinding" || obj?.kind === "ClusterRoleBinding") {
    const r = obj.roleRef ?? {};
    if (!objs.some((o) => o.kind === r.kind && o.metadata?.name === r.name && (r.kind !== "Role" || o.metadata?.namespace === ns)))
      fail(where, `roleRef ${r.kind}/${r.name} is not in this rendering`);
    for (const s of obj.subjects ?? [])
      if (s.kind === "ServiceAccount" && s.namespace !== ns)
        fail(where, `binds ServiceAccount ${s.name} in namespace ${s.namespace ?? "(none)"}, expected ${ns}`);
  }
  // Service names in a certificate are this namespace's (NAME.NS.svc[.DOMAIN]).
  if (obj?.kind === "Certificate") {
    for (const d of obj.spec?.dnsNames ?? []) {
      const m = /(?:^|\.)([^.]+)\.svc(?:\.|$)/.exec(d);
      if (m && m[1] !== ns) fail(where, `dnsName ${d} names namespace ${m[1]}, expected ${ns}`);
    }
  }
}

// ---- kpa's programs ------------------------------------------------------------------------

// --help: lines "  --flag VALUE", then the description, then "      env NAME"; a family
// shows as "--advertised-<name> VALUE" and "env KPA_ADVERTISED_<NAME>".
function programHelp(name) {
  const bin = join(build, name);
  if (!existsSync(bin)) throw new Error(`${bin} is missing: build the programs first`);
  let out;
  try {
    out = execFileSync(bin, ["--help"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch (e) {
    out = `${e.stdout ?? ""}${e.stderr ?? ""}`;
  }
  const opts = [];
  let cur = null;
  for (const line of out.split("\n")) {
    let m;
    if ((m = /^  --([a-z0-9-]+?)(<name>)?( VALUE)?\s*$/.exec(line))) {
      cur = { flag: m[1], family: !!m[2], value: !!m[3], help: "", env: null };
      opts.push(cur);
    } else if (cur && (m = /^      env ([A-Z0-9_]+?)(<NAME>)?\s*$/.exec(line))) {
      cur.env = m[1];
    } else if (cur && /^      \S/.test(line)) {
      cur.help += line.trim();
    }
  }
  if (opts.length < 5 || opts.some((o) => !o.env))
    throw new Error(`${name} --help is not in the expected format:\n${out}`);
  const def = (flag) => /\(default ([^)]+)\)/.exec(opts.find((o) => o.flag === flag)?.help ?? "")?.[1];
  return { name, opts, def };
}

function findOpt(help, { flag, env }) {
  for (const o of help.opts) {
    if (flag !== undefined) {
      if (o.family ? flag.startsWith(o.flag) && flag.length > o.flag.length : flag === o.flag) return o;
    } else if (o.family ? env.startsWith(o.env) && env.length > o.env.length : env === o.env) {
      return o;
    }
  }
  return null;
}

// The options a container gives its program: {name: value} from env and --flags (flags win).
function containerOptions(c, help, where) {
  const values = new Map();
  for (const e of c.env ?? []) {
    const o = findOpt(help, { env: e.name });
    if (!o) fail(where, `${help.name} does not accept the variable ${e.name}`);
    else values.set(o.family ? e.name : o.env, e.value ?? (e.valueFrom ? "<from the API>" : ""));
  }
  if (c.envFrom) fail(where, `envFrom on a ${help.name} container cannot be checked: list the variables`);
  const args = [...(c.command ?? []).slice(1), ...(c.args ?? [])];
  for (let i = 0; i < args.length; i++) {
    const m = /^--([^=]+)(?:=(.*))?$/s.exec(args[i]);
    if (!m) {
      fail(where, `${help.name} argument "${args[i]}" is not a --flag`);
      continue;
    }
    const o = findOpt(help, { flag: m[1] });
    if (!o) {
      fail(where, `${help.name} does not accept --${m[1]}`);
      continue;
    }
    let v = m[2];
    if (v === undefined) v = o.value ? args[++i] : "true";
    if (v === undefined) fail(where, `${help.name} --${m[1]} needs a value`);
    values.set(o.family ? `${o.env}${m[1].slice(o.flag.length).toUpperCase().replace(/-/g, "_")}` : o.env, v);
  }
  return values;
}

function durationSeconds(s) {
  const m = /^(\d+)(ms|s|m|h)$/.exec(s ?? "");
  if (!m) return NaN;
  return Number(m[1]) * { ms: 0.001, s: 1, m: 60, h: 3600 }[m[2]];
}

// The agent's endpoints, asked of a running kpa-agent (--demo: an embedded mock cluster).
async function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer().listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
    srv.on("error", reject);
  });
}
function httpStatus(port, path) {
  return new Promise((resolve) => {
    const req = get({ host: "127.0.0.1", port, path, timeout: 3000 }, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on("error", () => resolve(0));
    req.on("timeout", () => { req.destroy(); resolve(0); });
  });
}
async function agentEndpoints(paths) {
  const port = await freePort();
  const child = spawn(join(build, "kpa-agent"),
    ["--demo", `--listen=127.0.0.1:${port}`, "--prestop-timeout=0s"], { stdio: "ignore" });
  const status = new Map();
  try {
    const deadline = Date.now() + 10000;
    while ((await httpStatus(port, "/status")) === 0) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error("kpa-agent --demo did not start serving");
      await new Promise((r) => setTimeout(r, 100));
    }
    for (const p of paths) status.set(p, await httpStatus(port, p));
  } finally {
    child.kill("SIGTERM");
  }
  return status;
}

// ---- Cross-check of the workloads ----------------------------------------------------------

const PROBES = ["startupProbe", "livenessProbe", "readinessProbe"];

function checkWorkload(obj, where, ctx, objs) {
  const { helps, usedPaths } = ctx;
  const spec = obj.spec?.template?.spec;
  if (!spec) return;
  const all = [...(spec.initContainers ?? []), ...(spec.containers ?? [])];
  const program = (c) => basename((c.command ?? [])[0] ?? "");
  const init = all.find((c) => program(c) === "kpa-init");
  const agent = all.find((c) => program(c) === "kpa-agent");
  if (!init && !agent) return;
  const initOpts = init ? containerOptions(init, helps.init, `${where} ${init.name}`) : new Map();
  const agentOpts = agent ? containerOptions(agent, helps.agent, `${where} ${agent.name}`) : new Map();
  if (!init || !agent) {
    fail(where, "kpa-init and kpa-agent are expected together");
    return;
  }
  dryRunInit(obj, spec, init, objs, `${where} ${init.name}`, ctx.stats);
  const w = `${where} ${agent.name}`;
  if (!(spec.initContainers ?? []).includes(agent) || agent.restartPolicy !== "Always")
    fail(w, "kpa-agent is not a native sidecar (an init container with restartPolicy: Always)");
  if (spec.initContainers.indexOf(init) > spec.initContainers.indexOf(agent))
    fail(w, "kpa-agent starts before kpa-init has written its configuration");

  checkStatefulSetReader(obj, spec, agentOpts, w, objs);

  // The agent's port: its --listen, else the default its --help states.
  const listen = agentOpts.get("KPA_LISTEN") ?? helps.agent.def("listen");
  const port = Number(/:(\d+)$/.exec(listen ?? "")?.[1]);
  if (!port) fail(w, `cannot tell kpa-agent's port from --listen "${listen}"`);
  if (!(agent.ports ?? []).some((p) => p.containerPort === port))
    fail(w, `kpa-agent listens on ${port} but declares no containerPort ${port}`);

  // kpa-agent reads what kpa-init writes, through one shared volume.
  const out = initOpts.get("KPA_OUTPUT_DIR") ?? helps.init.def("output-dir");
  const outVol = (init.volumeMounts ?? []).find((m) => m.mountPath === out)?.name;
  if (!outVol) fail(`${where} ${init.name}`, `no volume is mounted at kpa-init's output ${out}`);
  for (const [key, file] of [["KPA_BROKER_CONFIG", "server.properties"], ["KPA_CLIENT_CONFIG", "client.properties"]]) {
    if (agentOpts.get(key) !== `${out}/${file}`) fail(w, `${key} is not ${out}/${file}`);
  }
  for (const c of all.filter((x) => x !== init)) {
    if (!(c.volumeMounts ?? []).some((m) => m.name === outVol && m.mountPath === out))
      fail(`${where} ${c.name}`, `does not mount kpa-init's output volume at ${out}`);
  }

  // Probes and hooks aimed at the agent: its port, its endpoints, plain HTTP.
  const httpActions = (c) => [
    ...PROBES.map((p) => [p, c[p]?.httpGet]),
    ["preStop", c.lifecycle?.preStop?.httpGet],
    ["postStart", c.lifecycle?.postStart?.httpGet],
  ].filter(([, h]) => h);
  for (const c of all) {
    for (const [what, h] of httpActions(c)) {
      const p = typeof h.port === "number" ? h.port : (c.ports ?? []).find((x) => x.name === h.port)?.containerPort;
      const wc = `${where} ${c.name} ${what}`;
      if (p !== port) fail(wc, `port ${h.port} is not kpa-agent's ${port}`);
      if (h.scheme && h.scheme !== "HTTP") fail(wc, `kpa-agent serves HTTP, not ${h.scheme}`);
      usedPaths.push({ where: wc, path: h.path ?? "/" });
    }
  }
  // Which endpoint answers for whom: the agent's own probes must not depend on the broker.
  for (const p of PROBES) {
    const path = agent[p]?.httpGet?.path;
    if (path === "/livez" || path === "/readyz") fail(`${w} ${p}`, `${path} answers for the broker, not for kpa-agent`);
  }
  const broker = (spec.containers ?? []).find((c) => c.name === "kafka");
  if (!broker) {
    fail(where, "no broker container named kafka");
    return;
  }
  if (broker.readinessProbe?.httpGet?.path !== "/readyz")
    fail(`${where} kafka readinessProbe`, "expected httpGet /readyz on kpa-agent");
  // Start-up, liveness and preStop: kpa-probe.sh (a ConfigMap item mounted in the broker
  // container) asks kpa-agent's /livez with the broker process's age, and passes liveness when
  // kpa-agent does not answer; as the preStop hook it waits for kpa-agent and its held /prestop
  // (docs/deploy.md, "The broker's probes"). Returns the script's index in cmd, or -1.
  const probeScript = (cmd, mode, wp) => {
    const i = cmd.findIndex((a) => a.endsWith("/kpa-probe.sh"));
    if (i < 0 || cmd[i + 1] !== mode) {
      fail(wp, `expected exec kpa-probe.sh ${mode}`);
      return -1;
    }
    if (Number(/:(\d+)$/.exec(cmd[i + 2] ?? "")?.[1]) !== port) fail(wp, `kpa-probe.sh does not ask kpa-agent's port ${port}`);
    const dir = cmd[i].slice(0, cmd[i].lastIndexOf("/"));
    const vm = (broker.volumeMounts ?? []).find((m) => m.mountPath === dir);
    const vol = (spec.volumes ?? []).find((v) => v.name === vm?.name);
    const items = vol?.configMap?.items;
    if (!vol?.configMap || (items && !items.some((it) => it.path === "kpa-probe.sh")))
      fail(wp, `${cmd[i]} is not an item of a ConfigMap mounted in the broker container`);
    return i;
  };
  for (const [p, mode] of [["startupProbe", "startup"], ["livenessProbe", "liveness"]]) {
    const wp = `${where} kafka ${p}`;
    if (probeScript(broker[p]?.exec?.command ?? [], mode, wp) < 0) continue;
    if (!((broker[p].timeoutSeconds ?? 1) > 2)) fail(wp, "timeoutSeconds must exceed kpa-probe.sh's own 2 s wait for kpa-agent");
    usedPaths.push({ where: wp, path: "/livez?process-age-ms=0" });
  }
  // The preStop hook: an exec of kpa-probe.sh prestop, not an httpGet (which fails at once
  // when kpa-agent is down at the stop, and the kubelet then stops the broker ungated). Its
  // budget (the argument after the address) must outlast kpa-agent's --prestop-timeout, so
  // that the agent's own bound ends a hold, and leave the broker 30 s of the grace period for
  // its controlled shutdown.
  const prestopCmd = broker.lifecycle?.preStop?.exec?.command ?? [];
  const wps = `${where} kafka preStop`;
  const pi = probeScript(prestopCmd, "prestop", wps);
  if (pi >= 0) {
    usedPaths.push({ where: wps, path: "/prestop" });
    const budget = /^[0-9]+$/.test(prestopCmd[pi + 3] ?? "") ? Number(prestopCmd[pi + 3]) : null;
    const prestopS = durationSeconds(agentOpts.get("KPA_PRESTOP_TIMEOUT") ?? helps.agent.def("prestop-timeout"));
    const graceS = spec.terminationGracePeriodSeconds ?? 30;
    if (budget === null)
      fail(wps, "kpa-probe.sh prestop has no budget in seconds after the agent's address (give it: the grace period, less 30 s)");
    else {
      if (!(budget > prestopS))
        fail(wps, `kpa-probe.sh's budget ${budget}s does not outlast --prestop-timeout (${prestopS}s): the hook would cut kpa-agent's wait short`);
      if (!(budget + 30 <= graceS))
        fail(wps, `kpa-probe.sh's budget ${budget}s leaves less than 30s of terminationGracePeriodSeconds ${graceS} for the broker's controlled shutdown`);
    }
  }
  const script = [...(broker.command ?? []), ...(broker.args ?? [])].join(" ");
  for (const f of ["server.properties", "cluster.id"])
    if (!script.includes(`${out}/${f}`)) fail(`${where} kafka`, `does not use kpa-init's ${out}/${f}`);
  if (!script.includes("/tmp/kpa-broker.id"))
    fail(`${where} kafka`, "does not write /tmp/kpa-broker.id (its pid and start time) for kpa-probe.sh");

  checkConfigHashes(spec, objs, where);
  if (spec.enableServiceLinks !== false)
    fail(where, "enableServiceLinks is not false: a Service named jmx in the namespace would set JMX_PORT=tcp://…, and the broker's JVM refuses to start");
  checkImages(all, where);
  checkStorage(obj, spec, init, broker, initOpts.get("KPA_LOG_DIRS") ?? helps.init.def("log-dirs"), where);

  // The grace period covers the preStop bound plus the broker's controlled shutdown.
  const prestop = durationSeconds(agentOpts.get("KPA_PRESTOP_TIMEOUT") ?? helps.agent.def("prestop-timeout"));
  const grace = spec.terminationGracePeriodSeconds ?? 30;
  if (!(grace >= prestop + 30))
    fail(where, `terminationGracePeriodSeconds ${grace} does not cover --prestop-timeout (${prestop}s) + 30s of controlled shutdown`);
}

// ---- RBAC of the scale-down rule -----------------------------------------------------------

// With its pod's name kpa-agent reads its StatefulSet's spec.replicas (docs/scale-down.md). The
// pod's service account must be bound to a Role of this rendering that grants get on that
// StatefulSet by name: otherwise every read gets 403, and every /prestop then holds until its
// timeout (a failed read fails closed), turning each roll into a wait of the full timeout per
// pod (a StatefulSet renamed by an overlay without its Role would do exactly that). The
// Role the agent names in that warning (KPA_STATEFULSET_ROLE) must be one that does.
function checkStatefulSetReader(obj, spec, agentOpts, where, objs) {
  if (!agentOpts.has("KPA_POD_NAME")) return;
  const sts = agentOpts.get("KPA_STATEFULSET") ?? obj.metadata?.name;
  const sa = spec.serviceAccountName ?? "default";
  const ns = obj.metadata?.namespace;
  const grants = (role) => (role.rules ?? []).some((r) =>
    (r.apiGroups ?? []).some((g) => g === "apps" || g === "*") &&
    (r.resources ?? []).some((x) => x === "statefulsets" || x === "*") &&
    (r.verbs ?? []).some((v) => v === "get" || v === "*") &&
    (r.resourceNames === undefined || r.resourceNames.includes(sts)));
  const readers = objs.filter((b) => b.kind === "RoleBinding" && b.metadata?.namespace === ns && b.roleRef?.kind === "Role" &&
      (b.subjects ?? []).some((x) => x.kind === "ServiceAccount" && x.name === sa && (x.namespace ?? ns) === ns))
    .map((b) => objs.find((o) => o.kind === "Role" && o.metadata?.name === b.roleRef.name && o.metadata?.namespace === ns))
    .filter((role) => role && grants(role));
  if (readers.length === 0)
    fail(where, `kpa-agent reads StatefulSet ${sts} (KPA_POD_NAME), but no Role of this rendering bound to ServiceAccount ` +
      `${sa} grants get on it (resourceNames): every read gets 403 and every /prestop holds until its timeout`);
  const named = agentOpts.get("KPA_STATEFULSET_ROLE");
  if (named !== undefined && !readers.some((role) => role.metadata.name === named))
    fail(where, `KPA_STATEFULSET_ROLE names Role ${named}, which does not grant ServiceAccount ${sa} get on StatefulSet ${sts}`);
}

// ---- Images --------------------------------------------------------------------------------

// Every image by its full name, a registry host and a tag (not latest) or a digest: runtimes
// that refuse short names start it, and a restart runs what was tested. The broker's image is
// the Kafka release the real-Kafka tests run as "shipped" (tests/kafka/versions).
function shippedKafka() {
  const lines = readFileSync(join(REPO, "tests", "kafka", "versions"), "utf8").split("\n")
    .map((l) => l.split("#")[0].trim().split(/\s+/)).filter((f) => f[1] === "shipped");
  return lines.length === 1 ? lines[0][0] : null;
}
function checkImages(containers, where) {
  for (const c of containers) {
    const w = `${where} ${c.name}`;
    const image = c.image ?? "";
    const first = image.split("/")[0];
    if (!image.includes("/") || !(/[.:]/.test(first) || first === "localhost"))
      fail(w, `image ${image} has no registry host: name it fully (e.g. docker.io/…, registry.example.com/…)`);
    const tag = /:([^:/@]+)(@|$)/.exec(image)?.[1];
    if (!image.includes("@sha256:") && (!tag || tag === "latest")) fail(w, `image ${image} is not pinned: give it a tag other than latest, or a digest`);
    if (c.name === "kafka" && imageRepository(image) === "apache/kafka" && tag !== shippedKafka())
      fail(w, `image ${image} is not apache/kafka:${shippedKafka()}, the release tests/kafka/versions ships and the real-Kafka tests run`);
  }
}

// ---- Config rollouts ------------------------------------------------------------------------

// The ConfigMaps the pod template reads and this rendering holds carry a hash of their content
// in their name (kustomize's configMapGenerator: NAME-<10 characters of its alphabet>), so that
// an edit changes the pod template and the brokers roll. A ConfigMap of a fixed name can
// change under running brokers and reach each one only at its next restart, unannounced.
function checkConfigHashes(spec, objs, where) {
  const names = new Set();
  for (const v of spec.volumes ?? []) {
    if (v.configMap) names.add(v.configMap.name);
    for (const p of v.projected?.sources ?? []) if (p.configMap) names.add(p.configMap.name);
  }
  for (const c of [...(spec.initContainers ?? []), ...(spec.containers ?? [])]) {
    for (const e of c.env ?? []) if (e.valueFrom?.configMapKeyRef) names.add(e.valueFrom.configMapKeyRef.name);
    for (const e of c.envFrom ?? []) if (e.configMapRef) names.add(e.configMapRef.name);
  }
  for (const n of names) {
    if (!objs.some((o) => o.kind === "ConfigMap" && o.metadata?.name === n)) continue;
    if (!/-[bcdfghjklmnpqrstvwxz2456789]{10}$/.test(n))
      fail(where, `ConfigMap ${n} has no content hash in its name: an edit would not roll the brokers (use a configMapGenerator)`);
  }
}

// ---- Services ------------------------------------------------------------------------------

// Whether a Service's selector picks pods of a StatefulSet: its labels, or one pod's name
// label that the StatefulSet controller adds (statefulset.kubernetes.io/pod-name: NAME-N).
function selects(selector, sts) {
  const labels = sts.spec?.template?.metadata?.labels ?? {};
  const entries = Object.entries(selector ?? {});
  return entries.length > 0 && entries.every(([k, v]) =>
    k === "statefulset.kubernetes.io/pod-name"
      ? new RegExp(`^${sts.metadata.name}-\\d+$`).test(v) && Number(v.slice(sts.metadata.name.length + 1)) < (sts.spec.replicas ?? 1)
      : labels[k] === v);
}
const runsKpa = (w) => [...(w.spec?.template?.spec?.initContainers ?? []), ...(w.spec?.template?.spec?.containers ?? [])]
  .some((c) => /(^|\/)kpa-agent$/.test((c.command ?? [])[0] ?? ""));

// Every Service in front of kpa brokers publishes them ready or not. kpa-agent's readiness
// means caught up, to gate the rolling update; a broker that is catching up still serves and
// leads partitions. A Service that followed it would cut clients off those partitions (a
// per-broker Service), or go empty when no broker is caught up (a bootstrap Service; with
// --ready-scope cluster, whenever any partition is under-replicated).
function checkBrokerService(svc, where, objs) {
  const sts = objs.filter((o) => o.kind === "StatefulSet" && runsKpa(o) && selects(svc.spec?.selector, o));
  if (sts.length && svc.spec?.publishNotReadyAddresses !== true)
    fail(where, `selects the brokers of StatefulSet ${sts[0].metadata.name} but follows readiness: kpa's readiness is a ` +
      `rollout gate (caught up), not "serving"; set publishNotReadyAddresses: true`);
}

// ---- Storage -------------------------------------------------------------------------------

// The VOLUMEs each image declares. containerd (EKS, GKE, AKS, kind, k3s) mounts an anonymous
// volume at every such path that no volume of the pod is mounted at exactly, on top of what
// the pod mounts above it: a PVC mounted at /var/lib/kafka gets /var/lib/kafka/data hidden by
// an anonymous volume owned by the image's user. apache/kafka, from its Dockerfile
// (docker/jvm/Dockerfile, 3.7 to 4.x): VOLUME ["/etc/kafka/secrets", "/var/lib/kafka/data",
// "/mnt/shared/config"]. The kpa image: the VOLUME lines of docker/Dockerfile.
const REPO = fileURLToPath(new URL("../..", import.meta.url));
const IMAGE_VOLUMES = new Map([["apache/kafka", ["/etc/kafka/secrets", "/var/lib/kafka/data", "/mnt/shared/config"]]]);
function kpaImageVolumes() {
  const out = [];
  for (const m of readFileSync(join(REPO, "docker", "Dockerfile"), "utf8").matchAll(/^VOLUME\s+(.+)$/gm)) {
    const v = m[1].trim();
    out.push(...(v.startsWith("[") ? JSON.parse(v) : v.split(/\s+/)));
  }
  return out;
}
// "docker.io/apache/kafka:4.1.1" -> "apache/kafka": the repository without registry or tag.
export function imageRepository(image) {
  let rest = image.split("@")[0];
  const parts = rest.split("/");
  if (parts.length > 1 && (/[.:]/.test(parts[0]) || parts[0] === "localhost")) parts.shift();
  rest = parts.join("/").replace(/:[^:/]+$/, "");
  return rest.replace(/^library\//, "");
}
function imageVolumes(c, where) {
  const program = basename((c.command ?? [])[0] ?? "");
  if (program === "kpa-init" || program === "kpa-agent") return kpaImageVolumes();
  const vols = IMAGE_VOLUMES.get(imageRepository(c.image ?? ""));
  if (!vols) fail(where, `the VOLUMEs of image ${c.image} are not known: add them to IMAGE_VOLUMES`);
  return vols ?? [];
}
const under = (path, dir) => path === dir || path.startsWith(`${dir.replace(/\/$/, "")}/`);

// The deepest of the container's mounts and its image's VOLUMEs that holds path.
function holder(c, path, where) {
  let best = null;
  for (const m of c.volumeMounts ?? [])
    if (under(path, m.mountPath) && (!best || m.mountPath.length > best.path.length))
      best = { path: m.mountPath, mount: m };
  for (const v of imageVolumes(c, where))
    if (under(path, v) && (!best || v.length > best.path.length)) best = { path: v, imageVolume: true };
  return best;
}

function checkStorage(obj, spec, init, broker, logDirs, where) {
  const all = [...(spec.initContainers ?? []), ...(spec.containers ?? [])];
  // No image VOLUME inside a mounted volume: it would hide that part of the volume.
  for (const c of all) {
    for (const v of imageVolumes(c, `${where} ${c.name}`)) {
      for (const m of c.volumeMounts ?? []) {
        if (v !== m.mountPath && under(v, m.mountPath))
          fail(`${where} ${c.name}`, `image ${c.image} declares VOLUME ${v} inside volume ${m.name} (mounted at ${m.mountPath}): ` +
            `the container runtime mounts an anonymous volume over ${v}, hiding that part of ${m.name}; mount ${m.name} at ${v} or below it`);
      }
    }
  }
  // The log dirs: on a PVC, below its mount point, writable by the broker, and seen by
  // kpa-init on the same volume at the same path.
  const claims = new Set((obj.spec?.volumeClaimTemplates ?? []).map((t) => t.metadata?.name));
  for (const v of spec.volumes ?? []) if (v.persistentVolumeClaim) claims.add(v.name);
  const wb = `${where} ${broker.name}`;
  for (const dir of (logDirs ?? "").split(",").filter(Boolean)) {
    const h = holder(broker, dir, wb);
    if (!h || h.imageVolume) {
      fail(wb, `log dir ${dir} is ${h ? `in the image's anonymous VOLUME ${h.path}` : "on the container's own filesystem"}, not on a PersistentVolumeClaim`);
      continue;
    }
    if (!claims.has(h.mount.name)) fail(wb, `log dir ${dir} is on volume ${h.mount.name}, which is not a PersistentVolumeClaim`);
    if (dir.replace(/\/$/, "") === h.path.replace(/\/$/, ""))
      fail(wb, `log dir ${dir} is the mount point of volume ${h.mount.name}: a filesystem's lost+found would sit among ` +
        `Kafka's partition folders and Kafka refuses to start; use a folder below it`);
    if (h.mount.readOnly) fail(wb, `log dir ${dir} is on a read-only mount`);
    const hi = holder(init, dir, `${where} ${init.name}`);
    if (!hi?.mount || hi.mount.name !== h.mount.name || hi.path !== h.path || hi.mount.readOnly !== true)
      fail(`${where} ${init.name}`, `does not see log dir ${dir} where the broker does (volume ${h.mount.name} at ${h.path}, read-only): ` +
        `its check that an existing volume belongs to this node.id and cluster would read another folder`);
  }
}

// kpa-init itself judges the inputs a manifest gives it: a dry run (KPA_DRY_RUN) with the
// container's variables, downward API values made up, ConfigMap keys looked up in the same
// rendering, and every mounted path moved into a scratch folder. Inputs that need a cluster
// (Secrets with keys, the API server) are not there: such workloads are reported, not run.
const NEEDS_CLUSTER = ["KPA_TLS_DIR", "KPA_TLS_CA_DIR", "KPA_SASL_USERS_DIR", "KPA_RACK_NODE_LABEL"];
function dryRunInit(obj, spec, init, objs, where, stats) {
  const needs = (init.env ?? []).map((e) => e.name).filter((n) => NEEDS_CLUSTER.includes(n));
  if (needs.length) {
    stats.dryRunsSkipped.push(`${where} (${needs.join(", ")})`);
    return;
  }
  const scratch = mkdtempSync(join(tmpdir(), "kpa-dryrun-"));
  try {
    const mounts = [];
    for (const m of init.volumeMounts ?? []) {
      const vol = (spec.volumes ?? []).find((v) => v.name === m.name);
      const dir = join(scratch, `m${mounts.length}`);
      mkdirSync(dir, { recursive: true });
      if (vol?.configMap) {
        const cm = objs.find((o) => o.kind === "ConfigMap" && o.metadata?.name === vol.configMap.name);
        if (!cm) fail(where, `ConfigMap ${vol.configMap.name} is not in this rendering`);
        for (const it of vol.configMap.items ?? Object.keys(cm?.data ?? {}).map((k) => ({ key: k, path: k })))
          writeFileSync(join(dir, it.path), cm?.data?.[it.key] ?? "");
      }
      mounts.push([m.mountPath, dir]);
    }
    mounts.sort((a, b) => b[0].length - a[0].length);
    const remap = (v) => {
      for (const [from, to] of mounts) if (v === from || v.startsWith(`${from}/`)) return to + v.slice(from.length);
      return v;
    };
    const field = {
      "metadata.name": `${obj.metadata.name}-0`,
      "metadata.namespace": obj.metadata.namespace ?? "default",
      "status.podIP": "192.0.2.10",
      "status.hostIP": "192.0.2.1",
      "spec.nodeName": "node-a",
    };
    const env = { PATH: process.env.PATH, KPA_DRY_RUN: "true" };
    for (const e of init.env ?? []) {
      let v = e.value;
      const ref = e.valueFrom;
      if (ref?.fieldRef) v = field[ref.fieldRef.fieldPath];
      else if (ref?.configMapKeyRef)
        v = objs.find((o) => o.kind === "ConfigMap" && o.metadata?.name === ref.configMapKeyRef.name)?.data?.[ref.configMapKeyRef.key];
      if (v === undefined) {
        fail(where, `cannot give kpa-init a value for ${e.name} in a dry run`);
        return;
      }
      env[e.name] = remap(v).split(",").map(remap).join(",");
    }
    const args = [...(init.command ?? []).slice(1), ...(init.args ?? [])].map(remap);
    try {
      execFileSync(join(build, "kpa-init"), args, { env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
      stats.dryRuns++;
    } catch (e) {
      fail(where, `kpa-init refuses the manifest's inputs: ${(e.stderr || e.message).trim()}`);
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

// ---- Entry points --------------------------------------------------------------------------

// modules: node_modules installed with `npm ci` from tests/ship/package-lock.json; build: the
// build folder with kpa-init and kpa-agent (their --help and a running agent are the
// reference for flags, variables, endpoints and the listen port); schemas: a folder with
// v<minor>/_definitions.json for each of minors; crds: a folder of CRD files.
export async function setup(opts) {
  modules = opts.modules;
  build = opts.build;
  const { parseAllDocuments } = await import(pathToFileURL(join(modules, "yaml/dist/index.js")));
  const helps = { init: programHelp("kpa-init"), agent: programHelp("kpa-agent") };
  official = await loadOfficial(opts.schemas, opts.minors, opts.crds);
  return { parseAllDocuments, helps, usedPaths: [], stats: { objects: 0, dryRuns: 0, dryRunsSkipped: [] } };
}

// The objects of a multi-document YAML text (kubectl kustomize output); YAML errors, duplicate
// keys among them, are failures of the rendering.
export function parseRendering(ctx, name, text) {
  const objs = [];
  for (const doc of ctx.parseAllDocuments(text, { uniqueKeys: true })) {
    if (doc.errors.length) fail(name, `YAML: ${doc.errors[0].message.split("\n")[0]}`);
    else if (doc.toJS() !== null) objs.push(doc.toJS());
  }
  return objs;
}

// Runs every check on the objects of one rendering; returns the failures found (they are
// also kept for allFailures()).
export async function checkRendering(ctx, name, objs, opts = {}) {
  const before = failures.length;
  for (const obj of objs) {
    const where = `${name} ${obj?.kind}/${obj?.metadata?.name}`;
    ctx.stats.objects++;
    await validateObject(obj, where);
    if (obj?.apiVersion && obj?.kind) validateOfficial(obj, where);
    if (opts.namespace) checkNamespace(obj, where, opts.namespace, opts.namespacedClusterNames !== false, objs);
    if (["StatefulSet", "Deployment", "DaemonSet"].includes(obj?.kind))
      checkWorkload(obj, where, ctx, objs);
    if (obj?.kind === "Service") checkBrokerService(obj, where, objs);
  }
  return failures.slice(before);
}

// The probe and hook paths the workloads aim at kpa-agent, asked of a running kpa-agent.
export async function checkAgentPaths(ctx) {
  const before = failures.length;
  if (ctx.usedPaths.length === 0) fail("manifests", "no probe or hook aimed at kpa-agent was found");
  const status = await agentEndpoints([...new Set(ctx.usedPaths.map((u) => u.path))]);
  for (const u of ctx.usedPaths) {
    const s = status.get(u.path);
    if (!(s >= 200 && s < 600) || s === 404 || s === 405)
      fail(u.where, `kpa-agent answers ${u.path} with ${s || "no answer"} (not an endpoint)`);
  }
  return failures.slice(before);
}

export function allFailures() {
  return failures;
}
