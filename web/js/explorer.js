// explorer.js - the API explorer: the catalog with its formulas, a form for
// any function, the reply, and the curl command that gives the same reply.
//
// API calls: GET /v1/functions (the list), GET /v1/functions/{kind}/{name}
// (one entry and its "example" request, which fills the form), and the
// POST the form builds, sent as it is shown in the curl command.
import { get, request, apiKey } from './api.js';
import { $, el, status, showError } from './ui.js';

let catalog = [];
let current = null; // the selected entry, with its example

// ------------------------------------------------------------ v2 HOOK
// Once lossd serves the Open Inference Protocol (/v2), return the request
// that computes the same thing - {method, path, body} for
// POST /v2/models/{kind}.{name}/infer - and the explorer shows it under the
// curl command (#fn-v2). Until /v2 exists there is nothing to show.
function v2Request(entry, body) {
  void entry;
  void body;
  return null;
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
      const choices = p.domain.replace(/^one of: /, '').split(', ');
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

async function send() {
  const body = readForm();
  $('fn-curl').textContent = curlCommand(current.path, body);
  const v2 = v2Request(current, body);
  $('fn-v2').hidden = v2 === null;
  if (v2) $('fn-v2-request').textContent = JSON.stringify(v2, null, 1);
  const r = await request('POST', current.path, body);
  $('fn-reply').textContent = `HTTP ${r.status}\n${r.text}`;
  $('fn-reply').dataset.status = String(r.status);
}

async function select(kind, name) {
  current = await get(`/v1/functions/${kind}/${name}`);
  $('fn-title').textContent = `${kind}/${name}`;
  $('fn-summary').textContent = current.summary;
  $('fn-reference').textContent = `Matches ${current.reference}. Catalog entry: GET /v1/functions/${kind}/${name}`;
  renderFormula(current.formula);
  buildForm(current);
  renderList($('fn-filter').value.trim().toLowerCase());
  $('fn-reply').textContent = '';
  $('fn-curl').textContent = curlCommand(current.path, readForm());
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
      $('fn-curl').textContent = curlCommand(current.path, readForm());
    } catch (e) {
      status(e.message, true);
    }
  });
}
