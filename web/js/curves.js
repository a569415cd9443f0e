// SPDX-License-Identifier: MIT
// curves.js - the Curves view: value and derivative of several functions
// over a range, overlaid.
//
// Which functions each family offers comes from the catalog (GET
// /v1/functions, once), by the rules of their operands ("operand_specs":
// structure, never the prose beside it), so that a function added to the
// registry appears here with no list to edit:
//   regression losses: losses whose input and target are any numbers, the
//     target shaped like the input; /v1/loss/{name} with input = the grid,
//     target = 0, "reduction": "none", "grad": true (value: loss,
//     derivative: grad);
//   losses on logits: losses whose input is any numbers and whose target is
//     probabilities shaped like the input (bce_with_logits, sigmoid_focal,
//     qfl, varifocal, ...); input = the logit grid, every target = the
//     chosen y;
//   activations: element-wise activations (input any numbers, no tensor or
//     dim parameter); /v1/activation/{name} with input = the grid, "grad":
//     true (value: output, derivative: grad, and stats.zero_grad_fraction);
//   focal vs cross-entropy: /v1/activation/sigmoid of the logit grid gives
//     p_t; /v1/loss/sigmoid_focal (target 1, one job per gamma) and
//     /v1/loss/bce_with_logits give the losses and their derivatives
//     with respect to the logit.
// Parameters are the catalog's scalar ones, with its defaults.
import { batch, get, ok } from './api.js';
import { $, el, num, serial, lineChart, series } from './ui.js';

// Display names and the functions drawn at first; anything else by its name.
const LABELS = {
  l1: 'L1', mse: 'L2 (MSE)', smooth_l1: 'Smooth L1', huber: 'Huber',
  relu: 'ReLU', leaky_relu: 'Leaky ReLU', gelu: 'GELU', elu: 'ELU', silu: 'SiLU',
  bce_with_logits: 'BCE with logits', sigmoid_focal: 'sigmoid focal', qfl: 'QFL', varifocal: 'Varifocal',
};
const ON = new Set(['l1', 'mse', 'smooth_l1', 'huber', 'relu', 'leaky_relu', 'gelu',
  'bce_with_logits', 'qfl', 'varifocal']);

// The rules of a function's operands, [input's, target's] ('none' where it has no such operand),
// and whether its second operand is shaped like its first.
const rules = (f) => [0, 1].map((k) => (f.operand_specs[k] ? f.operand_specs[k].rule : 'none'));
const likeInput = (f) => Boolean(f.operand_specs[1] && f.operand_specs[1].shape.like);

const FAMILIES = {
  regression: {
    x: 'residual x − y',
    range: [-3, 3],
    kind: 'loss',
    takes: (f) => rules(f).join() === 'any,any' && likeInput(f),
    functions: [],
    params: [],
  },
  logits: {
    x: 'logit x',
    range: [-6, 6],
    kind: 'loss',
    takes: (f) => rules(f).join() === 'any,probabilities' && likeInput(f),
    functions: [],
    params: [{ name: 'target', label: 'target y (every element)', value: 1, min: 0, max: 1 }],
  },
  activation: {
    x: 'input x',
    range: [-4, 4],
    kind: 'activation',
    takes: (f) => rules(f).join() === 'any,none' && !f.params.some((p) => p.type === 'tensor' || p.name === 'dim'),
    functions: [],
    params: [],
  },
  focal: {
    x: 'p_t (probability of the true class)',
    range: [-6, 6],
    functions: [],
    params: [
      { name: 'gammas', label: 'γ values (comma-separated)', text: '0, 0.5, 1, 2, 5' },
      { name: 'alpha', label: 'α (−1: no weighting)', value: -1 },
    ],
  },
};

// A catalog parameter as a control: numbers, booleans and choices; null for the rest.
function control(fn, label, p) {
  const base = { fn, name: p.name, label: `${p.name} (${label})` };
  if (p.type === 'number' || p.type === 'integer') return { ...base, value: p.default };
  if (p.type === 'boolean') return { ...base, choices: ['true', 'false'], value: String(p.default), bool: true };
  const choices = p.constraints && p.constraints.choices;
  if (p.type === 'string' && choices) return { ...base, choices, value: p.default };
  return null;
}

// The families' functions and parameters from GET /v1/functions, once.
let catalog = null;
function loadCatalog() {
  catalog = catalog || get('/v1/functions').then((reply) => {
    for (const f of Object.values(FAMILIES)) {
      if (!f.takes) continue;
      for (const fn of reply.functions.filter((e) => e.kind === f.kind && f.takes(e))) {
        const label = LABELS[fn.name] || fn.name;
        f.functions.push({ fn: fn.name, label, on: ON.has(fn.name) });
        for (const p of fn.params) {
          const c = control(fn.name, label, p);
          if (c && c.value !== null && c.value !== undefined) f.params.push(c);
        }
      }
    }
  });
  return catalog;
}

let family = 'regression';
let valueChart;
let gradChart;

function paramInputId(p) {
  return `param-${p.fn || family}-${p.name}`;
}

function buildControls() {
  const f = FAMILIES[family];
  const fnBox = $('curve-functions');
  fnBox.replaceChildren(el('legend', { text: family === 'focal' ? 'Functions: focal loss for each γ, and cross-entropy' : 'Functions' }));
  for (const item of f.functions) {
    const input = el('input', { type: 'checkbox', value: item.fn, checked: Boolean(item.on), 'data-fn': item.fn });
    input.addEventListener('change', () => {
      item.on = input.checked;
      update();
    });
    fnBox.append(el('label', {}, input, ` ${item.label}`));
  }
  fnBox.hidden = f.functions.length === 0;
  const paramBox = $('curve-params');
  paramBox.replaceChildren(el('legend', { text: 'Parameters' }));
  for (const p of f.params) {
    const id = paramInputId(p);
    let input;
    if (p.choices) {
      input = el('select', { id }, ...p.choices.map((c) => el('option', { value: c, text: c, selected: c === p.value })));
    } else if (p.text !== undefined) {
      input = el('input', { id, type: 'text', value: p.text, size: 16 });
    } else {
      input = el('input', { id, type: 'number', step: 'any', value: String(p.value), min: p.min, max: p.max });
    }
    input.addEventListener('change', () => {
      if (p.text !== undefined) p.text = input.value;
      else if (p.choices) p.value = input.value;
      else p.value = Number(input.value);
      update();
    });
    paramBox.append(el('label', { for: id, text: p.label }), input);
  }
  $('curve-min').value = String(f.range[0]);
  $('curve-max').value = String(f.range[1]);
}

function grid() {
  const lo = Number($('curve-min').value);
  const hi = Number($('curve-max').value);
  const n = Math.max(3, Math.min(2001, Math.floor(Number($('curve-points').value) || 3)));
  if (!(hi > lo)) throw new Error('the range must go from a smaller to a larger number');
  return Array.from({ length: n }, (_, i) => lo + ((hi - lo) * i) / (n - 1));
}

function paramsFor(fn) {
  const out = {};
  for (const p of FAMILIES[family].params) if (p.fn === fn) out[p.name] = p.bool ? p.value === 'true' : p.value;
  return out;
}

// A family-wide setting (no fn), such as the logits family's target.
function setting(name) {
  return FAMILIES[family].params.find((p) => !p.fn && p.name === name).value;
}

const zip = (xs, ys) => xs.map((x, i) => ({ x, y: ys[i] }));

function statsTable(headers, rows) {
  const t = $('curve-stats');
  t.tHead.replaceChildren(el('tr', {}, ...headers.map((h) => el('th', { scope: 'col', text: h }))));
  t.tBodies[0].replaceChildren(...rows.map((r) => el('tr', { 'data-fn': r[0] }, el('th', { scope: 'row', text: r[0] }), ...r.slice(1).map((v) => el('td', { text: v })))));
}

async function regressionOrActivation(xs) {
  const f = FAMILIES[family];
  const chosen = f.functions.filter((item) => item.on);
  const loss = f.kind === 'loss';
  const y = family === 'logits' ? setting('target') : 0;
  const jobs = chosen.map((item) => {
    const body = loss
      ? { input: xs, target: xs.map(() => y), reduction: 'none', grad: true, ...paramsFor(item.fn) }
      : { input: xs, grad: true, ...paramsFor(item.fn) };
    return { path: `/v1/${f.kind}/${item.fn}`, body };
  });
  const results = await batch(jobs);
  const values = [];
  const grads = [];
  const rows = [];
  chosen.forEach((item, i) => {
    const r = ok(results[i], jobs[i].path);
    const ys = loss ? r.loss : r.output;
    values.push(series(item.label, zip(xs, ys), i));
    grads.push(series(`${item.label}′`, zip(xs, r.grad), i));
    const params = Object.entries(paramsFor(item.fn)).map(([k, v]) => `${k} = ${v}`).join(', ') || '—';
    rows.push(loss
      ? [item.label, params, num(r.grad[0]), num(r.grad[r.grad.length - 1])]
      : [item.label, params, num(r.stats.n), num(r.stats.zero_grad_fraction)]);
  });
  statsTable(loss
    ? ['function', 'parameters', 'derivative at the left end', 'derivative at the right end']
    : ['function', 'parameters', 'n (stats.n)', 'zero-gradient share (stats.zero_grad_fraction)'], rows);
  return { values, grads, x: FAMILIES[family].x };
}

async function focal(logits) {
  const f = FAMILIES.focal;
  const gammas = f.params[0].text.split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  const alpha = f.params[1].value;
  const ones = logits.map(() => 1);
  const jobs = [{ path: '/v1/activation/sigmoid', body: { input: logits } },
    { path: '/v1/loss/bce_with_logits', body: { input: logits, target: ones, reduction: 'none', grad: true } },
    ...gammas.map((gamma) => ({ path: '/v1/loss/sigmoid_focal',
      body: { input: logits, target: ones, reduction: 'none', grad: true, gamma, alpha } }))];
  const results = await batch(jobs);
  const replies = results.map((r, i) => ok(r, jobs[i].path));
  const pt = replies[0].output;
  const values = [series('cross-entropy (bce_with_logits)', zip(pt, replies[1].loss), 0, true)];
  const grads = [series('cross-entropy′', zip(pt, replies[1].grad), 0, true)];
  const rows = [['cross-entropy', '—', num(replies[1].loss[replies[1].loss.length - 1])]];
  gammas.forEach((g, i) => {
    const r = replies[i + 2];
    values.push(series(`focal γ = ${g}`, zip(pt, r.loss), i + 1));
    grads.push(series(`focal γ = ${g}′`, zip(pt, r.grad), i + 1));
    rows.push([`focal γ = ${g}`, `alpha = ${alpha}`, num(r.loss[r.loss.length - 1])]);
  });
  statsTable(['function', 'parameters', 'loss at the largest p_t'], rows);
  return { values, grads, x: f.x };
}

// Curves lossd gave the same numbers for lie one on the other, so the later
// one's legend says which it is the same as, and it is dashed, so that the
// other shows through (Huber with δ = 1 is Smooth L1 with β = 1, the
// catalog's defaults: four legend entries would otherwise show three curves).
function markSame(list) {
  list.forEach((s, i) => {
    const same = list.slice(0, i).find((t) => t.data.length === s.data.length &&
      t.data.every((pt, k) => pt.x === s.data[k].x && pt.y === s.data[k].y));
    if (!same) return;
    s.label = `${s.label} (the same as ${same.label})`;
    s.borderDash = [3, 5];
  });
  return list;
}

const update = serial(async () => {
  await loadCatalog();
  const xs = grid();
  const out = family === 'focal' ? await focal(xs) : await regressionOrActivation(xs);
  for (const [chart, data, title] of [[valueChart, out.values, 'value'], [gradChart, out.grads, family === 'focal' ? 'derivative w.r.t. the logit' : 'derivative']]) {
    chart.data.datasets = markSame(data);
    chart.options.scales.x.title.text = out.x;
    chart.options.scales.y.title.text = title;
    chart.update();
  }
  $('curve-stats').dataset.family = family;
});

export function initCurves() {
  valueChart = lineChart($('curve-value'), '', 'value');
  gradChart = lineChart($('curve-grad'), '', 'derivative');
  for (const input of document.querySelectorAll('input[name="family"]')) {
    input.addEventListener('change', async () => {
      family = input.value;
      await loadCatalog();
      buildControls();
      update();
    });
  }
  for (const id of ['curve-min', 'curve-max', 'curve-points']) $(id).addEventListener('change', () => update());
  $('curve-form').addEventListener('submit', (ev) => ev.preventDefault());
  loadCatalog().then(buildControls, () => {});
}

// Called when the view is first shown (Chart.js needs a laid-out canvas).
export function showCurves() {
  update();
}
