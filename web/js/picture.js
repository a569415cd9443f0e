// SPDX-License-Identifier: MIT
// picture.js - what the Boxes and Oriented boxes views draw alike in their
// SVG pictures: a pointer's position in picture units, the grid, text
// labels that stay readable on a phone, gradient arrows (straight, and
// turning about a point), and the one rounding rule of the labels. Only
// drawing: every number a label shows is a reply's, passed in.
import { svg } from './ui.js';

const LABEL_UNITS_OF_WIDTH = 0.38 / 16; // a label's size on a wide screen, as a share of the picture's width
const LABEL_PX = 12; // and never under this many CSS pixels (a phone's screen)

// The pointer event's position in the picture's own units.
function toWorld(svgRoot, ev) {
  const pt = svgRoot.createSVGPoint();
  pt.x = ev.clientX;
  pt.y = ev.clientY;
  const p = pt.matrixTransform(svgRoot.getScreenCTM().inverse());
  return { x: p.x, y: p.y };
}

// A drag that starts with the pointer event ev (primary button only) on its
// element, which captures the pointer: move(p, p0) with the pointer's
// position and where it started, in picture units, until it is released.
// Returns at once, ignoring ev, for another button.
export function drag(svgRoot, ev, move) {
  if (ev.button !== 0) return;
  ev.preventDefault();
  const node = ev.currentTarget;
  node.setPointerCapture(ev.pointerId);
  const p0 = toWorld(svgRoot, ev);
  const onMove = (e) => move(toWorld(svgRoot, e), p0);
  const up = () => {
    node.removeEventListener('pointermove', onMove);
    node.removeEventListener('pointerup', up);
    node.removeEventListener('pointercancel', up);
  };
  node.addEventListener('pointermove', onMove);
  node.addEventListener('pointerup', up);
  node.addEventListener('pointercancel', up);
}

// The picture's width and height in its units (its viewBox).
export function extent(svgRoot) {
  const v = svgRoot.viewBox.baseVal;
  return { width: v.width, height: v.height };
}

// A light grid, one line per picture unit.
export function grid(svgRoot) {
  const { width, height } = extent(svgRoot);
  const g = svg('g', { class: 'grid' });
  for (let x = 1; x < width; x++) g.append(svg('line', { x1: x, y1: 0, x2: x, y2: height }));
  for (let y = 1; y < height; y++) g.append(svg('line', { x1: 0, y1: y, x2: width, y2: y }));
  return g;
}

// A label's number: one rule for all, to hundredths, with "=" when that is
// the reply's double and "≈" when it is rounded (the table has every digit).
export function rounded(v) {
  if (v === null) return '= null';
  const text = v.toFixed(2);
  return `${Number(text) === v ? '=' : '≈'} ${text}`;
}

// The labels' font size in picture units: a fixed share of the picture's
// width, or LABEL_PX CSS pixels where the picture is drawn so small that
// that is larger.
export function labelSize(svgRoot) {
  const { width } = extent(svgRoot);
  const perUnit = svgRoot.getBoundingClientRect().width / width;
  const units = LABEL_UNITS_OF_WIDTH * width;
  return perUnit > 0 ? Math.max(units, LABEL_PX / perUnit) : units;
}

// A text label at (x, y), moved left if it would run off the picture.
export function addLabel(layer, cls, x, y, text, size) {
  const node = svg('text', { class: `label ${cls}`, x, y, 'font-size': size, text });
  layer.append(node);
  const { width } = extent(layer.ownerSVGElement);
  const right = node.getBBox().x + node.getBBox().width;
  if (right > width - 0.1) node.setAttribute('x', Math.max(0.1, x - (right - (width - 0.1))));
  return node;
}

// The arrowhead at (tx, ty) pointing along the unit vector (ux, uy), `head` long.
function arrowHead(tx, ty, ux, uy, head) {
  const [bx, by] = [tx - ux * head, ty - uy * head];
  const [nx, ny] = [-uy * head * 0.45, ux * head * 0.45];
  return svg('polygon', { class: 'arrow-head', points: `${tx},${ty} ${bx + nx},${by + ny} ${bx - nx},${by - ny}` });
}

// The descent direction -(gx, gy) at (x, y), drawn from `gap` away from the
// point (so that a handle there stays visible): `scale` picture units per
// unit of gradient, at most `max` long; the head is at most `head`, and a
// third of a short arrow, which is then still mostly shaft.
export function arrow(layer, x, y, gx, gy, { scale, max, head: headMax, gap }) {
  let len = Math.hypot(gx, gy) * scale;
  if (!(len > 1e-9)) return;
  const [ux, uy] = [-gx * scale / len, -gy * scale / len];
  len = Math.min(len, max);
  const head = Math.min(headMax, len / 3);
  const [x0, y0] = [x + ux * gap, y + uy * gap];
  const [tx, ty] = [x0 + ux * len, y0 + uy * len];
  layer.append(svg('g', { class: 'arrow', 'data-shaft': len - head, 'data-head': head },
    svg('line', { class: 'arrow-shaft', x1: x0, y1: y0, x2: tx - ux * head, y2: ty - uy * head }),
    arrowHead(tx, ty, ux, uy, head)));
}

// A turning arrow: an arc about (cx, cy) of the given radius, from the
// angle `from` (radians, as the picture's axes measure it: with y down, a
// growing angle turns clockwise on the screen) through `sweep` radians,
// with its head at the end. `sweep` is the arrow's length as an angle; the
// caller scales and bounds it.
export function turnArrow(layer, cx, cy, radius, from, sweep, headMax) {
  const arcLen = Math.abs(sweep) * radius;
  if (!(arcLen > 1e-9)) return;
  const sign = Math.sign(sweep);
  const head = Math.min(headMax, arcLen / 3);
  const at = (a) => [cx + radius * Math.cos(a), cy + radius * Math.sin(a)];
  const end = from + sweep;
  const shaftEnd = end - sign * (head / radius);
  const [x0, y0] = at(from);
  const [x1, y1] = at(shaftEnd);
  const [tx, ty] = at(end);
  const large = Math.abs(shaftEnd - from) > Math.PI ? 1 : 0;
  // the tangent at the tip, in the direction of the turn
  const [ux, uy] = [-Math.sin(end) * sign, Math.cos(end) * sign];
  layer.append(svg('g', { class: 'arrow turn', 'data-sweep': sweep },
    svg('path', { class: 'arrow-shaft', d: `M ${x0} ${y0} A ${radius} ${radius} 0 ${large} ${sign > 0 ? 1 : 0} ${x1} ${y1}` }),
    arrowHead(tx, ty, ux, uy, head)));
}
