// SPDX-License-Identifier: MIT
// descent.js - gradient descent with each loss from the same start, as the
// Boxes and Oriented boxes views run it: one POST /v1/batch per step with a
// job per loss, each from its own current box, and the step rules (Polyak's,
// or a fixed rate). The only arithmetic is the step itself, box ← box − s ·
// grad, on a reply's loss and gradient. Also the form that starts it and
// what it shows afterwards (a small picture per loss, its caption, and the
// loss per step in a chart), with the view's own drawing of a box.
import { batch, ok } from './api.js';
import { $, el, svg, num, status, lineChart, series, color, displayName } from './ui.js';

// A loss's colour, in the pictures and the chart alike: by its place in the
// catalog, after the palette's first BOX_COLORS, which the target and
// predicted boxes wear.
const BOX_COLORS = 2;
const lossColor = (i) => color(i + BOX_COLORS);

// The step size s of box ← box − s·grad, from a loss's reply at its current
// box, that loss's minimum, the form's setting and the longest move a view
// allows (the norm of the change of a box's numbers, in picture units):
//   polyak: s = γ·(loss − loss*)/‖grad‖², loss* the loss at the target box
//     itself (B. T. Polyak, "Minimization of unsmooth functionals", 1969). A
//     loss scaled by k gives the same step, so one γ serves every loss
//     (NWD's gradient at the Boxes view's default boxes is a third as long
//     as GIoU's), and the step shrinks as the loss nears its minimum, where
//     a fixed rate zig-zags across the IoU losses' kinks (their gradient
//     does not vanish there). Polyak's step is long where a loss is nearly
//     flat far from its minimum (GIoU with the boxes apart): the longest
//     move keeps such a step from leaping past the target.
//   fixed: s = the learning rate.
export const RULES = {
  polyak: {
    input: 'gamma',
    floor: true,
    step(reply, floor, gamma, maxMove) {
      const g2 = reply.grad[0].reduce((a, v) => a + v * v, 0);
      if (!(g2 > 0)) return 0;
      return Math.min((gamma * Math.max(reply.loss - floor, 0)) / g2, maxMove / Math.sqrt(g2));
    },
  },
  fixed: { input: 'lr', floor: false, step: (reply, floor, rate) => rate },
};

// Descends from `start` towards `target` with each loss of `names`, `steps`
// steps; job(name, box, grad) is the batch job that scores `box` against the
// target. Returns, per loss, the boxes visited (paths), the loss at each
// step ([{x: step, y: loss}]), whether every gradient it had was zero
// (flat), and why it stopped early, if it did (a reply that is an error: the
// box became one lossd refuses).
export async function descend({ names, job, start, target, steps, rule, setting, maxMove }) {
  const floors = {};
  if (rule.floor) {
    const jobs = names.map((n) => job(n, target, false));
    const results = await batch(jobs);
    names.forEach((n, i) => {
      floors[n] = ok(results[i], jobs[i].path).loss;
    });
  }
  const boxes = {};
  const paths = {};
  const losses = {};
  const stopped = {};
  const flat = {};
  for (const n of names) {
    flat[n] = true;
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
      const s = rule.step(r.body, floors[n], setting, maxMove);
      const g = r.body.grad[0];
      if (g.some((v) => v !== 0)) flat[n] = false;
      boxes[n] = boxes[n].map((v, k) => v - s * g[k]);
      paths[n].push(boxes[n]);
    });
    if (step % 20 === 0) status(`descending: step ${step} of ${steps}`);
  }
  return { paths, losses, stopped, flat };
}

// Loss i's picture: the boxes the view drew (target, start, end), over which
// the path of the box's centre (centre(box) is [x, y]) in the loss's colour,
// with a dot where it ended.
export function trajectoryPicture({ viewBox, name, i, path, centre, dot }, ...boxes) {
  const root = svg('svg', { viewBox, role: 'img', 'aria-label': `${displayName(name)} trajectory of the predicted box` }, ...boxes);
  const [cx, cy] = centre(path[path.length - 1]);
  root.append(
    svg('polyline', { class: 'traj', stroke: lossColor(i), points: path.map((b) => centre(b).join(',')).join(' ') }),
    svg('circle', { class: 'traj-end', fill: lossColor(i), cx, cy, r: dot }));
  return root;
}

// A swatch of loss i's colour for its caption, as the chart's legend shows it.
const swatch = (i) => svg('svg', { class: 'traj-key', viewBox: '0 0 4 2', 'aria-hidden': 'true' },
  svg('line', { x1: 0, y1: 1, x2: 4, y2: 1, stroke: lossColor(i) }));

// Why a box did not move: its gradient, or Polyak's step at the loss's minimum.
const still = (flat) => (flat ? 'the box did not move (zero gradient)'
  : 'the box did not move: its loss is the loss at the target itself, where Polyak\'s step is zero');

// One figure per loss into `host`: picture(name, i, path) draws its
// trajectory, boxText(box) says where it ended; then the chart of the loss
// per step (created on first use, returned).
export function showDescent({ host, chart, canvas, names, result, start, picture, boxText }) {
  host.replaceChildren();
  names.forEach((n, i) => {
    const path = result.paths[n];
    const steps = result.losses[n];
    const first = steps[0];
    const final = steps[steps.length - 1];
    const last = path[path.length - 1];
    const moved = last.some((v, k) => v !== start[k]);
    const stopped = result.stopped[n];
    const fig = el('figure', { 'data-loss': n, 'data-start': JSON.stringify(start), 'data-final': JSON.stringify(last),
      'data-moved': String(moved), 'data-losses': JSON.stringify(steps.map((p) => p.y)) },
    picture(n, i, path),
    el('figcaption', {}, swatch(i),
      el('span', { class: 'name', text: displayName(n) }),
      `: loss ${first ? num(first.y) : '-'} → ${final ? num(final.y) : '-'}; `,
      moved ? boxText(last) : still(result.flat[n]),
      stopped ? el('span', { class: 'hint', text: ` (${stopped})` }) : null));
    host.append(fig);
  });
  const c = chart || lineChart(canvas, 'step', 'loss');
  c.data.datasets = names.map((n, i) => series(displayName(n), result.losses[n], i + BOX_COLORS));
  c.update();
  return c;
}

// The descent form `${prefix}-form`: its steps, step rule and the rule's
// setting (`${prefix}-gamma`, `${prefix}-lr`; only the chosen rule's can be
// edited), and its button `${prefix}`, disabled while run(steps, ruleName,
// setting) descends.
export function wireDescentForm(prefix, run) {
  const rule = $(`${prefix}-rule`);
  $(`${prefix}-form`).addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const steps = Math.max(1, Math.min(500, Math.floor(Number($(`${prefix}-steps`).value) || 1)));
    const setting = Number($(`${prefix}-${RULES[rule.value].input}`).value);
    const button = $(prefix);
    button.disabled = true;
    try {
      await run(steps, rule.value, setting);
      status(`descended ${steps} steps (${rule.value === 'polyak' ? `Polyak's step, γ = ${setting}` : `learning rate ${setting}`})`);
    } catch (e) {
      status(e.message, true);
    } finally {
      button.disabled = false;
    }
  });
  const enable = () => {
    for (const [name, r] of Object.entries(RULES)) $(`${prefix}-${r.input}`).disabled = name !== rule.value;
  };
  rule.addEventListener('change', enable);
  enable();
}
