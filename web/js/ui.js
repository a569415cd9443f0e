// SPDX-License-Identifier: MIT
// ui.js - small DOM helpers shared by the views. Numbers are shown exactly
// as lossd sent them: JavaScript's shortest round-trip form of the double
// parsed from the reply, the same digits lossd printed.

export function $(id) {
  return document.getElementById(id);
}

// el('tag', {attr: value, ...}, child, ...); text children are text nodes.
export function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'text') node.textContent = v;
    else if (k === 'class') node.className = v;
    else node.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children) if (c !== null && c !== undefined) node.append(c);
  return node;
}

const SVG = 'http://www.w3.org/2000/svg';
export function svg(tag, attrs, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null) continue;
    if (k === 'text') node.textContent = v;
    else node.setAttribute(k, v);
  }
  for (const c of children) if (c) node.append(c);
  return node;
}

// A loss's name for people: 'giou' -> 'GIoU', 'nwd' -> 'NWD', 'probiou' -> 'ProbIoU'.
const NAMES = { probiou: 'ProbIoU' };
export const displayName = (n) => NAMES[n] || (n.endsWith('iou') ? `${n.slice(0, -3).toUpperCase()}IoU` : n.toUpperCase());

// One radio button per loss into host (the radio group `group`), to choose
// the loss whose gradient a picture's arrows show: onChange(name) when one is
// chosen. Returns the one checked: `chosen`, or the first if it is not listed.
export function lossChoice(host, group, names, chosen, onChange) {
  const checked = names.includes(chosen) ? chosen : names[0];
  host.replaceChildren();
  for (const n of names) {
    const input = el('input', { type: 'radio', name: group, value: n, checked: n === checked });
    input.addEventListener('change', () => onChange(n));
    host.append(el('label', {}, input, ` ${displayName(n)}`));
  }
  return checked;
}

// The number fields of the predicted and target boxes, a row each into host:
// one field per coordinate, id `${prefix}${which}-${coord}` (which: pred or
// target), labelled with its unit(k) if it has one; a change calls
// set(which, box) with current(which) changed there. A box lossd would
// refuse (inverted, negative) is still sent: the reply's error is shown.
export function boxFields(host, { prefix, coords, rowClass, current, set, step = () => '0.1', unit = () => '' }) {
  for (const which of ['pred', 'target']) {
    const name = which === 'pred' ? 'predicted' : 'target';
    const row = el('div', { class: rowClass }, el('span', { class: `${which}-text`, text: name }));
    coords.forEach((c, k) => {
      const input = el('input', { id: `${prefix}${which}-${c}`, type: 'number', step: step(k),
        'aria-label': `${name} ${c}${unit(k)}`, value: String(current(which)[k]) });
      input.addEventListener('change', () => {
        const v = Number(input.value);
        if (!Number.isFinite(v)) return;
        const b = current(which).slice();
        b[k] = v;
        set(which, b);
      });
      row.append(input);
    });
    host.append(row);
  }
}

// A reply's number as text: every digit lossd sent; null is a non-finite result.
export function num(v) {
  if (v === null || v === undefined) return 'null (non-finite)';
  return String(v);
}

let statusTimer = null;
export function status(text, isError) {
  const s = $('status');
  s.textContent = text;
  s.classList.toggle('error', Boolean(isError));
  clearTimeout(statusTimer);
  if (text && !isError) statusTimer = setTimeout(() => { s.textContent = ''; }, 4000);
}

export function showError(e) {
  status(e && e.message ? e.message : String(e), true);
}

// Runs fn at most once at a time; calls made meanwhile collapse into one more run.
export function serial(fn) {
  let running = false;
  let again = false;
  const run = async () => {
    if (running) {
      again = true;
      return;
    }
    running = true;
    try {
      do {
        again = false;
        await fn();
      } while (again);
    } catch (e) {
      showError(e);
    } finally {
      running = false;
    }
  };
  return run;
}

// The chart colours, one per series, readable on white (3:1 or more, as
// WCAG asks of graphics). The first two are also the Boxes view's target and
// predicted boxes (--target and --pred in playground.css).
export const COLORS = ['#1d4ed8', '#c2410c', '#047857', '#7c3aed', '#b91c1c', '#0e7490', '#a16207', '#4b5563',
  '#be185d', '#4d7c0f'];

// Series i's colour: the palette's, then hues a golden angle apart, dark
// enough for white, so that any number of series stay distinct.
export function color(i) {
  if (i < COLORS.length) return COLORS[i];
  return `hsl(${Math.round((i * 137.508) % 360)}, 80%, 30%)`;
}

// A Chart.js line chart of {x, y} series; returns the chart.
export function lineChart(canvas, xTitle, yTitle) {
  return new window.Chart(canvas, {
    type: 'line',
    data: { datasets: [] },
    options: {
      animation: false,
      maintainAspectRatio: false,
      parsing: false,
      normalized: true,
      interaction: { mode: 'nearest', intersect: false },
      elements: { point: { radius: 0 }, line: { borderWidth: 2, tension: 0 } },
      scales: {
        x: { type: 'linear', title: { display: true, text: xTitle } },
        y: { type: 'linear', title: { display: true, text: yTitle } },
      },
      plugins: { legend: { position: 'bottom' } },
    },
  });
}

export function series(label, points, i, dashed) {
  return {
    label,
    data: points,
    borderColor: color(i),
    backgroundColor: color(i),
    borderDash: dashed ? [6, 4] : undefined,
    spanGaps: false,
  };
}
