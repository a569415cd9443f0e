// curves.js - the Curves view: value and derivative of several functions
// over a range, overlaid.
//
// API calls, one POST /v1/batch per change:
//   regression losses: /v1/loss/{l1,mse,smooth_l1,huber} with input = the
//     grid, target = 0, "reduction": "none", "grad": true (value: loss,
//     derivative: grad);
//   activations: /v1/activation/{name} with input = the grid, "grad": true
//     (value: output, derivative: grad, and stats.zero_grad_fraction);
//   focal vs cross-entropy: /v1/activation/sigmoid of the logit grid gives
//     p_t; /v1/loss/sigmoid_focal (target 1, one job per gamma) and
//     /v1/loss/bce_with_logits give the losses and their derivatives
//     with respect to the logit.
import { batch, ok } from './api.js';
import { $, el, num, serial, lineChart, series } from './ui.js';

const FAMILIES = {
  regression: {
    x: 'residual x − y',
    range: [-3, 3],
    functions: [
      { fn: 'l1', label: 'L1', on: true },
      { fn: 'mse', label: 'L2 (MSE)', on: true },
      { fn: 'smooth_l1', label: 'Smooth L1', on: true },
      { fn: 'huber', label: 'Huber', on: true },
    ],
    params: [
      { fn: 'smooth_l1', name: 'beta', label: 'β (Smooth L1)', value: 1, min: 0 },
      { fn: 'huber', name: 'delta', label: 'δ (Huber)', value: 1, min: 0.001 },
    ],
  },
  activation: {
    x: 'input x',
    range: [-4, 4],
    functions: [
      { fn: 'relu', label: 'ReLU', on: true },
      { fn: 'leaky_relu', label: 'Leaky ReLU', on: true },
      { fn: 'gelu', label: 'GELU', on: true },
      { fn: 'elu', label: 'ELU' },
      { fn: 'silu', label: 'SiLU' },
      { fn: 'softplus', label: 'softplus' },
      { fn: 'sigmoid', label: 'sigmoid' },
      { fn: 'tanh', label: 'tanh' },
    ],
    params: [
      { fn: 'leaky_relu', name: 'negative_slope', label: 'negative slope (Leaky ReLU)', value: 0.1 },
      { fn: 'gelu', name: 'approximate', label: 'GELU approximation', choices: ['none', 'tanh'], value: 'none' },
      { fn: 'elu', name: 'alpha', label: 'α (ELU)', value: 1 },
      { fn: 'softplus', name: 'beta', label: 'β (softplus)', value: 1, min: 0.001 },
    ],
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

let family = 'regression';
let valueChart;
let gradChart;

function paramInputId(p) {
  return `param-${p.fn || 'focal'}-${p.name}`;
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
      input = el('input', { id, type: 'number', step: 'any', value: String(p.value), min: p.min });
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
  for (const p of FAMILIES[family].params) if (p.fn === fn) out[p.name] = p.value;
  return out;
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
  const jobs = chosen.map((item) => {
    const body = family === 'regression'
      ? { input: xs, target: xs.map(() => 0), reduction: 'none', grad: true, ...paramsFor(item.fn) }
      : { input: xs, grad: true, ...paramsFor(item.fn) };
    return { path: `/v1/${family === 'regression' ? 'loss' : 'activation'}/${item.fn}`, body };
  });
  const results = await batch(jobs);
  const values = [];
  const grads = [];
  const rows = [];
  chosen.forEach((item, i) => {
    const r = ok(results[i], jobs[i].path);
    const ys = family === 'regression' ? r.loss : r.output;
    values.push(series(item.label, zip(xs, ys), i));
    grads.push(series(`${item.label}′`, zip(xs, r.grad), i));
    const params = Object.entries(paramsFor(item.fn)).map(([k, v]) => `${k} = ${v}`).join(', ') || '—';
    rows.push(family === 'regression'
      ? [item.label, params, num(r.grad[0]), num(r.grad[r.grad.length - 1])]
      : [item.label, params, num(r.stats.n), num(r.stats.zero_grad_fraction)]);
  });
  statsTable(family === 'regression'
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

const update = serial(async () => {
  const xs = grid();
  const out = family === 'focal' ? await focal(xs) : await regressionOrActivation(xs);
  for (const [chart, data, title] of [[valueChart, out.values, 'value'], [gradChart, out.grads, family === 'focal' ? 'derivative w.r.t. the logit' : 'derivative']]) {
    chart.data.datasets = data;
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
    input.addEventListener('change', () => {
      family = input.value;
      buildControls();
      update();
    });
  }
  for (const id of ['curve-min', 'curve-max', 'curve-points']) $(id).addEventListener('change', () => update());
  $('curve-form').addEventListener('submit', (ev) => ev.preventDefault());
  buildControls();
}

// Called when the view is first shown (Chart.js needs a laid-out canvas).
export function showCurves() {
  update();
}
