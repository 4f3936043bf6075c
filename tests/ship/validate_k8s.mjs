// Validates rendered Kubernetes manifests, and checks them against kpa's own programs
// (k8s_checks.mjs says what is checked).
//
//   node validate_k8s.mjs --modules DIR --build DIR [--namespace NS] NAME=FILE...
//
// --modules:   node_modules installed with `npm ci` from tests/ship/package-lock.json.
// --build:     build folder with kpa-init and kpa-agent.
// --namespace: the release namespace of the NAME=FILE arguments that follow it.
// KPA_K8S_SCHEMAS, KPA_K8S_MINORS (1.29,1.37), KPA_K8S_CRDS: the official schemas
// (validate_k8s.sh fetches them; k8s_checks.mjs, "The official schemas").
// NAME=FILE:   a multi-document YAML file (kubectl kustomize output) and the name to report.
// Exit status 1 on any failure, with one line each.
import { readFileSync } from "node:fs";
import { allFailures, checkAgentPaths, checkRendering, parseRendering, setup } from "./k8s_checks.mjs";

const argv = process.argv.slice(2);
let modules, build, namespace;
const inputs = [];
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === "--modules") modules = argv[++i];
  else if (argv[i] === "--build") build = argv[++i];
  else if (argv[i] === "--namespace") namespace = argv[++i];
  else if (argv[i].includes("=")) inputs.push([...argv[i].split(/=(.*)/s).slice(0, 2), namespace]);
  else throw new Error(`unexpected argument ${argv[i]}`);
}
if (!modules || !build || inputs.length === 0) {
  console.error("usage: validate_k8s.mjs --modules DIR --build DIR [--namespace NS] NAME=FILE...");
  process.exit(2);
}

const ctx = await setup({ modules, build, schemas: process.env.KPA_K8S_SCHEMAS,
  minors: process.env.KPA_K8S_MINORS.split(","), crds: process.env.KPA_K8S_CRDS });
for (const [name, file, ns] of inputs) {
  const objs = parseRendering(ctx, name, readFileSync(file, "utf8"));
  await checkRendering(ctx, name, objs, { namespace: ns });
}
await checkAgentPaths(ctx);

const failures = allFailures();
for (const f of failures) console.error(`FAIL: ${f}`);
for (const w of ctx.stats.dryRunsSkipped) console.log(`kpa-init dry run not possible without a cluster: ${w}`);
console.log(`${ctx.stats.objects} objects in ${inputs.length} renderings; ${ctx.usedPaths.length} probes/hooks on kpa-agent; ` +
  `${ctx.stats.dryRuns} kpa-init dry runs; ${failures.length} failure(s)`);
process.exit(failures.length ? 1 : 0);
