// SPDX-License-Identifier: MIT
// oriented.js - the Oriented boxes view: two rotated boxes to drag, resize
// and turn, their intersection polygon and convex hull drawn, every oriented
// loss with its value, terms and gradient, and gradient descent with each
// from the same start.
//
// The oriented losses are the catalog's (GET /v1/functions, once): every
// loss with a gradient and terms whose operands follow the oriented box rule
// (operand_specs[].rule "oriented_boxes"), whose first operand is five
// numbers in box_format cxcywhr (its shape's last_axis.sizes) and whose
// box_format may be cxcywhr (the parameter's constraints.choices), in
// registry order - an oriented loss added to lossd shows up here with no
// change to the page.
//
// API calls: POST /v1/batch with two jobs per loss on every change,
//   {"path": "/v1/loss/{name}", "body": {"input": [pred], "target": [target],
//    "box_format": "cxcywhr", "grad": true, "terms": true}}
// and the same with "input": [target] and neither grad nor terms (the loss
// at the target itself, its minimum: a loss whose value is the same at both
// cannot tell the two boxes apart); for "Descend" one batch per step, each
// job from its own loss's current box (descent.js).
//
// The page only draws: the corners, the intersection polygon and the hull
// are geometry for the picture; every number shown comes from a reply (the
// areas are the terms of the losses that return them: intersection and
// union, hull_area).
import { batch, get, ok } from './api.js';
import { $, el, svg, num, serial, displayName, lossChoice, boxFields } from './ui.js';
import { drag, extent, grid, rounded, labelSize, addLabel, arrow, turnArrow } from './picture.js';
import { RULES, descend, showDescent, wireDescentForm, trajectoryPicture } from './descent.js';

// Labels of the terms the page knows; any other term is shown by its own name.
const TERMS = {
  iou: 'IoU', intersection: '|P∩Q|', union: '|P∪Q|', hull_area: '|hull|', probiou: 'ProbIoU',
  bhattacharyya: 'B', distance: 'd', divergence: 'D', kfiou: 'KFIoU',
};
const FORMAT = 'cxcywhr';
const isOrientedLoss = (f) => f.kind === 'loss' && f.grad && Array.isArray(f.terms) &&
  Array.isArray(f.operand_specs) && f.operand_specs.length === 2 &&
  f.operand_specs.every((s) => s.rule === 'oriented_boxes') &&
  f.operand_specs[0].shape.last_axis?.sizes?.[FORMAT] === 5 &&
  f.params.some((p) => p.name === 'box_format' && p.constraints?.choices?.includes(FORMAT));

const COORDS = ['cx', 'cy', 'w', 'h', 'r'];
const MIN_SIZE = 0.1;
const MOVE_STEP = 0.1; // a key's move or resize, in picture units
const TURN_STEP = Math.PI / 180; // a key's turn: 1°, and with Shift ...
const TURN_BIG = Math.PI / 12; // ... 15°
const HANDLE_R = 0.06; // a corner handle's radius
const KNOB_R = 0.075; // the turning handle's radius
const KNOB_OFF = 0.3; // how far beyond the box's edge it sits
const ARROW = { scale: 2.5, max: 1.5, head: 0.16, gap: 0.08 }; // the centre's arrow (picture.js)
const TURN_SCALE = 6; // radians of the turning arrow per unit of ∂loss/∂r
const TURN_MAX = 3; // the longest turning arrow, in radians
const MAX_MOVE = 0.5; // the longest move of one descent step (descent.js)
// The sign pattern of each corner, ±(w/2)·u ± (h/2)·v, counter-clockwise as cross() measures it.
const CORNERS = [[-1, -1], [1, -1], [1, 1], [-1, 1]];
const RESIZER = 2; // the corner that is also a keyboard handle: (+, +), bottom right at r = 0

const START = { pred: [2.1, 2.1, 1.8, 1, -0.35], target: [3.6, 1.9, 2, 1.1, 0.3] };
const state = {
  pred: START.pred.slice(),
  target: START.target.slice(),
  arrows: null,
  replies: null, // {loss name: reply body} for state.shown
  floors: null, // {loss name: loss at the target itself}
  shown: null, // the boxes those replies are for
};

// Coordinates are kept to hundredths and angles to ten-thousandths of a radian
// (presets excepted: π/4 is sent as the double), so that what is shown is what is sent.
const roundBox = (b) => b.map((v, k) => (k === 4 ? Math.round(v * 1e4) / 1e4 : Math.round(v * 100) / 100));

let svgRoot;
let underlay;
let overlay;
let arrowLayer;
const shapes = { pred: {}, target: {} };
let LOSSES = null; // {name, terms} of the oriented losses, once the catalog has answered

async function orientedLosses() {
  if (!LOSSES) {
    const reply = await get('/v1/functions');
    LOSSES = reply.functions.filter(isOrientedLoss).map((f) => ({ name: f.name, terms: f.terms }));
    buildArrowChoice();
  }
  return LOSSES.map((l) => l.name);
}

const lossJob = (name, box, target, grad, terms) => ({
  path: `/v1/loss/${name}`,
  body: { input: [box], target: [target], box_format: FORMAT, grad, terms },
});

const refresh = serial(async () => {
  const boxes = { pred: state.pred.slice(), target: state.target.slice() };
  const names = await orientedLosses();
  const jobs = names.flatMap((n) => [lossJob(n, boxes.pred, boxes.target, true, true),
    lossJob(n, boxes.target, boxes.target, false, false)]);
  const results = await batch(jobs);
  state.replies = {};
  state.floors = {};
  names.forEach((n, i) => {
    state.replies[n] = ok(results[2 * i], jobs[2 * i].path);
    state.floors[n] = ok(results[2 * i + 1], jobs[2 * i + 1].path).loss;
  });
  state.shown = boxes;
  renderNumbers();
  renderOverlay();
});

// ------------------------------------------------------------ geometry, for drawing

// The four corners of (cx, cy, w, h, r) as box_format cxcywhr defines them:
// (cx, cy) ± (w/2)·u ± (h/2)·v, u = (cos r, sin r), v = (−sin r, cos r).
function corners([cx, cy, w, h, r]) {
  const [c, s] = [Math.cos(r), Math.sin(r)];
  return CORNERS.map(([a, b]) => [cx + (a * w * c) / 2 - (b * h * s) / 2, cy + (a * w * s) / 2 + (b * h * c) / 2]);
}

const cross = (o, a, b) => (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]);

// The convex polygon P clipped by the convex polygon Q (Sutherland and
// Hodgman), both listed as corners() lists them.
function clip(P, Q) {
  let out = P;
  for (let i = 0; i < Q.length && out.length; i++) {
    const [a, b] = [Q[i], Q[(i + 1) % Q.length]];
    const input = out;
    out = [];
    input.forEach((p, j) => {
      const q = input[(j + 1) % input.length];
      const [dp, dq] = [cross(a, b, p), cross(a, b, q)];
      if (dp >= 0) out.push(p);
      if ((dp >= 0) !== (dq >= 0)) {
        const t = dp / (dp - dq);
        out.push([p[0] + t * (q[0] - p[0]), p[1] + t * (q[1] - p[1])]);
      }
    });
  }
  return out;
}

// The convex hull of points (Andrew's monotone chain).
function hull(points) {
  const sorted = points.slice().sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const half = (list) => {
    const h = [];
    for (const q of list) {
      while (h.length >= 2 && cross(h[h.length - 2], h[h.length - 1], q) <= 0) h.pop();
      h.push(q);
    }
    h.pop();
    return h;
  };
  return [...half(sorted), ...half(sorted.slice().reverse())];
}

const pointsAttr = (poly) => poly.map((p) => p.join(',')).join(' ');
// Where the turning handle sits: beyond the middle of the edge on the −v side (the top at r = 0).
const knobAt = ([cx, cy, , h, r]) => [cx + Math.sin(r) * (h / 2 + KNOB_OFF), cy - Math.cos(r) * (h / 2 + KNOB_OFF)];
const edgeMid = ([cx, cy, , h, r]) => [cx + (Math.sin(r) * h) / 2, cy - (Math.cos(r) * h) / 2];

// ------------------------------------------------------------ editing

function setBox(which, box, exact) {
  state[which] = exact ? box.slice() : roundBox(box);
  COORDS.forEach((c, k) => {
    $(`o-${which}-${c}`).value = String(state[which][k]);
  });
  placeShapes();
  refresh();
}

// The box with its (+, +) corner moved by dw along u and dh along v: the opposite corner stays.
function resized([cx, cy, w, h, r], dw, dh) {
  const [w2, h2] = [Math.max(w + dw, MIN_SIZE), Math.max(h + dh, MIN_SIZE)];
  const [c, s] = [Math.cos(r), Math.sin(r)];
  const [du, dv] = [(w2 - w) / 2, (h2 - h) / 2];
  return [cx + du * c - dv * s, cy + du * s + dv * c, w2, h2, r];
}

// A pointer drag on a box's body (move), a corner (resize, the opposite
// corner staying) or its turning handle (turn about the centre).
function startDrag(ev, which, part) {
  const b0 = state[which].slice();
  const [cx, cy, w, h, r] = b0;
  const [c, s] = [Math.cos(r), Math.sin(r)];
  // The pointer's angle about the centre, unwrapped: a knob dragged round and round keeps turning.
  let angle = null;
  let turned = 0;
  drag(svgRoot, ev, (p, p0) => {
    if (part === 'body') {
      setBox(which, [cx + p.x - p0.x, cy + p.y - p0.y, w, h, r]);
    } else if (part === 'knob') {
      if (angle === null) angle = Math.atan2(p0.y - cy, p0.x - cx);
      const a = Math.atan2(p.y - cy, p.x - cx);
      turned += Math.atan2(Math.sin(a - angle), Math.cos(a - angle));
      angle = a;
      setBox(which, [cx, cy, w, h, r + turned]);
    } else {
      const [a, b] = CORNERS[part];
      const [fx, fy] = corners(b0)[(part + 2) % 4]; // the opposite corner
      const [dx, dy] = [p.x - fx, p.y - fy];
      const w2 = Math.max(a * (dx * c + dy * s), MIN_SIZE);
      const h2 = Math.max(b * (-dx * s + dy * c), MIN_SIZE);
      setBox(which, [fx + (a * w2 * c) / 2 - (b * h2 * s) / 2, fy + (a * w2 * s) / 2 + (b * h2 * c) / 2, w2, h2, r]);
    }
  });
}

const ARROWS = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };

// The keyboard, on each focusable part (the keys the page's lead paragraph lists):
//   a box: the arrow keys move it, Shift and the arrow keys resize it as its
//     (+, +) corner would (→ wider, ↓ taller), [ and ] turn it by 1°;
//   its (+, +) corner: the arrow keys resize it so;
//   its turning handle: → and ↑ turn it clockwise, ← and ↓ counter-clockwise,
//     by 1°, with Shift by 15°.
function onKey(ev, which, part) {
  const b = state[which];
  const d = ARROWS[ev.key];
  const turn = (sign) => [b[0], b[1], b[2], b[3], b[4] + sign * (ev.shiftKey ? TURN_BIG : TURN_STEP)];
  let next = null;
  if (part === 'knob' && d) next = turn(d[0] || -d[1]);
  else if (part === 'body' && (ev.key === '[' || ev.key === ']')) next = turn(ev.key === ']' ? 1 : -1);
  else if (d && (part === 'corner' || ev.shiftKey)) next = resized(b, d[0] * MOVE_STEP, d[1] * MOVE_STEP);
  else if (d) next = [b[0] + d[0] * MOVE_STEP, b[1] + d[1] * MOVE_STEP, b[2], b[3], b[4]];
  if (!next) return;
  ev.preventDefault();
  setBox(which, next);
}

function buildShapes() {
  svgRoot = $('obox-svg');
  underlay = svg('g', { 'aria-hidden': 'true', class: 'overlay' });
  overlay = svg('g', { 'aria-hidden': 'true', class: 'overlay' });
  arrowLayer = svg('g', { 'aria-hidden': 'true', class: 'overlay' });
  svgRoot.append(grid(svgRoot), underlay);
  const parts = [];
  for (const which of ['target', 'pred']) {
    const name = which === 'pred' ? 'predicted box' : 'target box';
    const s = shapes[which];
    s.body = svg('polygon', {
      class: `box ${which}`, tabindex: 0, role: 'button', 'aria-roledescription': 'draggable box', 'data-box': which,
      'aria-label': `${name}: drag to move; arrow keys move, Shift and arrow keys resize, [ and ] turn`,
    });
    s.centre = svg('circle', { class: `centre ${which}`, r: 0.05, 'aria-hidden': 'true' });
    s.stick = svg('line', { class: `stick ${which}`, 'aria-hidden': 'true' });
    s.corners = CORNERS.map((_, k) => svg('circle', k === RESIZER
      ? { class: `handle ${which} corner-${k}`, r: HANDLE_R, tabindex: 0, role: 'button', 'aria-roledescription': 'resize handle',
        'aria-label': `${name}'s corner: drag or arrow keys to resize` }
      : { class: `handle ${which} corner-${k}`, r: HANDLE_R, 'aria-hidden': 'true' }));
    s.knob = svg('circle', {
      class: `knob ${which}`, r: KNOB_R, tabindex: 0, role: 'button', 'aria-roledescription': 'turning handle',
      'aria-label': `${name}'s turning handle: drag to turn; arrow keys turn by 1°, with Shift by 15°`,
    });
    s.body.addEventListener('pointerdown', (e) => startDrag(e, which, 'body'));
    s.body.addEventListener('keydown', (e) => onKey(e, which, 'body'));
    s.corners.forEach((node, k) => node.addEventListener('pointerdown', (e) => startDrag(e, which, k)));
    s.corners[RESIZER].addEventListener('keydown', (e) => onKey(e, which, 'corner'));
    s.knob.addEventListener('pointerdown', (e) => startDrag(e, which, 'knob'));
    s.knob.addEventListener('keydown', (e) => onKey(e, which, 'knob'));
    svgRoot.append(s.body, s.stick, s.centre);
    parts.push(...s.corners, s.knob);
  }
  // Drawn over the boxes, under the handles, which stay on top to be grabbed.
  svgRoot.append(overlay, arrowLayer, ...parts);
}

function placeShapes() {
  for (const which of ['target', 'pred']) {
    const b = state[which];
    const s = shapes[which];
    const cs = corners(b);
    s.body.setAttribute('points', pointsAttr(cs));
    s.centre.setAttribute('cx', b[0]);
    s.centre.setAttribute('cy', b[1]);
    cs.forEach(([x, y], k) => {
      s.corners[k].setAttribute('cx', x);
      s.corners[k].setAttribute('cy', y);
    });
    const [kx, ky] = knobAt(b);
    const [mx, my] = edgeMid(b);
    s.knob.setAttribute('cx', kx);
    s.knob.setAttribute('cy', ky);
    Object.entries({ x1: mx, y1: my, x2: kx, y2: ky }).forEach(([k, v]) => s.stick.setAttribute(k, v));
  }
}

// ------------------------------------------------------------ the picture's overlay

// The first loss whose catalog entry lists the term, and that term's value in its reply.
function termValue(term) {
  const source = LOSSES.find((l) => l.terms.includes(term));
  return source ? state.replies[source.name].terms[term][0] : undefined;
}

// The intersection polygon and the hull, with the areas riou's and rgiou's
// terms give; the chosen loss's gradient as arrows at the predicted box.
function renderOverlay() {
  underlay.replaceChildren();
  overlay.replaceChildren();
  arrowLayer.replaceChildren();
  if (!state.replies) return;
  const size = labelSize(svgRoot);
  const [P, Q] = [corners(state.shown.pred), corners(state.shown.target)];
  const H = hull([...P, ...Q]);
  underlay.append(svg('polygon', { class: 'hull', points: pointsAttr(H) }));
  const I = clip(P, Q);
  const inter = termValue('intersection');
  if (I.length >= 3 && inter !== 0) overlay.append(svg('polygon', { class: 'intersection', points: pointsAttr(I) }));
  // The areas, in the picture's top left corner, out of the way of the shapes they name.
  const union = termValue('union');
  const area = termValue('hull_area');
  const lines = [
    ['label-i', [inter !== undefined ? `|P∩Q| ${rounded(inter)}` : null, union !== undefined ? `|P∪Q| ${rounded(union)}` : null]],
    ['label-hull', [area !== undefined ? `hull ${rounded(area)}` : null]],
  ].filter(([, parts]) => parts.some(Boolean));
  lines.forEach(([cls, parts], k) => addLabel(overlay, cls, 0.1, (1.1 + 1.2 * k) * size, parts.filter(Boolean).join(', '), size));
  const reply = state.replies[state.arrows];
  const g = reply.grad[0];
  const [cx, cy, w, h, r] = state.shown.pred;
  // What the arrows cannot show, said below the box (within the picture).
  const note = (text) => addLabel(arrowLayer, 'label-grad', Math.max(0.1, cx - w / 2),
    Math.min(cy + h / 2 + 1.2 * size, extent(svgRoot).height - 0.3 * size), `${displayName(state.arrows)}: ${text}`, size);
  if (g.every((v) => v === 0)) {
    note('zero gradient');
    return;
  }
  arrow(arrowLayer, cx, cy, g[0], g[1], ARROW);
  // −∂loss/∂r turns the box; a growing r turns it clockwise on the screen (y down), as the angle of the arc does.
  // It is drawn from the turning handle, along the circle the handle turns on.
  const sweep = Math.max(-TURN_MAX, Math.min(TURN_MAX, -g[4] * TURN_SCALE));
  const radius = h / 2 + KNOB_OFF;
  const from = r - Math.PI / 2 + Math.sign(sweep) * ((KNOB_R + 0.04) / radius);
  turnArrow(arrowLayer, cx, cy, radius, from, sweep, ARROW.head);
  if (g[4] === 0) note('∂/∂r = 0, no turn');
}

// ------------------------------------------------------------ the numbers

function renderNumbers() {
  const table = $('obox-table');
  const column = [...table.tHead.rows[0].cells].map((c) => c.textContent);
  const body = table.tBodies[0];
  body.replaceChildren();
  // A loss that scores two different boxes as it scores the target itself cannot tell them apart.
  const different = state.shown.pred.some((v, k) => v !== state.shown.target[k]);
  for (const { name } of LOSSES) {
    const r = state.replies[name];
    const floor = state.floors[name];
    const terms = Object.entries(r.terms || {}).map(([k, v]) => `${TERMS[k] || k} = ${num(v[0])}`).join(', ');
    const blind = different && r.loss === floor;
    body.append(el('tr', { 'data-loss': name, 'data-blind': String(blind) },
      el('th', { scope: 'row', text: displayName(name) }),
      el('td', { class: 'v-loss', 'data-label': column[1], text: num(r.loss) }),
      el('td', { class: 'floor', 'data-label': column[2] }, el('span', { class: 'v-floor', text: num(floor) }),
        blind ? el('span', { class: 'blind', text: 'the same: it cannot tell the boxes apart' }) : null),
      el('td', { class: 'terms', 'data-label': column[3], text: terms }),
      el('td', { class: 'grads', 'data-label': column[4] }, ...r.grad[0].map((v, k) =>
        el('span', { class: 'grad-item' }, el('span', { class: 'coord', text: `${COORDS[k]}: ` }),
          el('span', { class: 'v-grad', 'data-index': k, text: num(v) }))))));
  }
  // What the numbers are for: the browser test reads it to ask lossd itself.
  table.dataset.boxes = JSON.stringify([state.shown.pred, state.shown.target]);
}

// A field's number is sent as it is, every digit (drags and keys round).
function buildInputs() {
  boxFields($('obox-inputs'), { prefix: 'o-', coords: COORDS, rowClass: 'box-row five', current: (w) => state[w],
    set: (which, box) => setBox(which, box, true), step: (k) => (k === 4 ? 'any' : '0.1'),
    unit: (k) => (k === 4 ? ' (radians)' : '') });
}

// One radio button per oriented loss: the loss whose gradient the arrows show.
function buildArrowChoice() {
  state.arrows = lossChoice($('oarrow-choice'), 'oarrows', LOSSES.map((l) => l.name), state.arrows, (n) => {
    state.arrows = n;
    renderOverlay();
  });
}

// ------------------------------------------------------------ descent

let lossChart = null;

// Loss i's trajectory: the target, the start and the final box, with a tick
// from each centre to its −v edge (where it turned), and the centre's path.
function miniPicture(name, i, path, target) {
  const [start, last] = [path[0], path[path.length - 1]];
  const box = (cls, b) => svg('polygon', { class: cls, points: pointsAttr(corners(b)) });
  const tick = (b, cls) => {
    const [mx, my] = edgeMid(b);
    return svg('line', { class: `tick ${cls}`, x1: b[0], y1: b[1], x2: mx, y2: my });
  };
  const valid = last[2] >= 0 && last[3] >= 0;
  return trajectoryPicture({ viewBox: svgRoot.getAttribute('viewBox'), name, i, path, centre: (b) => [b[0], b[1]], dot: 0.09 },
    box('box target', target), box('start', start), tick(start, 'start'),
    valid ? box('final', last) : null, valid ? tick(last, 'final') : null);
}

async function runDescent(steps, ruleName, setting) {
  const names = await orientedLosses();
  const start = state.pred.slice();
  const target = state.target.slice();
  const result = await descend({
    names, start, target, steps, setting, rule: RULES[ruleName], maxMove: MAX_MOVE,
    job: (n, box, grad) => lossJob(n, box, target, grad, false),
  });
  const boxText = (last) => `the box moved to (cx, cy, w, h, r) = (${last.map((v) => v.toFixed(3)).join(', ')})` +
    (last[4] === start[4] ? ', and did not turn (r is the same double)' : '');
  lossChart = showDescent({ host: $('otrajectories'), chart: lossChart, canvas: $('odescend-chart'), names, result, start,
    picture: (n, i, path) => miniPicture(n, i, path, target), boxText });
}

const PRESETS = {
  // A square's Gaussian is a circle: turning it changes no Gaussian loss.
  'preset-quarter': { target: [3, 2, 1, 1, 0], pred: [3, 2, 1, 1, Math.PI / 4] },
  'preset-eighth': { target: [3, 2, 1, 1, 0], pred: [3, 2, 1, 1, Math.PI / 8] },
  'preset-start': START,
};

export async function initOriented() {
  buildShapes();
  buildInputs();
  placeShapes();
  wireDescentForm('odescend', runDescent);
  for (const [id, boxes] of Object.entries(PRESETS)) {
    $(id).addEventListener('click', () => {
      setBox('target', boxes.target, true);
      setBox('pred', boxes.pred, true);
    });
  }
  // The labels follow the picture's size (readable on a small screen).
  new ResizeObserver(() => renderOverlay()).observe(svgRoot);
  await refresh();
}
