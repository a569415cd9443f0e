// SPDX-License-Identifier: MIT
// dists.js - the Distributions view: p and q as editable bars, and the
// information measures between them, in nats or bits.
//
// API calls, one POST /v1/batch per change, every job with
// "normalize": true and "base": "e" or 2:
//   /v1/info/entropy {p}, /v1/info/entropy {p: q}, /v1/info/cross_entropy {p, q},
//   /v1/info/kl_divergence {p, q}, /v1/info/js_divergence {p, q}.
// H(p,q) = H(p) + D_KL(p‖q) is shown with the three numbers lossd returned,
// side by side and as bars; the page adds nothing up itself (the stacked
// bar is Chart.js drawing two lengths end to end). The identity is exact in
// real numbers only: each double is rounded on its own, so the text joins
// them with ≈ (1.6511138239067926 ≈ 1.4708084763221114 + 0.18030534758468142,
// whose sum in doubles is 1.6511138239067928).
import { batch, ok } from './api.js';
import { $, el, num, serial, COLORS } from './ui.js';

const state = {
  p: [0.1, 0.2, 0.4, 0.2, 0.1],
  q: [0.3, 0.25, 0.2, 0.15, 0.1],
  base: 'e',
};
let bars;
let identity;

function buildInputs(which) {
  const host = $(`${which}-inputs`);
  state[which].forEach((w, i) => {
    const label = `${which}[${i}]`;
    const range = el('input', { type: 'range', min: '0', max: '1', step: '0.01', value: String(w), 'aria-label': `${label} weight` });
    const box = el('input', { type: 'number', min: '0', max: '1', step: '0.01', value: String(w), 'aria-label': `${label} weight, as a number`, id: `${which}-${i}` });
    const set = (v) => {
      state[which][i] = v;
      range.value = String(v);
      box.value = String(v);
      update();
    };
    range.addEventListener('input', () => set(Number(range.value)));
    box.addEventListener('change', () => {
      const v = Number(box.value);
      if (Number.isFinite(v) && v >= 0) set(v);
    });
    host.append(el('div', { class: 'bar-row' }, el('span', { text: label }), range, box));
  });
}

const update = serial(async () => {
  const base = state.base === 'e' ? 'e' : Number(state.base);
  const common = { normalize: true, base };
  const p = state.p.slice();
  const q = state.q.slice();
  const jobs = [
    { path: '/v1/info/entropy', body: { p, ...common } },
    { path: '/v1/info/entropy', body: { p: q, ...common } },
    { path: '/v1/info/cross_entropy', body: { p, q, ...common } },
    { path: '/v1/info/kl_divergence', body: { p, q, ...common } },
    { path: '/v1/info/js_divergence', body: { p, q, ...common } },
  ];
  const results = await batch(jobs);
  const [hp, hq, ce, kl, js] = results.map((r, i) => ok(r, jobs[i].path).value);
  const unit = state.base === 'e' ? 'nats' : 'bits';
  const rows = [['H(p)', hp, 'entropy'], ['H(q)', hq, 'entropy'], ['H(p,q)', ce, 'cross_entropy'],
    ['D_KL(p‖q)', kl, 'kl_divergence'], ['JS(p, q)', js, 'js_divergence']];
  $('dist-table').tBodies[0].replaceChildren(...rows.map(([name, v, fn]) =>
    el('tr', { 'data-measure': fn }, el('th', { scope: 'row', text: `${name} (${unit})` }), el('td', { text: num(v) }))));
  $('dist-identity-text').replaceChildren(
    'H(p,q) = H(p) + D_KL(p‖q), exactly in real numbers; lossd’s doubles, each rounded on its own: ',
    el('strong', { text: num(ce) }), ' ≈ ', el('strong', { text: num(hp) }),
    ' + ', el('strong', { text: num(kl) }), ` ${unit}`);

  bars.data.labels = p.map((_, i) => String(i));
  bars.data.datasets = [
    { label: 'p (weights)', data: p, backgroundColor: COLORS[0] },
    { label: 'q (weights)', data: q, backgroundColor: COLORS[1] },
  ];
  bars.update();
  identity.data.labels = ['H(p,q)', 'H(p) + D_KL(p‖q)'];
  identity.data.datasets = [
    { label: 'H(p,q)', data: [ce, null], backgroundColor: COLORS[2], stack: 's' },
    { label: 'H(p)', data: [null, hp], backgroundColor: COLORS[0], stack: 's' },
    { label: 'D_KL(p‖q)', data: [null, kl], backgroundColor: COLORS[3], stack: 's' },
  ];
  identity.options.scales.x.title.text = unit;
  identity.update();
});

export function initDists() {
  buildInputs('p');
  buildInputs('q');
  for (const input of document.querySelectorAll('input[name="base"]')) {
    input.addEventListener('change', () => {
      state.base = input.value;
      update();
    });
  }
  $('dist-form').addEventListener('submit', (ev) => ev.preventDefault());
}

export function showDists() {
  if (!bars) {
    bars = new window.Chart($('dist-bars'), {
      type: 'bar',
      data: { labels: [], datasets: [] },
      options: { animation: false, maintainAspectRatio: false,
        scales: { y: { beginAtZero: true, title: { display: true, text: 'weight' } }, x: { title: { display: true, text: 'outcome' } } },
        plugins: { legend: { position: 'bottom' } } },
    });
    identity = new window.Chart($('dist-identity'), {
      type: 'bar',
      data: { labels: [], datasets: [] },
      options: { animation: false, maintainAspectRatio: false, indexAxis: 'y',
        scales: { x: { stacked: true, beginAtZero: true, title: { display: true, text: '' } }, y: { stacked: true } },
        plugins: { legend: { position: 'bottom' } } },
    });
  }
  update();
}
