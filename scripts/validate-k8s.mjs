// SPDX-License-Identifier: MIT
// validate-k8s.mjs - check deploy/k8s and deploy/kserve against Kubernetes'
// own schemas, a strict map of the KServe API they use, and lossd's policy.
//
// Two validators from the npm registry, pinned by scripts/validate-k8s:
//   - kubernetes-models: JSON-schema validation (types, required fields,
//     formats) generated from Kubernetes' OpenAPI specification;
//   - @kubernetes/client-node, the official client: its per-type field maps
//     catch unknown fields (a typo such as `readOnlyRootFilesytem` is valid
//     JSON schema but silently ignored by the API server: strict here).
// No npm package carries KServe's schemas: its two kinds are checked with the
// field map below, and the Kubernetes objects inside them (containers, pod
// security context, ...) by the two validators above.
// Then lossd's own policy: what issues #4 and #10 require of the manifests.
//
//   node scripts/validate-k8s.mjs deploy/k8s deploy/kserve
//   LOSSD_KSERVE_CRDS=DIR ...  also checks the KServe map against the CRDs in
//                              DIR (KServe's config/crd/full)
import fs from "node:fs";
import path from "node:path";
import YAML from "yaml";
import * as k8s from "@kubernetes/client-node";

const dirs = process.argv.length > 2 ? process.argv.slice(2) : ["deploy/k8s", "deploy/kserve"];
const errors = [];
const fail = (where, message) => errors.push(`${where}: ${message}`);

// apiVersion/kind -> [kubernetes-models module (none for KServe), type to check fields with]
const KINDS = {
  "apps/v1/Deployment": ["kubernetes-models/apps/v1/Deployment", "V1Deployment"],
  "v1/Service": ["kubernetes-models/v1/Service", "V1Service"],
  "autoscaling/v2/HorizontalPodAutoscaler": ["kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler", "V2HorizontalPodAutoscaler"],
  "policy/v1/PodDisruptionBudget": ["kubernetes-models/policy/v1/PodDisruptionBudget", "V1PodDisruptionBudget"],
  "serving.kserve.io/v1alpha1/ServingRuntime": [null, "ServingRuntime"],
  "serving.kserve.io/v1beta1/InferenceService": [null, "InferenceService"],
};

// ---------------------------------------------------------------- KServe's API
// The subset of KServe's API that deploy/kserve uses, as strict field maps: a
// field not listed is an error, as an unknown field of a Kubernetes type is.
// Every field was checked against KServe v0.20.0's CRDs (config/crd/full/
// serving.kserve.io_servingruntimes.yaml, _inferenceservices.yaml; run with
// LOSSD_KSERVE_CRDS to check again). Add a field here only once the CRD of
// the oldest KServe the docs promise has it. Deliberately absent: storageUri,
// storage and storageUris (lossd has no model to download), transformer and
// explainer (lossd's replies are final).
// A field's type is "string", "boolean", "integer", "enum A|B", a list
// "Array<T>", a map "{ [key: string]: T; }", another type of this map, or a
// Kubernetes type by its client-node name (checked by both validators).
// "...": the Kubernetes type whose fields this type embeds (Go's inline).
const PROTOCOLS = "enum v1|v2|grpc-v1|grpc-v2";
const KSERVE = {
  ServingRuntime: { apiVersion: "string", kind: "string", metadata: "V1ObjectMeta", spec: "ServingRuntimeSpec" },
  ServingRuntimeSpec: {
    annotations: "{ [key: string]: string; }",
    supportedModelFormats: "Array<SupportedModelFormat>",
    protocolVersions: `Array<${PROTOCOLS}>`,
    multiModel: "boolean",
    containers: "Array<V1Container>",
  },
  SupportedModelFormat: { name: "string", version: "string", autoSelect: "boolean", priority: "integer" },
  InferenceService: { apiVersion: "string", kind: "string", metadata: "V1ObjectMeta", spec: "InferenceServiceSpec" },
  InferenceServiceSpec: { predictor: "PredictorSpec" },
  // PredictorSpec: KServe's ComponentExtensionSpec and the PodSpec fields used.
  PredictorSpec: {
    minReplicas: "integer",
    maxReplicas: "integer",
    scaleMetric: "enum cpu|memory|concurrency|rps",
    scaleTarget: "integer",
    deploymentStrategy: "V1DeploymentStrategy",
    terminationGracePeriodSeconds: "integer",
    automountServiceAccountToken: "boolean",
    enableServiceLinks: "boolean",
    securityContext: "V1PodSecurityContext",
    topologySpreadConstraints: "Array<V1TopologySpreadConstraint>",
    model: "ModelSpec",
  },
  // The container fields override the runtime's kserve-container.
  ModelSpec: { modelFormat: "ModelFormat", runtime: "string", protocolVersion: PROTOCOLS, "...": "V1Container" },
  ModelFormat: { name: "string", version: "string" },
};

// kubernetes-models' schema for the Kubernetes types met inside KServe's kinds.
const SCHEMAS = {
  V1ObjectMeta: "@kubernetes-models/apimachinery/apis/meta/v1/ObjectMeta",
  V1Container: "kubernetes-models/v1/Container",
  V1PodSecurityContext: "kubernetes-models/v1/PodSecurityContext",
  V1DeploymentStrategy: "kubernetes-models/apps/v1/DeploymentStrategy",
  V1TopologySpreadConstraint: "kubernetes-models/v1/TopologySpreadConstraint",
};
for (const [type, module] of Object.entries(SCHEMAS))
  SCHEMAS[type] = Object.values(await import(module)).find((v) => typeof v === "function");

// ---------------------------------------------------------------- strict fields
const PRIMITIVES = new Set(["string", "number", "boolean", "Date", "object", "any", "IntOrString"]);
const attributes = (cls) => (cls.getAttributeTypeMap ? cls.getAttributeTypeMap() : cls.attributeTypeMap);

// Check `value` as a `type`. Kubernetes' primitives are left to the JSON
// schema; `typed` (a field of KServe's map, which has no schema) checks them
// here, and runs kubernetes-models' schema on a Kubernetes object.
function checkFields(value, type, where, typed = false) {
  if (value === null || value === undefined) return;
  let m;
  if ((m = /^Array<(.+)>$/.exec(type))) {
    if (!Array.isArray(value)) return fail(where, `expected a list (${type})`);
    value.forEach((item, i) => checkFields(item, m[1], `${where}[${i}]`, typed));
    return;
  }
  if ((m = /^\{ \[key: string\]: (.+); \}$/.exec(type))) {
    if (typed && (typeof value !== "object" || Array.isArray(value))) return fail(where, `expected a map (${type})`);
    for (const [k, v] of Object.entries(value)) checkFields(v, m[1], `${where}.${k}`, typed);
    return;
  }
  if ((m = /^enum (.+)$/.exec(type))) {
    if (!m[1].split("|").includes(value)) fail(where, `${JSON.stringify(value)} is not one of ${m[1]}`);
    return;
  }
  if (type === "integer") {
    if (!Number.isInteger(value)) fail(where, "expected an integer");
    return;
  }
  if (PRIMITIVES.has(type)) {
    if (typed && typeof value !== type) fail(where, `expected a ${type}`);
    return;
  }
  if (typeof value !== "object" || Array.isArray(value)) return fail(where, `expected an object (${type})`);
  if (KSERVE[type]) return checkKServe(value, type, where);
  const cls = k8s[type];
  if (!cls) return fail(where, `no such type ${type} in @kubernetes/client-node`);
  if (typed && SCHEMAS[type]) {
    try {
      new SCHEMAS[type](value).validate();
    } catch (e) {
      fail(where, `schema: ${e.message}`);
    }
  }
  const fields = new Map(attributes(cls).map((a) => [a.baseName, a.type]));
  for (const [k, v] of Object.entries(value)) {
    if (!fields.has(k)) fail(`${where}.${k}`, `unknown field of ${type}`);
    else checkFields(v, fields.get(k), `${where}.${k}`);
  }
}

// A KServe object: its own fields by the map; the rest, if the type embeds
// a Kubernetes type, as that type (an embedded container is the runtime's
// kserve-container, hence its name for the schema, which requires one).
function checkKServe(value, type, where) {
  const map = KSERVE[type], rest = {};
  for (const [k, v] of Object.entries(value)) {
    if (k in map && k !== "...") checkFields(v, map[k], `${where}.${k}`, true);
    else if (map["..."]) rest[k] = v;
    else fail(`${where}.${k}`, `not a field of KServe's ${type} in lossd's map (scripts/validate-k8s.mjs)`);
  }
  if (Object.keys(rest).length) checkFields({ name: "kserve-container", ...rest }, map["..."], where, true);
}

// Every field of the map exists in KServe's CRDs (the openAPIV3Schema `node`
// for `type`), and so does every field client-node knows of the Kubernetes
// types used in it, one level down.
function checkAgainstCrd(type, node, where) {
  if (!node?.properties) return;
  const fields = KSERVE[type] ? Object.entries(KSERVE[type]) : attributes(k8s[type]).map((a) => [a.baseName, null]);
  for (const [k, t] of fields) {
    if (k === "...") { checkAgainstCrd(t, node, where); continue; }
    let sub = node.properties[k], inner = t;
    if (!sub) { fail(`${where}.${k}`, "not in KServe's CRD"); continue; }
    for (let m; inner && (m = /^Array<(.+)>$|^\{ \[key: string\]: (.+); \}$/.exec(inner)); ) {
      sub = m[1] ? sub.items : sub.additionalProperties;
      inner = m[1] || m[2];
    }
    const en = inner && /^enum (.+)$/.exec(inner);
    if (en && sub.enum) for (const v of en[1].split("|")) if (!sub.enum.includes(v)) fail(`${where}.${k}`, `${v} not in the CRD's enum`);
    if (KSERVE[inner] || k8s[inner]) checkAgainstCrd(inner, sub, `${where}.${k}`);
  }
}

// ---------------------------------------------------------------- policy
const env = (c, name) => (c.env || []).find((e) => e.name === name)?.value;

// A lossd container as the policy wants it, wherever it runs: LOSSD_LISTEN
// and the first port on 8080, `probes` (startup, liveness, readiness: path)
// on that port, resources set, a restricted security context (the
// container's setting, else the pod's), and a grace period longer than the
// preStop pause plus the drain.
function servingContainer(expect, c, pod, probes) {
  const port = (p) => (typeof p === "number" ? p : c.ports?.find((x) => x.name === p)?.containerPort);
  for (const [kind, want] of Object.entries(probes)) {
    const get = c[`${kind}Probe`]?.httpGet;
    expect(get?.path === want && port(get.port) === 8080, `${kind} probe must be GET ${want} on port 8080`);
  }
  expect(env(c, "LOSSD_LISTEN") === "0.0.0.0:8080", "LOSSD_LISTEN must be 0.0.0.0:8080");
  expect(c.ports?.[0]?.name === "http" && c.ports[0].containerPort === 8080, "the container's first port must be http on 8080");
  expect(c.resources?.requests?.cpu && c.resources?.requests?.memory, "resource requests must be set");
  expect(c.resources?.limits?.cpu && c.resources?.limits?.memory, "resource limits must be set");
  const sc = c.securityContext || {}, psc = pod.securityContext || {};
  expect((sc.runAsNonRoot ?? psc.runAsNonRoot) === true, "must run as non-root");
  expect((sc.seccompProfile ?? psc.seccompProfile)?.type === "RuntimeDefault", "seccomp must be RuntimeDefault");
  expect(sc.allowPrivilegeEscalation === false, "no privilege escalation");
  expect(sc.readOnlyRootFilesystem === true, "read-only root file system");
  expect(JSON.stringify(sc.capabilities?.drop) === '["ALL"]', "all capabilities dropped");
  const drain = Number(env(c, "LOSSD_DRAIN_TIMEOUT") ?? 10);
  const preStop = Number(c.lifecycle?.preStop?.exec?.command?.[1] ?? 0);
  expect(pod.terminationGracePeriodSeconds > drain + preStop,
    `terminationGracePeriodSeconds (${pod.terminationGracePeriodSeconds}) must exceed the drain (${drain} s) plus preStop (${preStop} s)`);
}

function k8sPolicy(dir, docs) {
  const find = (kind) => docs.find((d) => d.doc.kind === kind);
  const dep = find("Deployment"), svc = find("Service"), hpa = find("HorizontalPodAutoscaler"), pdb = find("PodDisruptionBudget");
  for (const [name, d] of Object.entries({ Deployment: dep, Service: svc, HorizontalPodAutoscaler: hpa, PodDisruptionBudget: pdb }))
    if (!d) fail(dir, `no ${name}`);
  if (!dep) return;
  const where = dep.file, spec = dep.doc.spec, pod = spec.template.spec, c = pod.containers[0];
  const expect = (cond, message) => cond || fail(where, message);
  expect(spec.replicas === 3, "replicas must be 3");
  servingContainer(expect, c, pod, { startup: "/healthz", liveness: "/healthz", readiness: "/readyz" });
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

// KServe's merge of predictor.model's container fields into the runtime's
// kserve-container (MergeRuntimeContainers: a strategic merge patch, objects
// merged, env and ports merged by key, other lists replaced; args appended).
const MERGE_KEYS = { env: "name", ports: "containerPort", volumeMounts: "mountPath" };
function mergeContainer(base, patch, key) {
  if (Array.isArray(patch)) {
    if (key === "args") return [...(base || []), ...patch];
    const k = MERGE_KEYS[key];
    if (!k || !Array.isArray(base)) return patch;
    const merged = base.map((b) => mergeContainer(b, patch.find((p) => p[k] === b[k]) ?? {}));
    return [...merged, ...patch.filter((p) => !base.some((b) => b[k] === p[k]))];
  }
  if (patch && typeof patch === "object" && base && typeof base === "object") {
    const out = { ...base };
    for (const [k, v] of Object.entries(patch)) out[k] = mergeContainer(base[k], v, k);
    return out;
  }
  return patch;
}

function kservePolicy(dir, docs, deployment) {
  const rt = docs.find((d) => d.doc.kind === "ServingRuntime"), isvc = docs.find((d) => d.doc.kind === "InferenceService");
  if (!rt || !isvc) return fail(dir, `no ${rt ? "InferenceService" : "ServingRuntime"}`);
  const expectRt = (cond, message) => cond || fail(rt.file, message);
  const expectIs = (cond, message) => cond || fail(isvc.file, message);
  const spec = rt.doc.spec || {}, c = spec.containers?.[0] || {};
  expectRt(JSON.stringify(spec.protocolVersions) === '["v2"]', "protocolVersions must be [v2]: lossd speaks the Open Inference Protocol over REST only");
  expectRt(spec.multiModel !== true, "multiModel must be off: lossd has no /v2/repository to load models through");
  expectRt(spec.containers?.length === 1 && c.name === "kserve-container", "one container, named kserve-container (KServe merges predictor.model into it)");
  for (const p of JSON.stringify(spec.containers ?? []).match(/\{\{.*?\}\}/g) || [])
    expectRt(/^\{\{\s*\.(Name|Namespace|(Labels|Annotations)\.\w+)\s*\}\}$/.test(p), `${p}: KServe fills in only {{.Name}}, {{.Namespace}}, {{.Labels.x}} and {{.Annotations.x}}`);
  if (!deployment) fail(rt.file, "no Deployment to compare the image with: validate deploy/k8s with it");
  else expectRt(c.image === deployment.doc.spec.template.spec.containers[0].image, `image must be deploy/k8s's (${deployment.doc.spec.template.spec.containers[0].image})`);

  const mode = isvc.doc.metadata?.annotations?.["serving.kserve.io/deploymentMode"];
  expectIs(mode === "Standard" || mode === "RawDeployment",
    "serving.kserve.io/deploymentMode must be Standard (RawDeployment before KServe 0.16): Knative mode refuses the grace period and the preStop hook");
  const pred = isvc.doc.spec?.predictor || {}, model = pred.model || {};
  expectIs(model.runtime === rt.doc.metadata?.name, `predictor.model.runtime must be ${rt.doc.metadata?.name}, the ServingRuntime`);
  expectIs(spec.supportedModelFormats?.some((f) => f.name === model.modelFormat?.name && (model.modelFormat.version ?? f.version) === f.version),
    "predictor.model.modelFormat must be one the ServingRuntime supports");
  expectIs(model.protocolVersion === "v2", "predictor.model.protocolVersion must be v2 (KServe's default is v1)");
  expectIs(!("name" in model), "predictor.model.name: KServe's webhook refuses a name there");
  for (const f of ["storageUri", "storage"]) expectIs(!(f in model), `predictor.model.${f}: lossd has no model to download`);
  expectIs(pred.minReplicas >= 2 && pred.maxReplicas >= pred.minReplicas, "predictor needs minReplicas >= 2 and maxReplicas >= minReplicas");
  const patch = Object.fromEntries(Object.entries(model).filter(([k]) => !(k in KSERVE.ModelSpec)));
  // The pod KServe makes: this container in the predictor's pod settings.
  const expectPod = (cond, message) => cond || fail(`${rt.file} + ${path.basename(isvc.file)}`, message);
  servingContainer(expectPod, mergeContainer(c, patch), pred, { startup: "/v2/health/live", liveness: "/v2/health/live", readiness: "/v2/health/ready" });
}

// ---------------------------------------------------------------- main
const KUST_FIELDS = new Set(["apiVersion", "kind", "resources", "images", "labels", "namespace", "commonAnnotations"]);
const containersOf = (doc) => doc.spec?.template?.spec?.containers || (doc.kind === "ServingRuntime" ? doc.spec?.containers : null) || [];
const all = [];
for (const dir of dirs) {
  const kfile = path.join(dir, "kustomization.yaml");
  const kust = YAML.parse(fs.readFileSync(kfile, "utf8"));
  for (const k of Object.keys(kust)) if (!KUST_FIELDS.has(k)) fail(kfile, `unexpected field ${k}`);
  if (kust.kind !== "Kustomization" || kust.apiVersion !== "kustomize.config.k8s.io/v1beta1")
    fail(kfile, "not a kustomize.config.k8s.io/v1beta1 Kustomization");
  const docs = [];
  for (const name of kust.resources || []) {
    const file = path.join(dir, name);
    if (!fs.existsSync(file)) { fail(kfile, `${name} does not exist`); continue; }
    for (const d of YAML.parseAllDocuments(fs.readFileSync(file, "utf8"))) {
      if (d.errors.length) { fail(file, d.errors.map(String).join("; ")); continue; }
      const doc = d.toJS();
      const key = `${doc.apiVersion}/${doc.kind}`;
      const entry = KINDS[key];
      if (!entry) { fail(file, `unexpected kind ${key}`); continue; }
      if (entry[0]) {
        const model = await import(entry[0]);
        const Cls = Object.values(model).find((v) => typeof v === "function");
        try {
          new Cls(doc).validate();
        } catch (e) {
          fail(file, `schema: ${e.message}`);
        }
      }
      checkFields(doc, entry[1], `${file}:${doc.kind}`);
      docs.push({ file, doc });
    }
  }
  for (const image of kust.images || [])
    if (!docs.some((d) => containersOf(d.doc).some((c) => c.image?.split(":")[0] === image.name)))
      fail(kfile, `image ${image.name} is used by no container`);
  all.push({ dir, kust, docs });
}

const deployment = all.flatMap((a) => a.docs).find((d) => d.doc.kind === "Deployment");
// A folder is KServe's if it holds a KServe kind, plain Kubernetes' otherwise;
// both set the same image.
for (const { dir, kust, docs } of all) {
  if (docs.some((d) => KINDS[`${d.doc.apiVersion}/${d.doc.kind}`][0] === null)) kservePolicy(dir, docs, deployment);
  else k8sPolicy(dir, docs);
  if (JSON.stringify(kust.images) !== JSON.stringify(all[0].kust.images))
    fail(path.join(dir, "kustomization.yaml"), `images differ from ${all[0].dir}'s`);
}

if (process.env.LOSSD_KSERVE_CRDS) {
  for (const [kind, version, file] of [["ServingRuntime", "v1alpha1", "servingruntimes"], ["InferenceService", "v1beta1", "inferenceservices"]]) {
    const crd = YAML.parse(fs.readFileSync(path.join(process.env.LOSSD_KSERVE_CRDS, `serving.kserve.io_${file}.yaml`), "utf8"));
    const schema = crd.spec.versions.find((v) => v.name === version).schema.openAPIV3Schema;
    checkAgainstCrd(kind, schema, `KServe map ${kind}`);
  }
  console.log(`validate-k8s: the KServe map matches the CRDs in ${process.env.LOSSD_KSERVE_CRDS}${errors.length ? " - except:" : ""}`);
}

if (errors.length) {
  console.error(errors.join("\n"));
  console.error(`validate-k8s: ${errors.length} problem(s)`);
  process.exit(1);
}
const count = all.reduce((n, a) => n + a.docs.length, 0);
console.log(`validate-k8s: ${count} manifests valid in ${dirs.join(", ")} (schemas, strict fields, lossd policy)`);
