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
// each job from its own loss's current box; Polyak's step (the default)
// asks first, in one more batch, each loss's value at the target box
// itself, its minimum. The page only draws: the enclosing box and the
// centres are geometry for the picture; every number shown comes from a
// reply, and a step's size is arithmetic on a reply's loss and gradient.
import { batch, get, ok } from './api.js';
import { $, el, svg, num, serial, status, lineChart, series, color } from './ui.js';

// Labels of the terms the page knows; any other term is shown by its own name.
const TERMS = {
  iou: 'IoU', enclosing_area: '|C|', rho2: 'ρ²', c2: 'c²', v: 'v', alpha: 'α',
  angle_cost: 'Λ', distance_cost: 'Δ', shape_cost: 'Ω', width_term: 'Δw²/(cw²+ε)', height_term: 'Δh²/(ch²+ε)', w2: 'W²',
};
// 'giou' -> 'GIoU', 'nwd' -> 'NWD'
const displayName = (n) => (n.endsWith('iou') ? `${n.slice(0, -3).toUpperCase()}IoU` : n.toUpperCase());
const isBoxLoss = (f) => f.kind === 'loss' && f.grad && Array.isArray(f.terms) &&
  f.operand_specs[0].rule === 'boxes';
const WIDTH = 16;
const HEIGHT = 10;
const MIN_SIZE = 0.1;
const ARROW_SCALE = 6; // picture units per unit of gradient
const ARROW_MAX = 4; // the longest arrow, in picture units
const HEAD_MAX = 0.45; // the longest arrowhead; a short arrow's is a third of it
const HANDLE_R = 0.16; // a corner handle's radius; arrows start outside it
const LABEL_UNITS = 0.38; // the labels' size in picture units on a wide screen
const LABEL_PX = 12; // and never under this many CSS pixels (a phone's screen)
const COORDS = ['x1', 'y1', 'x2', 'y2'];
// A loss's colour, in the picture and the chart alike: by its place in the
// catalog, after the palette's first BOX_COLORS, which the target and
// predicted boxes wear.
const BOX_COLORS = 2;
const lossColor = (i) => color(i + BOX_COLORS);

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

// The box losses from the catalog, asked once it answers (it may need the API key first).
async function boxLosses() {
  if (!LOSSES) {
    const reply = await get('/v1/functions');
    LOSSES = reply.functions.filter(isBoxLoss).map((f) => f.name);
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

function toWorld(ev) {
  const pt = svgRoot.createSVGPoint();
  pt.x = ev.clientX;
  pt.y = ev.clientY;
  const p = pt.matrixTransform(svgRoot.getScreenCTM().inverse());
  return { x: p.x, y: p.y };
}

function setBox(which, box) {
  state[which] = box.map(round2);
  COORDS.forEach((c, k) => {
    $(`${which}-${c}`).value = String(state[which][k]);
  });
  placeShapes();
  refresh();
}

function startDrag(ev, which, corner) {
  if (ev.button !== 0) return;
  ev.preventDefault();
  const target = ev.currentTarget;
  target.setPointerCapture(ev.pointerId);
  const p0 = toWorld(ev);
  const b0 = state[which].slice();
  const move = (e) => {
    const p = toWorld(e);
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
  };
  const up = () => {
    target.removeEventListener('pointermove', move);
    target.removeEventListener('pointerup', up);
    target.removeEventListener('pointercancel', up);
  };
  target.addEventListener('pointermove', move);
  target.addEventListener('pointerup', up);
  target.addEventListener('pointercancel', up);
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
  const grid = svg('g', { class: 'grid' });
  for (let x = 1; x < WIDTH; x++) grid.append(svg('line', { x1: x, y1: 0, x2: x, y2: HEIGHT }));
  for (let y = 1; y < HEIGHT; y++) grid.append(svg('line', { x1: 0, y1: y, x2: WIDTH, y2: y }));
  overlay = svg('g', { 'aria-hidden': 'true', class: 'overlay' });
  arrowLayer = svg('g', { 'aria-hidden': 'true', class: 'overlay' });
  svgRoot.append(grid, overlay);
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

// A label's number: one rule for all, to hundredths, with "=" when that is
// the reply's double and "≈" when it is rounded (the table has every digit).
function rounded(v) {
  if (v === null) return '= null';
  const text = v.toFixed(2);
  return `${Number(text) === v ? '=' : '≈'} ${text}`;
}

// The labels' font size in picture units: LABEL_UNITS, or LABEL_PX CSS
// pixels where the picture is drawn so small that that is larger.
function labelSize() {
  const perUnit = svgRoot.getBoundingClientRect().width / WIDTH;
  return perUnit > 0 ? Math.max(LABEL_UNITS, LABEL_PX / perUnit) : LABEL_UNITS;
}

// A text label at (x, y), moved left if it would run off the picture.
function addLabel(layer, cls, x, y, text, size) {
  const node = svg('text', { class: `label ${cls}`, x, y, 'font-size': size, text });
  layer.append(node);
  const right = node.getBBox().x + node.getBBox().width;
  if (right > WIDTH - 0.1) node.setAttribute('x', Math.max(0.1, x - (right - (WIDTH - 0.1))));
}

// The descent direction -(gx, gy) at the corner (x, y), drawn from just
// outside the corner's handle, so that the handle stays visible; the head
// is at most a third of the arrow, so a short arrow is still mostly shaft.
function arrow(x, y, gx, gy) {
  let len = Math.hypot(gx, gy) * ARROW_SCALE;
  if (!(len > 1e-9)) return;
  const [ux, uy] = [-gx * ARROW_SCALE / len, -gy * ARROW_SCALE / len];
  len = Math.min(len, ARROW_MAX);
  const gap = HANDLE_R + 0.08;
  const head = Math.min(HEAD_MAX, len / 3);
  const [x0, y0] = [x + ux * gap, y + uy * gap];
  const [tx, ty] = [x0 + ux * len, y0 + uy * len];
  const [bx, by] = [tx - ux * head, ty - uy * head];
  const [nx, ny] = [-uy * head * 0.45, ux * head * 0.45];
  arrowLayer.append(svg('g', { class: 'arrow', 'data-shaft': len - head, 'data-head': head },
    svg('line', { class: 'arrow-shaft', x1: x0, y1: y0, x2: bx, y2: by }),
    svg('polygon', { class: 'arrow-head', points: `${tx},${ty} ${bx + nx},${by + ny} ${bx - nx},${by - ny}` })));
}

// C, ρ and c as lines; their values (from the DIoU reply) as labels.
function renderOverlay() {
  overlay.replaceChildren();
  arrowLayer.replaceChildren();
  if (!state.replies) return;
  const size = labelSize();
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
  arrow(p[0], p[1], g[0], g[1]);
  arrow(p[2], p[3], g[2], g[3]);
}

// ------------------------------------------------------------ the numbers

function renderNumbers() {
  const body = $('box-table').tBodies[0];
  // Each cell's column, for a phone's screen, where a row is a card (playground.css).
  const column = [...$('box-table').tHead.rows[0].cells].map((c) => c.textContent);
  body.replaceChildren();
  for (const n of LOSSES) {
    const r = state.replies[n];
    const terms = Object.entries(r.terms || {}).map(([k, v]) => `${TERMS[k] || k} = ${num(v[0])}`).join(', ');
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
  const host = $('box-inputs');
  for (const which of ['pred', 'target']) {
    const name = which === 'pred' ? 'predicted' : 'target';
    const row = el('div', { class: 'box-row' }, el('span', { class: `${which}-text`, text: name }));
    COORDS.forEach((c, k) => {
      const input = el('input', { id: `${which}-${c}`, type: 'number', step: '0.1', 'aria-label': `${name} ${c}`,
        value: String(state[which][k]) });
      input.addEventListener('change', () => {
        const v = Number(input.value);
        if (!Number.isFinite(v)) return;
        const b = state[which].slice();
        b[k] = v;
        // An inverted box is lossd's to refuse: the reply's error is shown.
        setBox(which, b);
      });
      row.append(input);
    });
    host.append(row);
  }
}

// One radio button per box loss: the loss whose gradient the arrows show.
function buildArrowChoice() {
  const choice = $('arrow-choice');
  choice.replaceChildren();
  if (!LOSSES.includes(state.arrows)) state.arrows = LOSSES[0];
  for (const n of LOSSES) {
    const input = el('input', { type: 'radio', name: 'arrows', value: n, checked: n === state.arrows });
    input.addEventListener('change', () => {
      state.arrows = n;
      renderOverlay();
    });
    choice.append(el('label', {}, input, ` ${displayName(n)}`));
  }
}

// ------------------------------------------------------------ descent

// The longest move of one step (the norm of the change of a box's four
// coordinates), in picture units. Polyak's step is long where a loss is
// nearly flat far from its minimum (GIoU with the boxes apart): one grid
// unit keeps such a step from leaping past the target.
const MAX_MOVE = 1;

// The step size s of box ← box − s·grad, from a loss's reply at its current
// box, that loss's minimum and the form's setting:
//   polyak: s = γ·(loss − loss*)/‖grad‖², loss* the loss at the target box
//     itself (B. T. Polyak, "Minimization of unsmooth functionals", 1969). A
//     loss scaled by k gives the same step, so one γ serves every loss
//     (NWD's gradient at the default boxes is a third as long as GIoU's),
//     and the step shrinks as the loss nears its minimum, where a fixed
//     rate zig-zags across the IoU losses' kinks (their gradient does not
//     vanish there).
//   fixed: s = the learning rate.
const RULES = {
  polyak: {
    input: 'descend-gamma',
    floor: true,
    step(reply, floor, gamma) {
      const g2 = reply.grad[0].reduce((a, v) => a + v * v, 0);
      if (!(g2 > 0)) return 0;
      return Math.min((gamma * Math.max(reply.loss - floor, 0)) / g2, MAX_MOVE / Math.sqrt(g2));
    },
  },
  fixed: { input: 'descend-lr', floor: false, step: (reply, floor, rate) => rate },
};

let lossChart = null;

// Loss i's trajectory: its box centre at each step, and a dot where it ended.
function miniPicture(n, i, path, start, target) {
  const root = svg('svg', { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: 'img',
    'aria-label': `${displayName(n)} trajectory of the predicted box` });
  const t = target;
  const last = path[path.length - 1];
  const centre = (b) => [(b[0] + b[2]) / 2, (b[1] + b[3]) / 2];
  root.append(
    svg('rect', { class: 'box target', x: t[0], y: t[1], width: t[2] - t[0], height: t[3] - t[1] }),
    svg('rect', { class: 'start', x: start[0], y: start[1], width: start[2] - start[0], height: start[3] - start[1] }),
  );
  if (last[2] >= last[0] && last[3] >= last[1])
    root.append(svg('rect', { class: 'final', x: last[0], y: last[1], width: last[2] - last[0], height: last[3] - last[1] }));
  const [cx, cy] = centre(last);
  root.append(
    svg('polyline', { class: 'traj', stroke: lossColor(i), points: path.map((b) => centre(b).join(',')).join(' ') }),
    svg('circle', { class: 'traj-end', fill: lossColor(i), cx, cy, r: 0.3 }),
  );
  return root;
}

// A swatch of loss i's colour for its caption, as the chart's legend shows it.
const swatch = (i) => svg('svg', { class: 'traj-key', viewBox: '0 0 4 2', 'aria-hidden': 'true' },
  svg('line', { x1: 0, y1: 1, x2: 4, y2: 1, stroke: lossColor(i) }));

async function descend(steps, ruleName, setting) {
  const names = await boxLosses();
  const rule = RULES[ruleName];
  const start = state.pred.slice();
  const target = state.target.slice();
  const job = (n, box, grad) => ({ path: `/v1/loss/${n}`, body: { input: [box], target: [target], grad } });
  const floors = {};
  if (rule.floor) {
    const results = await batch(names.map((n) => job(n, target, false)));
    names.forEach((n, i) => {
      floors[n] = ok(results[i], `/v1/loss/${n}`).loss;
    });
  }
  const boxes = {};
  const paths = {};
  const losses = {};
  const stopped = {};
  for (const n of names) {
    boxes[n] = start.slice();
    paths[n] = [start.slice()];
    losses[n] = [];
  }
  for (let step = 0; step <= steps; step++) {
    const active = names.filter((n) => !stopped[n]);
    if (!active.length) break;
    const results = await batch(active.map((n) => job(n, boxes[n], true)));
    active.forEach((n, i) => {
      const r = results[i];
      if (r.status !== 200) {
        stopped[n] = `stopped at step ${step}: ${r.body.error.message}`;
        return;
      }
      losses[n].push({ x: step, y: r.body.loss });
      if (step === steps) return; // the last request only scores the final box
      const s = rule.step(r.body, floors[n], setting);
      const g = r.body.grad[0];
      boxes[n] = boxes[n].map((v, k) => v - s * g[k]);
      paths[n].push(boxes[n]);
    });
    if (step % 20 === 0) status(`descending: step ${step} of ${steps}`);
  }
  const host = $('trajectories');
  host.replaceChildren();
  names.forEach((n, i) => {
    const first = losses[n][0];
    const final = losses[n][losses[n].length - 1];
    const last = paths[n][paths[n].length - 1];
    const moved = last.some((v, k) => v !== start[k]);
    const fig = el('figure', { 'data-loss': n, 'data-start': JSON.stringify(start), 'data-final': JSON.stringify(last),
      'data-moved': String(moved) },
    miniPicture(n, i, paths[n], start, target),
    el('figcaption', {}, swatch(i),
      el('span', { class: 'name', text: displayName(n) }),
      `: loss ${first ? num(first.y) : '-'} → ${final ? num(final.y) : '-'}; `,
      moved ? `the box moved to [${last.map((v) => v.toFixed(3)).join(', ')}]` : 'the box did not move (zero gradient)',
      stopped[n] ? el('span', { class: 'hint', text: ` (${stopped[n]})` }) : null));
    host.append(fig);
  });
  if (!lossChart) lossChart = lineChart($('descend-chart'), 'step', 'loss');
  lossChart.data.datasets = names.map((n, i) => series(displayName(n), losses[n], i + BOX_COLORS));
  lossChart.update();
  status(`descended ${steps} steps (${ruleName === 'polyak' ? `Polyak's step, γ = ${setting}` : `learning rate ${setting}`})`);
}

export async function initBoxes() {
  buildShapes();
  buildInputs();
  placeShapes();
  $('descend-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const steps = Math.max(1, Math.min(500, Math.floor(Number($('descend-steps').value) || 1)));
    const rule = $('descend-rule').value;
    const setting = Number($(RULES[rule].input).value);
    const button = $('descend');
    button.disabled = true;
    try {
      await descend(steps, rule, setting);
    } catch (e) {
      status(e.message, true);
    } finally {
      button.disabled = false;
    }
  });
  // Only the chosen rule's setting can be edited.
  const rule = $('descend-rule');
  const enable = () => {
    for (const [name, r] of Object.entries(RULES)) $(r.input).disabled = name !== rule.value;
  };
  rule.addEventListener('change', enable);
  enable();
  // The labels follow the picture's size (LABEL_PX on a small screen).
  new ResizeObserver(() => renderOverlay()).observe(svgRoot);
  $('disjoint').addEventListener('click', () => {
    setBox('target', [9, 5, 13, 9]);
    setBox('pred', [1, 1, 4, 3.5]);
  });
  refresh();
}
