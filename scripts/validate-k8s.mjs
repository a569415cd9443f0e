// validate-k8s.mjs - check deploy/k8s against Kubernetes' own schemas.
//
// Two validators from the npm registry, pinned by scripts/validate-k8s:
//   - kubernetes-models: JSON-schema validation (types, required fields,
//     formats) generated from Kubernetes' OpenAPI specification;
//   - @kubernetes/client-node, the official client: its per-type field maps
//     catch unknown fields (a typo such as `readOnlyRootFilesytem` is valid
//     JSON schema but silently ignored by the API server: strict here).
// Then lossd's own policy: what issue #4 requires of the manifests.
//
//   node scripts/validate-k8s.mjs deploy/k8s
import fs from "node:fs";
import path from "node:path";
import YAML from "yaml";
import * as k8s from "@kubernetes/client-node";

const dir = process.argv[2] || "deploy/k8s";
const errors = [];
const fail = (where, message) => errors.push(`${where}: ${message}`);

// apiVersion/kind -> [kubernetes-models module, client-node type]
const KINDS = {
  "apps/v1/Deployment": ["kubernetes-models/apps/v1/Deployment", "V1Deployment"],
  "v1/Service": ["kubernetes-models/v1/Service", "V1Service"],
  "autoscaling/v2/HorizontalPodAutoscaler": ["kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler", "V2HorizontalPodAutoscaler"],
  "policy/v1/PodDisruptionBudget": ["kubernetes-models/policy/v1/PodDisruptionBudget", "V1PodDisruptionBudget"],
};

// ---------------------------------------------------------------- strict fields
const PRIMITIVES = new Set(["string", "number", "boolean", "Date", "object", "any", "IntOrString"]);

function checkFields(value, type, where) {
  if (value === null || value === undefined) return;
  let m;
  if ((m = /^Array<(.+)>$/.exec(type))) {
    if (!Array.isArray(value)) return fail(where, `expected a list (${type})`);
    value.forEach((item, i) => checkFields(item, m[1], `${where}[${i}]`));
    return;
  }
  if ((m = /^\{ \[key: string\]: (.+); \}$/.exec(type))) {
    for (const [k, v] of Object.entries(value)) checkFields(v, m[1], `${where}.${k}`);
    return;
  }
  if (PRIMITIVES.has(type)) return;
  const cls = k8s[type];
  if (!cls) return fail(where, `no such type ${type} in @kubernetes/client-node`);
  const map = cls.getAttributeTypeMap ? cls.getAttributeTypeMap() : cls.attributeTypeMap;
  if (typeof value !== "object" || Array.isArray(value)) return fail(where, `expected an object (${type})`);
  const fields = new Map(map.map((a) => [a.baseName, a.type]));
  for (const [k, v] of Object.entries(value)) {
    if (!fields.has(k)) fail(`${where}.${k}`, `unknown field of ${type}`);
    else checkFields(v, fields.get(k), `${where}.${k}`);
  }
}

// ---------------------------------------------------------------- policy
function policy(docs) {
  const find = (kind) => docs.find((d) => d.doc.kind === kind);
  const dep = find("Deployment"), svc = find("Service"), hpa = find("HorizontalPodAutoscaler"), pdb = find("PodDisruptionBudget");
  for (const [name, d] of Object.entries({ Deployment: dep, Service: svc, HorizontalPodAutoscaler: hpa, PodDisruptionBudget: pdb }))
    if (!d) fail(dir, `no ${name}`);
  if (!dep) return;
  const where = dep.file, spec = dep.doc.spec, pod = spec.template.spec, c = pod.containers[0];
  const expect = (cond, message) => cond || fail(where, message);
  expect(spec.replicas === 3, "replicas must be 3");
  expect(c.livenessProbe?.httpGet?.path === "/healthz", "liveness probe must be GET /healthz");
  expect(c.readinessProbe?.httpGet?.path === "/readyz", "readiness probe must be GET /readyz");
  expect(c.resources?.requests?.cpu && c.resources?.requests?.memory, "resource requests must be set");
  expect(c.resources?.limits?.cpu && c.resources?.limits?.memory, "resource limits must be set");
  expect(pod.securityContext?.runAsNonRoot === true, "pod must run as non-root");
  expect(pod.securityContext?.seccompProfile?.type === "RuntimeDefault", "seccomp must be RuntimeDefault");
  const sc = c.securityContext || {};
  expect(sc.allowPrivilegeEscalation === false, "no privilege escalation");
  expect(sc.readOnlyRootFilesystem === true, "read-only root file system");
  expect(JSON.stringify(sc.capabilities?.drop) === '["ALL"]', "all capabilities dropped");
  const drain = Number((c.env || []).find((e) => e.name === "LOSSD_DRAIN_TIMEOUT")?.value ?? 10);
  const preStop = Number(c.lifecycle?.preStop?.exec?.command?.[1] ?? 0);
  expect(pod.terminationGracePeriodSeconds > drain + preStop,
    `terminationGracePeriodSeconds (${pod.terminationGracePeriodSeconds}) must exceed the drain (${drain} s) plus preStop (${preStop} s)`);
  const port = c.ports?.find((p) => p.name === "http");
  expect(port?.containerPort === 8080, "the container must expose http on 8080");
  if (svc) expect(svc.doc.spec.ports?.[0]?.targetPort === "http", "the Service must target the http port");
  if (hpa) {
    expect(hpa.doc.spec.scaleTargetRef?.name === dep.doc.metadata.name, "the HPA must scale the Deployment");
    expect(hpa.doc.spec.metrics?.some((m) => m.resource?.name === "cpu"), "the HPA must scale on CPU");
  }
  if (pdb) {
    const labels = dep.doc.spec.selector.matchLabels;
    for (const d of [svc, pdb].filter(Boolean)) {
      const sel = d.doc.kind === "Service" ? d.doc.spec.selector : d.doc.spec.selector.matchLabels;
      expect(JSON.stringify(sel) === JSON.stringify(labels), `${d.doc.kind}'s selector must match the Deployment's`);
    }
  }
}

// ---------------------------------------------------------------- main
const kust = YAML.parse(fs.readFileSync(path.join(dir, "kustomization.yaml"), "utf8"));
const KUST_FIELDS = new Set(["apiVersion", "kind", "resources", "images", "labels", "namespace", "commonAnnotations"]);
for (const k of Object.keys(kust)) if (!KUST_FIELDS.has(k)) fail("kustomization.yaml", `unexpected field ${k}`);
if (kust.kind !== "Kustomization" || kust.apiVersion !== "kustomize.config.k8s.io/v1beta1")
  fail("kustomization.yaml", "not a kustomize.config.k8s.io/v1beta1 Kustomization");

const docs = [];
for (const file of kust.resources || []) {
  const full = path.join(dir, file);
  if (!fs.existsSync(full)) { fail("kustomization.yaml", `${file} does not exist`); continue; }
  for (const d of YAML.parseAllDocuments(fs.readFileSync(full, "utf8"))) {
    if (d.errors.length) { fail(file, d.errors.map(String).join("; ")); continue; }
    const doc = d.toJS();
    const key = `${doc.apiVersion}/${doc.kind}`;
    const entry = KINDS[key];
    if (!entry) { fail(file, `unexpected kind ${key}`); continue; }
    const model = await import(entry[0]);
    const Cls = Object.values(model).find((v) => typeof v === "function");
    try {
      new Cls(doc).validate();
    } catch (e) {
      fail(file, `schema: ${e.message}`);
    }
    checkFields(doc, entry[1], `${file}:${doc.kind}`);
    docs.push({ file, doc });
  }
}
for (const image of kust.images || [])
  if (!docs.some((d) => d.doc.spec?.template?.spec?.containers?.some((c) => c.image.split(":")[0] === image.name)))
    fail("kustomization.yaml", `image ${image.name} is used by no container`);
policy(docs);

if (errors.length) {
  console.error(errors.join("\n"));
  console.error(`validate-k8s: ${errors.length} problem(s)`);
  process.exit(1);
}
console.log(`validate-k8s: ${docs.length} manifests valid (schemas, strict fields, lossd policy)`);
