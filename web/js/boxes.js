// SPDX-License-Identifier: MIT
// boxes.js - the Boxes view: two boxes to drag, every box loss with its
// terms and gradient, and gradient descent with each loss.
//
// The box losses are the catalog's (GET /v1/functions, once): every loss
// that takes a box_format and has a gradient and per-box terms, in registry
// order - a box loss added to lossd shows up here with no change to the page.
//
// API calls: POST /v1/batch with one job per loss,
//   {"path": "/v1/loss/{name}",
//    "body": {"input": [pred], "target": [target], "grad": true, "terms": true}}
// on every change, and for "Descend" one such batch per step (without terms),
// each job from its own loss's current box (descent.js); Polyak's step
// (the default) asks first, in one more batch, each loss's value at the
// target box itself, its minimum. The page only draws: the enclosing box and the
// centres are geometry for the picture; every number shown comes from a
// reply, and a step's size is arithmetic on a reply's loss and gradient.
import { batch, get, ok } from './api.js';
import { $, el, svg, num, serial, displayName, lossChoice, boxFields } from './ui.js';
import { drag, grid, rounded, labelSize, addLabel, arrow } from './picture.js';
import { RULES, descend, showDescent, wireDescentForm, trajectoryPicture } from './descent.js';

// Labels of the terms the page knows; any other term is shown by its own name.
const TERMS = {
  iou: 'IoU', enclosing_area: '|C|', rho2: 'ρ²', c2: 'c²', v: 'v', aspect_weight: 'β',
  angle_cost: 'Λ', distance_cost: 'Δ', shape_cost: 'Ω', width_term: 'Δw²/(cw²+ε)', height_term: 'Δh²/(ch²+ε)', w2: 'W²',
};
// Axis-aligned boxes only: the oriented losses (rule oriented_boxes) take 5 or 8 numbers.
const isBoxLoss = (f) => f.kind === 'loss' && f.grad && Array.isArray(f.terms) &&
  f.operand_specs[0].rule === 'boxes';
const WIDTH = 16;
const HEIGHT = 10;
const MIN_SIZE = 0.1;
const HANDLE_R = 0.16; // a corner handle's radius; arrows start outside it
// The corner arrows (picture.js): 6 picture units per unit of gradient, at
// most 4 long, heads at most 0.45, starting outside the corner's handle.
const ARROW = { scale: 6, max: 4, head: 0.45, gap: HANDLE_R + 0.08 };
const COORDS = ['x1', 'y1', 'x2', 'y2'];

const state = {
  pred: [2, 2, 6.5, 5.5],
  target: [4.5, 3.5, 10, 8],
  arrows: 'giou',
  replies: null, // {loss name: reply body} for state.shown
  shown: null, // the boxes those replies are for
};

// Coordinates are kept to hundredths, so that what is shown is what is sent.
const round2 = (v) => Math.round(v * 100) / 100;

let svgRoot;
let overlay;
let arrowLayer;
const shapes = { pred: {}, target: {} };
let LOSSES = null; // the box losses' names, once the catalog has answered
const DEPRECATED = {}; // per loss, the deprecated names of its terms (the catalog's term_specs)

// The box losses from the catalog, asked once it answers (it may need the API key first).
async function boxLosses() {
  if (!LOSSES) {
    const reply = await get('/v1/functions');
    const losses = reply.functions.filter(isBoxLoss);
    LOSSES = losses.map((f) => f.name);
    for (const f of losses) DEPRECATED[f.name] = (f.term_specs || []).filter((t) => t.deprecated).map((t) => t.name);
    buildArrowChoice();
  }
  return LOSSES;
}

function boxRequest(name, withTerms) {
  return {
    path: `/v1/loss/${name}`,
    body: { input: [state.pred], target: [state.target], grad: true, terms: withTerms },
  };
}

const refresh = serial(async () => {
  const boxes = { pred: state.pred.slice(), target: state.target.slice() };
  const losses = await boxLosses();
  const results = await batch(losses.map((n) => boxRequest(n, true)));
  state.replies = {};
  losses.forEach((n, i) => {
    state.replies[n] = ok(results[i], `/v1/loss/${n}`);
  });
  state.shown = boxes;
  renderNumbers();
  renderOverlay();
});

// ------------------------------------------------------------ the picture

function setBox(which, box) {
  state[which] = box.map(round2);
  COORDS.forEach((c, k) => {
    $(`${which}-${c}`).value = String(state[which][k]);
  });
  placeShapes();
  refresh();
}

function startDrag(ev, which, corner) {
  const b0 = state[which].slice();
  drag(svgRoot, ev, (p, p0) => {
    const dx = p.x - p0.x;
    const dy = p.y - p0.y;
    const b = b0.slice();
    if (!corner) {
      b[0] += dx;
      b[2] += dx;
      b[1] += dy;
      b[3] += dy;
    } else {
      if (corner.includes('w')) b[0] = Math.min(b0[0] + dx, b0[2] - MIN_SIZE);
      if (corner.includes('e')) b[2] = Math.max(b0[2] + dx, b0[0] + MIN_SIZE);
      if (corner.includes('n')) b[1] = Math.min(b0[1] + dy, b0[3] - MIN_SIZE);
      if (corner.includes('s')) b[3] = Math.max(b0[3] + dy, b0[1] + MIN_SIZE);
    }
    setBox(which, b);
  });
}

// Arrow keys move a focused box by 0.1; with Shift they move its x2/y2 corner.
function onKey(ev, which) {
  const step = { ArrowLeft: [-0.1, 0], ArrowRight: [0.1, 0], ArrowUp: [0, -0.1], ArrowDown: [0, 0.1] }[ev.key];
  if (!step) return;
  ev.preventDefault();
  const b = state[which].slice();
  if (ev.shiftKey) {
    b[2] = Math.max(b[2] + step[0], b[0] + MIN_SIZE);
    b[3] = Math.max(b[3] + step[1], b[1] + MIN_SIZE);
  } else {
    b[0] += step[0];
    b[2] += step[0];
    b[1] += step[1];
    b[3] += step[1];
  }
  setBox(which, b);
}

const CORNERS = { nw: [0, 1], ne: [2, 1], sw: [0, 3], se: [2, 3] };

function buildShapes() {
  svgRoot = $('box-svg');
  overlay = svg('g', { 'aria-hidden': 'true', class: 'overlay' });
  arrowLayer = svg('g', { 'aria-hidden': 'true', class: 'overlay' });
  svgRoot.append(grid(svgRoot), overlay);
  for (const which of ['target', 'pred']) {
    const label = which === 'pred' ? 'predicted box' : 'target box';
    const rect = svg('rect', {
      class: `box ${which}`, tabindex: 0, role: 'button', 'aria-roledescription': 'draggable box',
      'aria-label': `${label}: drag to move, arrow keys move, Shift and arrow keys resize`,
      'data-box': which,
    });
    rect.addEventListener('pointerdown', (e) => startDrag(e, which, null));
    rect.addEventListener('keydown', (e) => onKey(e, which));
    shapes[which].rect = rect;
    svgRoot.append(rect);
    for (const corner of Object.keys(CORNERS)) {
      const h = svg('circle', { class: `handle ${which} ${corner}`, r: HANDLE_R, 'data-corner': `${which}-${corner}` });
      h.addEventListener('pointerdown', (e) => startDrag(e, which, corner));
      shapes[which][corner] = h;
      svgRoot.append(h);
    }
  }
  svgRoot.append(arrowLayer);
}

function placeShapes() {
  for (const which of ['target', 'pred']) {
    const [x1, y1, x2, y2] = state[which];
    const s = shapes[which];
    s.rect.setAttribute('x', x1);
    s.rect.setAttribute('y', y1);
    s.rect.setAttribute('width', Math.max(x2 - x1, 0));
    s.rect.setAttribute('height', Math.max(y2 - y1, 0));
    for (const [corner, [i, j]] of Object.entries(CORNERS)) {
      s[corner].setAttribute('cx', state[which][i]);
      s[corner].setAttribute('cy', state[which][j]);
    }
  }
}

// C, ρ and c as lines; their values (from the DIoU reply) as labels.
function renderOverlay() {
  overlay.replaceChildren();
  arrowLayer.replaceChildren();
  if (!state.replies) return;
  const size = labelSize(svgRoot);
  const [p, t] = [state.shown.pred, state.shown.target];
  const c = [Math.min(p[0], t[0]), Math.min(p[1], t[1]), Math.max(p[2], t[2]), Math.max(p[3], t[3])];
  const centre = (b) => [(b[0] + b[2]) / 2, (b[1] + b[3]) / 2];
  const [pc, tc] = [centre(p), centre(t)];
  overlay.append(
    svg('rect', { class: 'enclosing', x: c[0], y: c[1], width: c[2] - c[0], height: c[3] - c[1] }),
    svg('line', { class: 'diag', x1: c[0], y1: c[1], x2: c[2], y2: c[3] }),
    svg('line', { class: 'rho', x1: pc[0], y1: pc[1], x2: tc[0], y2: tc[1] }),
  );
  const giou = state.replies.giou && state.replies.giou.terms;
  const diou = state.replies.diou && state.replies.diou.terms;
  if (giou && diou) {
    addLabel(overlay, 'label-c', c[0] + 0.1, c[3] - 0.4 * size,
      `C: |C| ${rounded(giou.enclosing_area[0])}, c² ${rounded(diou.c2[0])}`, size);
    addLabel(overlay, 'label-rho', (pc[0] + tc[0]) / 2 + 0.15, (pc[1] + tc[1]) / 2, `ρ² ${rounded(diou.rho2[0])}`, size);
  }
  const g = state.replies[state.arrows].grad[0];
  if (g.every((v) => v === 0)) {
    addLabel(arrowLayer, '', p[0], p[3] + 1.2 * size, `${displayName(state.arrows)}: zero gradient`, size);
    return;
  }
  arrow(arrowLayer, p[0], p[1], g[0], g[1], ARROW);
  arrow(arrowLayer, p[2], p[3], g[2], g[3], ARROW);
}

// ------------------------------------------------------------ the numbers

function renderNumbers() {
  const body = $('box-table').tBodies[0];
  // Each cell's column, for a phone's screen, where a row is a card (playground.css).
  const column = [...$('box-table').tHead.rows[0].cells].map((c) => c.textContent);
  body.replaceChildren();
  for (const n of LOSSES) {
    const r = state.replies[n];
    const terms = Object.entries(r.terms || {}).filter(([k]) => !DEPRECATED[n].includes(k))
      .map(([k, v]) => `${TERMS[k] || k} = ${num(v[0])}`).join(', ');
    const row = el('tr', { 'data-loss': n },
      el('th', { scope: 'row', text: displayName(n) }),
      el('td', { class: 'v-loss', 'data-label': column[1], text: num(r.loss) }),
      el('td', { class: 'terms', 'data-label': column[2], text: terms }));
    row.append(el('td', { class: 'grads', 'data-label': column[3] }, ...r.grad[0].map((v, k) =>
      el('span', { class: 'v-grad', 'data-index': k, text: num(v) }))));
    body.append(row);
  }
  // What the numbers are for: the browser test reads it to ask lossd itself.
  $('box-table').dataset.boxes = JSON.stringify([state.shown.pred, state.shown.target]);
}

function buildInputs() {
  boxFields($('box-inputs'), { prefix: '', coords: COORDS, rowClass: 'box-row', current: (w) => state[w], set: setBox });
}

// One radio button per box loss: the loss whose gradient the arrows show.
function buildArrowChoice() {
  state.arrows = lossChoice($('arrow-choice'), 'arrows', LOSSES, state.arrows, (n) => {
    state.arrows = n;
    renderOverlay();
  });
}

// ------------------------------------------------------------ descent

// The longest move of one step (the norm of the change of a box's four
// coordinates), in picture units: one grid unit (descent.js).
const MAX_MOVE = 1;

let lossChart = null;

// Loss i's trajectory: the target, the start and the final box, and the path of its centre.
function miniPicture(name, i, path, start, target) {
  const rect = (cls, b) => svg('rect', { class: cls, x: b[0], y: b[1], width: b[2] - b[0], height: b[3] - b[1] });
  const last = path[path.length - 1];
  return trajectoryPicture({ viewBox: `0 0 ${WIDTH} ${HEIGHT}`, name, i, path, centre: (b) => [(b[0] + b[2]) / 2, (b[1] + b[3]) / 2], dot: 0.3 },
    rect('box target', target), rect('start', start), last[2] >= last[0] && last[3] >= last[1] ? rect('final', last) : null);
}

async function runDescent(steps, ruleName, setting) {
  const names = await boxLosses();
  const start = state.pred.slice();
  const target = state.target.slice();
  const result = await descend({
    names, start, target, steps, setting, rule: RULES[ruleName], maxMove: MAX_MOVE,
    job: (n, box, grad) => ({ path: `/v1/loss/${n}`, body: { input: [box], target: [target], grad } }),
  });
  lossChart = showDescent({ host: $('trajectories'), chart: lossChart, canvas: $('descend-chart'), names, result, start,
    picture: (n, i, path) => miniPicture(n, i, path, start, target),
    boxText: (last) => `the box moved to [${last.map((v) => v.toFixed(3)).join(', ')}]` });
}

export async function initBoxes() {
  buildShapes();
  buildInputs();
  placeShapes();
  wireDescentForm('descend', runDescent);
  // The labels follow the picture's size (LABEL_PX on a small screen).
  new ResizeObserver(() => renderOverlay()).observe(svgRoot);
  $('disjoint').addEventListener('click', () => {
    setBox('target', [9, 5, 13, 9]);
    setBox('pred', [1, 1, 4, 3.5]);
  });
  refresh();
}
