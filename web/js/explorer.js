// SPDX-License-Identifier: MIT
// explorer.js - the API explorer: the catalog with its formulas, a form for
// any function, the reply, and the requests that give the same reply: the
// curl command for /v1, and the same computation over the Open Inference
// Protocol (/v2) as a curl command and as a tritonclient snippet.
//
// API calls: GET /v1/functions (the list), GET /v1/functions/{kind}/{name}
// (one entry and its "example" request, which fills the form), GET
// /v2/models/{kind}.{name} (the model's metadata: the names and datatypes
// the /v2 request uses), and the POSTs the form builds, sent as they are
// shown in the curl commands.
import { get, request, apiKey } from './api.js';
import { $, el, status, showError } from './ui.js';

let catalog = [];
let current = null; // the selected entry, with its example
let model = null; // its /v2 metadata, or null when lossd gave none

// ------------------------------------------------------------ the /v2 request

// A tensor's shape, read from its nesting: [[1, 2], [3, 4]] is [2, 2], a number [].
function shapeOf(value) {
  const shape = [];
  for (let v = value; Array.isArray(v); v = v[0]) shape.push(v.length);
  return shape;
}

// INT64 where the model takes class indices and the values are ones: always
// for an input whose natural datatype is INT64 (nll's and focal's targets);
// for one that takes either (cross_entropy's target) only when it is not
// shaped like the first input, as /v1 tells indices from probabilities.
// FP64 otherwise.
function datatypeOf(meta, data, shape, firstShape) {
  const indices = meta.datatypes.includes('INT64') && data.every((x) => Number.isInteger(x));
  if (!indices) return 'FP64';
  if (meta.datatype === 'INT64') return 'INT64';
  return JSON.stringify(shape) === JSON.stringify(firstShape) ? 'FP64' : 'INT64';
}

// The /v2 request that computes what the /v1 body does, as {path, body, model,
// outputs}, or null without the model's metadata. Every name comes from that
// metadata: body fields that are its inputs become tensors, the others
// (scalar parameters, and anything else, which lossd then names in its
// error) go to "parameters"; the outputs are the model's outputs that the
// /v1 reply carries - "grad" when grad is on, "terms.*" when terms is on.
function v2Request(meta, body) {
  if (!meta) return null;
  const tensors = new Map(meta.inputs.map((i) => [i.name, i]));
  const firstShape = shapeOf(body[meta.inputs[0].name]);
  const inputs = [];
  const parameters = {};
  for (const [name, value] of Object.entries(body)) {
    if (name === 'grad' || name === 'terms') continue;
    const input = tensors.get(name);
    if (!input) {
      parameters[name] = value;
      continue;
    }
    const shape = shapeOf(value);
    const data = [value].flat(Infinity);
    inputs.push({ name, shape, datatype: datatypeOf(input, data, shape, firstShape), data });
  }
  // "grad": true is the first operand's gradient; a list names the operands
  // ("grad_target" is the target's): the same outputs, by their /v2 names.
  const asked = (operand) => Array.isArray(body.grad) && body.grad.includes(operand);
  const outputs = meta.outputs.map((o) => o.name).filter((name) => {
    if (name === 'grad') return body.grad === true || asked(meta.inputs[0].name);
    if (name.startsWith('grad_')) return asked(name.slice('grad_'.length));
    if (name.startsWith('terms.')) return body.terms === true;
    return true;
  });
  const v2 = {};
  if (Object.keys(parameters).length) v2.parameters = parameters;
  v2.inputs = inputs;
  v2.outputs = outputs.map((name) => ({ name }));
  return { path: `/v2/models/${meta.name}/infer`, body: v2, model: meta.name, outputs };
}

// A JSON value as a Python literal (true, false and null spelled Python's way).
function py(value) {
  if (value === true) return 'True';
  if (value === false) return 'False';
  if (value === null) return 'None';
  if (Array.isArray(value)) return `[${value.map(py).join(', ')}]`;
  if (typeof value === 'object') return `{${Object.entries(value).map(([k, v]) => `${JSON.stringify(k)}: ${py(v)}`).join(', ')}}`;
  return JSON.stringify(value);
}

// The same request with tritonclient.http, which sends the tensors as raw
// bytes (Triton's binary data extension) and reads binary outputs back.
function pythonSnippet(v2, original) {
  const body = v2.body;
  const lines = ['import numpy as np', 'import tritonclient.http as httpclient'];
  if (apiKey()) lines.splice(0, 0, 'import os');
  lines.push('', `client = httpclient.InferenceServerClient(${py(location.host)})`, 'inputs = [');
  for (const t of body.inputs) lines.push(`    httpclient.InferInput(${py(t.name)}, ${py(t.shape)}, ${py(t.datatype)}),`);
  lines.push(']');
  body.inputs.forEach((t, i) => {
    const dtype = t.datatype === 'INT64' ? 'np.int64' : 'np.float64';
    lines.push(`inputs[${i}].set_data_from_numpy(np.array(${py(original[t.name])}, dtype=${dtype}))`);
  });
  lines.push(`names = ${py(v2.outputs)}`, 'outputs = [httpclient.InferRequestedOutput(name) for name in names]');
  const args = [py(v2.model), 'inputs', 'outputs=outputs'];
  if (body.parameters) args.push(`parameters=${py(body.parameters)}`);
  if (apiKey()) args.push('headers={"Authorization": "Bearer " + os.environ["LOSSD_API_KEY"]}');
  lines.push(`result = client.infer(${args.join(', ')})`, 'for name in names:', '    print(name, result.as_numpy(name))');
  return lines.join('\n');
}

function shellQuote(text) {
  return `'${text.replace(/'/g, "'\\''")}'`;
}

export function curlCommand(path, body) {
  const auth = apiKey() ? ' -H "Authorization: Bearer $LOSSD_API_KEY"' : '';
  return `curl -s ${location.origin}${path} -H 'Content-Type: application/json'${auth} -d ${shellQuote(JSON.stringify(body))}`;
}

function renderList(filter) {
  const list = $('fn-list');
  list.replaceChildren();
  let kind = null;
  for (const f of catalog) {
    const id = `${f.kind}/${f.name}`;
    if (filter && !id.includes(filter) && !f.summary.toLowerCase().includes(filter)) continue;
    if (f.kind !== kind) {
      kind = f.kind;
      list.append(el('li', { class: 'kind', text: kind }));
    }
    const button = el('button', { type: 'button', 'data-fn': id, title: f.summary,
      'aria-current': current && current.path === f.path ? 'true' : null, text: f.name });
    button.addEventListener('click', () => select(f.kind, f.name).catch(showError));
    list.append(el('li', {}, button));
  }
}

function renderFormula(tex) {
  const host = $('fn-formula');
  try {
    // katex.render builds DOM nodes (no inline style attributes for the CSP to block).
    window.katex.render(tex, host, { displayMode: true, throwOnError: true, output: 'htmlAndMathml' });
  } catch (e) {
    host.replaceChildren(el('code', { text: tex }));
  }
}

function field(id, labelText, control, note) {
  return [el('label', { for: id, text: labelText }), note ? el('div', {}, control, el('div', { class: 'note', text: note })) : control];
}

// One input per request field: operands as JSON, parameters by type.
function buildForm(entry) {
  const form = $('fn-form');
  form.replaceChildren();
  const ex = entry.example;
  for (const [name, shape] of Object.entries(entry.operands)) {
    const id = `field-${name}`;
    const area = el('textarea', { id, rows: 2, spellcheck: 'false', 'data-field': name, 'data-kind': 'json' });
    area.value = JSON.stringify(ex[name]);
    form.append(...field(id, name, area, shape));
  }
  if (entry.reductions) {
    const sel = el('select', { id: 'field-reduction', 'data-field': 'reduction', 'data-kind': 'string' },
      ...entry.reductions.map((r) => el('option', { value: r, text: r, selected: r === ex.reduction })));
    form.append(...field('field-reduction', 'reduction', sel));
  }
  if (entry.grad) {
    form.append(...field('field-grad', 'grad', el('input', { id: 'field-grad', type: 'checkbox', 'data-field': 'grad', 'data-kind': 'bool' }),
      'add the gradient with respect to the first operand'));
  }
  if (entry.terms) {
    form.append(...field('field-terms', 'terms', el('input', { id: 'field-terms', type: 'checkbox', 'data-field': 'terms', 'data-kind': 'bool' }),
      `add per-box terms: ${entry.terms.join(', ')}`));
  }
  for (const p of entry.params) {
    const id = `field-${p.name}`;
    const note = `${p.summary}; ${p.domain}`;
    let control;
    if (p.type === 'boolean') {
      control = el('input', { id, type: 'checkbox', checked: ex[p.name] === true, 'data-field': p.name, 'data-kind': 'bool' });
    } else if (p.type === 'string') {
      const choices = p.constraints.choices;
      control = el('select', { id, 'data-field': p.name, 'data-kind': 'string' },
        ...choices.map((c) => el('option', { value: c, text: c, selected: c === ex[p.name] })));
    } else if (p.type === 'tensor') {
      control = el('textarea', { id, rows: 1, spellcheck: 'false', 'data-field': p.name, 'data-kind': 'json', 'data-optional': p.required ? null : 'true' });
      control.value = ex[p.name] === undefined ? '' : JSON.stringify(ex[p.name]);
    } else if (p.type === 'number' || p.type === 'integer') {
      control = el('input', { id, type: 'number', step: p.type === 'integer' ? '1' : 'any', value: String(ex[p.name]), 'data-field': p.name, 'data-kind': 'number' });
    } else {
      control = el('input', { id, type: 'text', value: String(ex[p.name]), 'data-field': p.name, 'data-kind': 'base' });
    }
    form.append(...field(id, p.name, control, note));
  }
  form.append(el('div', { class: 'full' }, el('button', { type: 'submit', id: 'fn-send', text: `POST ${entry.path}` })));
}

// The request body from the form; an Error naming the field when a JSON box does not parse.
function readForm() {
  const body = {};
  for (const input of $('fn-form').querySelectorAll('[data-field]')) {
    const name = input.dataset.field;
    switch (input.dataset.kind) {
      case 'json':
        if (input.value.trim() === '' && input.dataset.optional) break;
        try {
          body[name] = JSON.parse(input.value);
        } catch (e) {
          throw new Error(`${name}: not JSON (${e.message})`);
        }
        break;
      case 'bool':
        if (input.checked) body[name] = true;
        break;
      case 'number':
        if (input.value !== '') body[name] = Number(input.value);
        break;
      case 'base':
        body[name] = input.value === 'e' ? 'e' : Number(input.value);
        break;
      default:
        body[name] = input.value;
    }
  }
  return body;
}

// Shows the requests that compute what the form holds: the /v1 curl command
// and, with the model's metadata, the /v2 one and its tritonclient snippet.
// Returns the form's body and the /v2 request (or null); an Error naming the
// field when a JSON box does not parse.
function showRequests() {
  const body = readForm();
  $('fn-curl').textContent = curlCommand(current.path, body);
  const v2 = v2Request(model, body);
  $('fn-v2').hidden = v2 === null;
  if (v2) {
    $('fn-v2-curl').textContent = curlCommand(v2.path, v2.body);
    $('fn-v2-python').textContent = pythonSnippet(v2, body);
    $('fn-v2-send').textContent = `POST ${v2.path}`;
  }
  return { body, v2 };
}

function showReply(id, r) {
  $(id).textContent = `HTTP ${r.status}\n${r.text}`;
  $(id).dataset.status = String(r.status);
}

async function send() {
  const { body } = showRequests();
  showReply('fn-reply', await request('POST', current.path, body));
}

async function sendV2() {
  const { v2 } = showRequests();
  if (v2) showReply('fn-v2-reply', await request('POST', v2.path, v2.body));
}

async function select(kind, name) {
  current = await get(`/v1/functions/${kind}/${name}`);
  // The model's metadata names the /v2 request's inputs, outputs and parameters.
  const meta = await request('GET', `/v2/models/${kind}.${name}`);
  model = meta.status === 200 ? meta.body : null;
  $('fn-title').textContent = `${kind}/${name}`;
  $('fn-summary').textContent = current.summary;
  $('fn-reference').textContent = `Matches ${current.reference}. Catalog entry: GET /v1/functions/${kind}/${name}`;
  $('fn-v2-model').textContent = model ? `Model ${model.name}: its inputs, outputs and parameters from GET /v2/models/${model.name}` : '';
  renderFormula(current.formula);
  buildForm(current);
  renderList($('fn-filter').value.trim().toLowerCase());
  for (const id of ['fn-reply', 'fn-v2-reply']) {
    $(id).textContent = '';
    delete $(id).dataset.status;
  }
  showRequests();
}

export async function loadCatalog() {
  const reply = await get('/v1/functions');
  catalog = reply.functions;
  renderList('');
  if (!current && catalog.length) await select(catalog[0].kind, catalog[0].name);
}

export function initExplorer() {
  $('fn-filter').addEventListener('input', () => renderList($('fn-filter').value.trim().toLowerCase()));
  $('fn-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    send().catch(showError);
  });
  $('fn-form').addEventListener('change', () => {
    try {
      showRequests();
    } catch (e) {
      status(e.message, true);
    }
  });
  $('fn-v2-send').addEventListener('click', () => sendV2().catch(showError));
}
