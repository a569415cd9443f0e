// SPDX-License-Identifier: MIT
// playground.mjs - the playground in a real browser: Debian's chromium,
// headless, driven by puppeteer-core, against a real ./lossd on a free
// port. Run by tests/browser/run (which installs the npm packages into a
// cache folder outside the tree); node's own test runner reports.
//
//   node playground.mjs --lossd PATH [--screenshots DIR]
//
// What a person would do, checked against lossd's own answers: load the
// page (no request to another origin, no console error, so no CSP
// violation either), drag the predicted box with the mouse and compare
// every number shown with what the API returns for those coordinates, to
// the last digit; descend from two disjoint boxes (IoU's box stays put,
// GIoU's moves), and from the default boxes (every box loss of the catalog
// drawn in its own colour, each converging, step by step as lossd's numbers
// give it); a short gradient arrow leaves its corner handle visible; the
// picture's labels follow one rounding rule and stay readable on a phone;
// Curves says which curves coincide; Distributions does not claim an exact
// identity of doubles; switch every view, by its tab and by the URL's hash;
// the explorer's /v2 request gives the doubles of its /v1 reply; axe-core
// finds no serious or critical accessibility violation; the same at a
// phone's size, every column of the box table on the screen; the key field
// works against a lossd with --api-key-file.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import puppeteer from 'puppeteer-core';

const require = createRequire(import.meta.url);
const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

const args = process.argv.slice(2);
const opt = (name) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const LOSSD = opt('--lossd');
const SHOTS = opt('--screenshots');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const WAIT = { timeout: 20000 };

// ------------------------------------------------------------ lossd and chromium

function startLossd(extra = []) {
  return new Promise((resolve, reject) => {
    const proc = spawn(LOSSD, ['--listen', '127.0.0.1:0', '--log-format', 'off', ...extra],
      { stdio: ['ignore', 'ignore', 'pipe'] });
    let text = '';
    proc.stderr.on('data', (chunk) => {
      text += chunk;
      const m = text.match(/listening on 127\.0\.0\.1:(\d+)/);
      if (m) resolve({ proc, base: `http://127.0.0.1:${m[1]}` });
    });
    proc.on('exit', (code) => reject(new Error(`lossd exited (${code}): ${text}`)));
  });
}

async function api(base, path, body, key) {
  const headers = { 'Content-Type': 'application/json' };
  if (key) headers.Authorization = `Bearer ${key}`;
  const resp = await fetch(base + path, { method: 'POST', headers, body: JSON.stringify(body) });
  assert.equal(resp.status, 200, `${path}: ${await resp.clone().text()}`);
  return resp.json();
}

let lossd;
let browser;
const profile = mkdtempSync(join(tmpdir(), 'lossd-chromium-'));

before(async () => {
  lossd = await startLossd();
  browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    userDataDir: profile,
    args: ['--no-sandbox', '--headless', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-dev-shm-usage'],
  });
});

after(async () => {
  if (browser) await browser.close();
  if (lossd) lossd.proc.kill('SIGTERM');
  rmSync(profile, { recursive: true, force: true });
});

// A page with every request and console error recorded.
async function open(base, viewport, hash = '') {
  const page = await browser.newPage();
  await page.setViewport(viewport);
  const seen = { requests: [], responses: [], errors: [], wire: 0 };
  page.on('request', (r) => seen.requests.push(r.url()));
  page.on('response', (r) => seen.responses.push(r));
  // The bytes each response took on the wire, headers included (what a first load costs).
  const cdp = await page.createCDPSession();
  await cdp.send('Network.enable');
  cdp.on('Network.loadingFinished', (e) => { seen.wire += e.encodedDataLength; });
  page.on('console', (m) => {
    if (m.type() === 'error') seen.errors.push(m.text());
  });
  page.on('pageerror', (e) => seen.errors.push(String(e)));
  page.on('requestfailed', (r) => seen.errors.push(`request failed: ${r.url()}`));
  await page.goto(`${base}/${hash}`, { waitUntil: 'networkidle0' });
  return { page, seen };
}

const DESKTOP = { width: 1280, height: 900 };
const PHONE = { width: 390, height: 844, isMobile: true, hasTouch: true, deviceScaleFactor: 2 };

function onlySameOrigin(seen, base) {
  const foreign = seen.requests.filter((u) => new URL(u).origin !== base);
  assert.deepEqual(foreign, [], 'requests to another origin');
}

// The boxes the table shows numbers for, once they are the ones in the inputs.
async function settledBoxes(page) {
  await page.waitForFunction(() => {
    const t = document.getElementById('box-table').dataset.boxes;
    if (!t) return false;
    const read = (w) => ['x1', 'y1', 'x2', 'y2'].map((c) => Number(document.getElementById(`${w}-${c}`).value));
    return t === JSON.stringify([read('pred'), read('target')]);
  }, WAIT);
  return JSON.parse(await page.$eval('#box-table', (t) => t.dataset.boxes));
}

// The catalog's functions (GET /v1/functions), in registry order.
async function catalogOf(base) {
  return (await fetch(`${base}/v1/functions`).then((r) => r.json())).functions;
}

// The rule of a function's operand k ('none' where it has none): structure, never the prose.
const ruleOf = (f, k) => (f.operand_specs[k] ? f.operand_specs[k].rule : 'none');

// The box losses the catalog lists, in its order: the losses whose input's rule is boxes.
async function boxLossEntries(base) {
  return (await catalogOf(base)).filter((f) => f.kind === 'loss' && ruleOf(f, 0) === 'boxes');
}

async function boxLosses(base) {
  return (await boxLossEntries(base)).map((f) => f.name);
}

// Every number in the Boxes table equals lossd's reply for those boxes, as text.
async function checkBoxNumbers(page, base, pred, target) {
  const shown = await page.$$eval('#box-table tbody tr', (rows) => rows.map((r) => ({
    loss: r.dataset.loss,
    value: r.querySelector('.v-loss').textContent,
    terms: r.querySelector('.terms').textContent,
    grad: [...r.querySelectorAll('.v-grad')].map((g) => g.textContent),
  })));
  // every box loss of the catalog, the new ones included, with no list in the page or here
  const names = await boxLosses(base);
  assert.ok(names.length > 0, 'the catalog has box losses');
  assert.deepEqual(shown.map((r) => r.loss), names);
  const LABEL = {
    iou: 'IoU', enclosing_area: '|C|', rho2: 'ρ²', c2: 'c²', v: 'v', aspect_weight: 'β',
    angle_cost: 'Λ', distance_cost: 'Δ', shape_cost: 'Ω', width_term: 'Δw²/(cw²+ε)', height_term: 'Δh²/(ch²+ε)', w2: 'W²',
  };
  // a renamed term's deprecated name is in the reply, not in the table
  const deprecated = Object.fromEntries((await boxLossEntries(base)).map((f) =>
    [f.name, f.term_specs.filter((t) => t.deprecated).map((t) => t.name)]));
  for (const row of shown) {
    const reply = await api(base, `/v1/loss/${row.loss}`, { input: [pred], target: [target], grad: true, terms: true });
    assert.equal(row.value, String(reply.loss), `${row.loss} loss`);
    assert.deepEqual(row.grad, reply.grad[0].map(String), `${row.loss} gradient`);
    const terms = Object.entries(reply.terms).filter(([k]) => !deprecated[row.loss].includes(k))
      .map(([k, v]) => `${LABEL[k] || k} = ${String(v[0])}`).join(', ');
    assert.equal(row.terms, terms, `${row.loss} terms`);
  }
  return shown;
}

// The picture's labels: each number is the reply's (|C| GIoU's, c² and ρ² DIoU's)
// to hundredths, after "=" when that is the double itself and "≈" when rounded.
async function checkLabels(page, base, pred, target) {
  const texts = await page.$$eval('#box-svg text.label', (ts) => ts.map((t) => t.textContent));
  const body = { input: [pred], target: [target], terms: true };
  const giou = (await api(base, '/v1/loss/giou', body)).terms;
  const diou = (await api(base, '/v1/loss/diou', body)).terms;
  const expect = (name, v) => `${name} ${Number(v.toFixed(2)) === v ? '=' : '≈'} ${v.toFixed(2)}`;
  assert.deepEqual(texts, [
    `C: ${expect('|C|', giou.enclosing_area[0])}, ${expect('c²', diou.c2[0])}`,
    expect('ρ²', diou.rho2[0]),
  ]);
  return texts;
}

// A CSS colour as #rrggbb ("none" stays "none"), as the page's canvas reads it.
function normColor() {
  const ctx = document.createElement('canvas').getContext('2d');
  return (c) => {
    if (!c || c === 'none') return 'none';
    ctx.fillStyle = '#000';
    ctx.fillStyle = c;
    return ctx.fillStyle;
  };
}

// WCAG's contrast ratio of #rrggbb against white.
function contrastOnWhite(hex) {
  const lin = (c) => (c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4);
  const [r, g, b] = [1, 3, 5].map((i) => lin(parseInt(hex.slice(i, i + 2), 16) / 255));
  return 1.05 / (0.2126 * r + 0.7152 * g + 0.0722 * b + 0.05);
}

// The screen's colours [r, g, b, a] at points (CSS pixels of the viewport): a
// screenshot, decoded by a blank page's canvas (lossd's page keeps its CSP).
async function pixelsAt(page, points, scale = 1) {
  const png = await page.screenshot({ encoding: 'base64' });
  const blank = await browser.newPage();
  try {
    return await blank.evaluate(async (data, pts, dpr) => {
      const img = new Image();
      img.src = `data:image/png;base64,${data}`;
      await img.decode();
      const canvas = document.createElement('canvas');
      canvas.width = img.width;
      canvas.height = img.height;
      const ctx = canvas.getContext('2d');
      ctx.drawImage(img, 0, 0);
      return pts.map(([x, y]) => [...ctx.getImageData(Math.round(x * dpr), Math.round(y * dpr), 1, 1).data]);
    }, png, points, scale);
  } finally {
    await blank.close();
  }
}

// A table's cells (those of the selectors) as a phone shows them: how far the table
// scrolls sideways, and the cells that lie beyond its visible width.
async function tableOnScreen(page, table, selectors) {
  return page.evaluate((id, sel) => {
    const wrap = document.getElementById(id).closest('.table-wrap');
    const w = wrap.getBoundingClientRect();
    const cells = [...document.querySelectorAll(sel.map((c) => `#${id} tbody ${c}`).join(', '))];
    return { scroll: wrap.scrollWidth - wrap.clientWidth, n: cells.length,
      outside: cells.filter((c) => { const r = c.getBoundingClientRect(); return r.left < w.left - 0.5 || r.right > w.right + 0.5 || r.width === 0; })
        .map((c) => `${c.closest('tr').dataset.loss} ${c.className}`) };
  }, table, selectors);
}

// The heights of a picture's labels in CSS pixels, as the screen shows them.
async function labelPixels(page, picture) {
  return page.$$eval(`#${picture} text.label`, (ts) => ts.map((t) => {
    const root = t.ownerSVGElement;
    return parseFloat(getComputedStyle(t).fontSize) * (root.getBoundingClientRect().width / root.viewBox.baseVal.width);
  }));
}

// The view shown: the one panel not hidden, whose tab is the one selected.
async function shownView(page) {
  return page.evaluate(() => {
    const panels = [...document.querySelectorAll('[role="tabpanel"]')].filter((p) => !p.hidden);
    const tabs = [...document.querySelectorAll('[role="tab"][aria-selected="true"]')];
    if (panels.length !== 1 || tabs.length !== 1 || tabs[0].getAttribute('aria-controls') !== panels[0].id) return null;
    return panels[0].id.replace('view-', '');
  });
}

async function drag(page, selector, dx, dy) {
  await page.$eval(selector, (e) => e.scrollIntoView({ block: 'center' }));
  const box = await (await page.$(selector)).boundingBox();
  const x = box.x + box.width / 2;
  const y = box.y + box.height / 2;
  await page.mouse.move(x, y);
  await page.mouse.down();
  for (let i = 1; i <= 10; i++) await page.mouse.move(x + (dx * i) / 10, y + (dy * i) / 10);
  await page.mouse.up();
}

// With all, a violation of any impact fails (the Oriented boxes view has none).
async function axe(page, label, { all = false } = {}) {
  await page.evaluate(AXE); // CDP evaluation: not an inline script, so the CSP still holds
  const violations = await page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.length,
      targets: v.nodes.slice(0, 3).map((n) => n.target.join(' ')) }));
  });
  for (const v of violations) console.log(`# axe ${label}: ${v.impact} ${v.id} (${v.nodes}): ${v.help} ${v.targets.join(' | ')}`);
  const bad = violations.filter((v) => all || v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(bad, [], `${label}: ${all ? '' : 'serious or critical '}accessibility violations`);
}

const VIEWS = ['boxes', 'oriented', 'curves', 'dists', 'api'];

async function showView(page, name) {
  await page.click(`#tab-${name}`);
  await page.waitForFunction((n) => document.body.dataset.view === n || (n === 'boxes' && !document.getElementById('view-boxes').hidden), WAIT, name);
  const hidden = await page.$$eval('[role="tabpanel"]', (ps) => Object.fromEntries(ps.map((p) => [p.id, p.hidden])));
  for (const v of VIEWS) assert.equal(hidden[`view-${v}`], v !== name, `view-${v} hidden`);
  const ready = {
    boxes: () => document.querySelectorAll('#box-table tbody tr').length >= 7,
    oriented: () => document.querySelectorAll('#obox-table tbody tr').length >= 6,
    curves: () => document.querySelectorAll('#curve-stats tbody tr').length > 0,
    dists: () => document.querySelectorAll('#dist-table tbody tr').length === 5,
    api: () => document.querySelector('#fn-formula .katex') !== null,
  }[name];
  await page.waitForFunction(ready, WAIT);
}

// ------------------------------------------------------------ the tests

test('the page loads from lossd alone, without errors', async () => {
  const { page, seen } = await open(lossd.base, DESKTOP);
  await settledBoxes(page);
  onlySameOrigin(seen, lossd.base);
  assert.ok(seen.requests.some((u) => u.endsWith('/vendor/chart.min.js')));
  assert.deepEqual(seen.errors, []);
  // Every file over 1 KiB but a font came gzip'd (compressed when lossd was built), as
  // chromium accepts gzip; the page ran from them.
  let files = 0;
  let packed = 0;
  for (const r of seen.responses.filter((x) => x.request().method() === 'GET')) {
    const size = (await r.buffer()).length;
    const coding = r.headers()['content-encoding'];
    files += size;
    if (size > 1024 && !r.headers()['content-type'].startsWith('font/')) {
      assert.equal(coding, 'gzip', `${r.url()}: ${size} bytes`);
      assert.match(r.headers().vary, /Accept-Encoding/);
      packed++;
    }
  }
  assert.ok(packed >= 10, `${packed} files came gzip'd`);
  console.log(`# first load: ${seen.responses.length} responses, ${seen.wire} bytes on the wire, ${files} bytes of files`);
  await page.close();
});

test('dragging the predicted box: every number equals the API reply for those coordinates', async () => {
  const { page, seen } = await open(lossd.base, DESKTOP);
  const [pred0, target] = await settledBoxes(page);
  await drag(page, 'rect.box.pred', 70, 35);
  const [pred, target1] = await settledBoxes(page);
  assert.deepEqual(target1, target);
  assert.ok(pred[0] > pred0[0] && pred[1] > pred0[1], `moved from ${pred0} to ${pred}`);
  assert.ok(Math.abs(pred[2] - pred[0] - (pred0[2] - pred0[0])) < 0.011, 'a move keeps the size');
  await checkBoxNumbers(page, lossd.base, pred, target);
  // Dragged to hundredths, the picture's values are rounded: "≈".
  assert.ok((await checkLabels(page, lossd.base, pred, target)).join().includes('≈'));

  // A corner handle resizes: x1, y1 stay.
  await drag(page, 'circle.handle.pred.se', 40, 25);
  const [resized] = await settledBoxes(page);
  assert.deepEqual(resized.slice(0, 2), pred.slice(0, 2));
  assert.ok(resized[2] > pred[2] && resized[3] > pred[3], `resized ${pred} to ${resized}`);
  await checkBoxNumbers(page, lossd.base, resized, target);

  // The keyboard moves a focused box by 0.1.
  await page.$eval('rect.box.pred', (e) => e.focus());
  await page.keyboard.press('ArrowLeft');
  const [keyed] = await settledBoxes(page);
  assert.equal(keyed[0], Math.round((resized[0] - 0.1) * 100) / 100);
  await checkBoxNumbers(page, lossd.base, keyed, target);
  onlySameOrigin(seen, lossd.base);
  assert.deepEqual(seen.errors, []);
  await page.close();
});

test('descend from disjoint boxes: IoU stays put, GIoU, DIoU and CIoU move', async () => {
  const { page, seen } = await open(lossd.base, DESKTOP);
  await settledBoxes(page);
  await page.click('#disjoint');
  const [pred, target] = await settledBoxes(page);
  const shown = await checkBoxNumbers(page, lossd.base, pred, target);
  assert.equal(shown[0].value, '1', 'disjoint boxes: IoU loss 1');
  assert.deepEqual(shown[0].grad, ['0', '0', '0', '0'], 'IoU: no gradient');
  await page.$eval('#descend-steps', (i) => { i.value = '30'; });
  await page.click('#descend');
  await page.waitForSelector('#trajectories figure[data-loss="ciou"]', WAIT);
  const figs = await page.$$eval('#trajectories figure', (fs) => Object.fromEntries(fs.map((f) =>
    [f.dataset.loss, { start: JSON.parse(f.dataset.start), final: JSON.parse(f.dataset.final), moved: f.dataset.moved }])));
  assert.deepEqual(figs.iou.start, pred);
  assert.deepEqual(figs.iou.final, pred, 'IoU loss does not move disjoint boxes');
  assert.equal(figs.iou.moved, 'false');
  for (const n of ['giou', 'diou', 'ciou']) {
    assert.equal(figs[n].moved, 'true', `${n} moves`);
    // towards the target, which lies to the right and below
    assert.ok(figs[n].final[2] > pred[2] && figs[n].final[3] > pred[3], `${n}: ${figs[n].final}`);
  }
  // The first step's GIoU box is what lossd's gradient gives.
  const reply = await api(lossd.base, '/v1/loss/giou', { input: [pred], target: [target], grad: true });
  assert.ok(reply.grad[0].some((g) => g !== 0));
  assert.deepEqual(seen.errors, []);
  if (SHOTS) await shoot(page, 'boxes');
  await page.close();
});

// The descent the page documents, run here against lossd: Polyak's step
// s = γ·(loss − loss*)/‖grad‖², loss* the loss at the target box, moving a
// box at most maxMove (one unit in the Boxes view); the same arithmetic in
// the same order as descent.js, so the losses are the same doubles. `extra`
// goes into every request (the Oriented boxes view's box_format).
// {loss name: {losses, final, floor}}.
async function polyakDescent(base, names, start, target, steps, gamma, { maxMove = 1, extra = {} } = {}) {
  const out = {};
  for (const n of names) {
    const floor = (await api(base, `/v1/loss/${n}`, { input: [target], target: [target], ...extra })).loss;
    let box = start.slice();
    const losses = [];
    for (let step = 0; step <= steps; step++) {
      const r = await api(base, `/v1/loss/${n}`, { input: [box], target: [target], ...extra, grad: true });
      losses.push(r.loss);
      if (step === steps) break;
      const g = r.grad[0];
      const g2 = g.reduce((a, v) => a + v * v, 0);
      const s = g2 > 0 ? Math.min((gamma * Math.max(r.loss - floor, 0)) / g2, maxMove / Math.sqrt(g2)) : 0;
      box = box.map((v, k) => v - s * g[k]);
    }
    out[n] = { losses, final: box, floor };
  }
  return out;
}

test('descend from the default boxes: every box loss drawn in its own colour, and each converges', async () => {
  const { page, seen } = await open(lossd.base, DESKTOP);
  const [pred, target] = await settledBoxes(page);
  const names = await boxLosses(lossd.base);
  await page.click('#descend');
  await page.waitForFunction((n) => document.querySelectorAll('#trajectories figure').length === n &&
    !document.getElementById('descend').disabled, WAIT, names.length);
  await page.evaluate(`window.testColor = (${normColor})();`); // CDP evaluation, as for axe
  const drawn = await page.evaluate(() => {
    const color = window.testColor;
    const css = getComputedStyle(document.documentElement);
    const chart = window.Chart.getChart(document.getElementById('descend-chart'));
    const legend = Object.fromEntries(chart.data.datasets.map((d) => [d.label, { color: color(d.borderColor), losses: d.data.map((p) => p.y) }]));
    return {
      boxes: [color(css.getPropertyValue('--pred').trim()), color(css.getPropertyValue('--target').trim())],
      figures: [...document.querySelectorAll('#trajectories figure')].map((f) => {
        const line = f.querySelector('polyline.traj');
        const dot = f.querySelector('circle.traj-end');
        const key = f.querySelector('.traj-key line');
        const name = f.querySelector('.name').textContent;
        const rect = line && line.getBoundingClientRect();
        return {
          loss: f.dataset.loss, final: JSON.parse(f.dataset.final),
          stroke: line ? color(getComputedStyle(line).stroke) : 'none',
          width: line ? parseFloat(getComputedStyle(line).strokeWidth) : 0,
          points: line ? line.points.numberOfItems : 0,
          extent: rect ? Math.hypot(rect.width, rect.height) : 0,
          dot: dot ? color(getComputedStyle(dot).fill) : 'none',
          key: key ? color(getComputedStyle(key).stroke) : 'none',
          legend: legend[name],
        };
      }),
    };
  });

  // Item by item: every box loss of the catalog, in its order, visibly drawn, in a colour
  // its own, readable on white, not the boxes' own, the same in the chart's legend.
  assert.deepEqual(drawn.figures.map((f) => f.loss), names);
  assert.deepEqual(drawn.figures.filter((f) => f.stroke === 'none').map((f) => f.loss), [], 'trajectories with no colour');
  for (const f of drawn.figures) {
    assert.ok(contrastOnWhite(f.stroke) >= 3, `${f.loss}: ${f.stroke} on white`);
    assert.ok(f.width >= 2, `${f.loss}: stroke ${f.width} px`);
    assert.ok(f.points >= 2 && f.extent >= 10, `${f.loss}: the trajectory spans ${f.extent} px`);
    assert.equal(f.dot, f.stroke, `${f.loss}: the end dot`);
    assert.equal(f.key, f.stroke, `${f.loss}: the caption's key`);
    assert.ok(f.legend, `${f.loss}: in the chart`);
    assert.equal(f.legend.color, f.stroke, `${f.loss}: the chart's colour`);
    assert.ok(!drawn.boxes.includes(f.stroke), `${f.loss}: ${f.stroke} is a box's colour`);
  }
  assert.equal(new Set(drawn.figures.map((f) => f.stroke)).size, names.length, 'one colour per loss');

  const form = await page.evaluate(() => ({
    steps: Number(document.getElementById('descend-steps').value),
    rule: document.getElementById('descend-rule').value,
    gamma: Number(document.getElementById('descend-gamma').value),
  }));
  assert.equal(form.rule, 'polyak', 'the default step is Polyak\'s');
  // Convergence, with lossd's numbers: the chart's losses are the documented descent's,
  // each no more than 0.1% of its start above the step before, ending within 1e-3 of its
  // start above the loss's minimum (its value at the target box).
  const ref = await polyakDescent(lossd.base, names, pred, target, form.steps, form.gamma);
  for (const f of drawn.figures) {
    const { losses, final, floor } = ref[f.loss];
    assert.deepEqual(f.legend.losses, losses, `${f.loss}: the chart's losses are lossd's`);
    assert.deepEqual(f.final, final, `${f.loss}: the final box`);
    for (let t = 1; t < losses.length; t++) {
      assert.ok(losses[t] - losses[t - 1] <= 1e-3 * losses[0], `${f.loss}: step ${t} raises the loss from ${losses[t - 1]} to ${losses[t]}`);
    }
    assert.ok(losses[losses.length - 1] - floor <= 1e-3 * losses[0], `${f.loss}: ends at ${losses[losses.length - 1]} (minimum ${floor})`);
  }
  assert.deepEqual(seen.errors, []);
  await page.close();
});

test('a short gradient arrow: its head shorter than its shaft, the corner handle visible', async () => {
  const { page, seen } = await open(lossd.base, DESKTOP);
  const [pred, target] = await settledBoxes(page);
  // NWD's gradient at the default boxes is small: its arrows are the shortest.
  await page.click('#arrow-choice input[value="nwd"]');
  // the arrow layer, the picture's last, holds NWD's two arrows
  await page.waitForFunction(() => [...document.querySelectorAll('#box-svg > g.overlay')].pop().children.length === 2, WAIT);
  const handles = await page.$$eval('circle.handle.pred.nw, circle.handle.pred.se', (cs) => cs.map((c) => {
    const r = c.getBoundingClientRect();
    return { cx: c.cx.baseVal.value, cy: c.cy.baseVal.value, r: c.r.baseVal.value, screen: [r.x + r.width / 2, r.y + r.height / 2] };
  }));
  // On the screen: the handles' centres show their white fill, not an arrowhead.
  const px = await pixelsAt(page, handles.map((h) => h.screen));
  px.forEach((c, k) => assert.ok(c.slice(0, 3).every((v) => v >= 235), `handle ${k}: pixel ${c}`));
  const g = (await api(lossd.base, '/v1/loss/nwd', { input: [pred], target: [target], grad: true })).grad[0];
  const shown = await page.$$eval('#box-svg g.arrow', (gs) => gs.map((a) => {
    const l = a.querySelector('.arrow-shaft');
    const head = a.querySelector('.arrow-head').points;
    const p = (i) => [head.getItem(i).x, head.getItem(i).y];
    return { shaft: ['x1', 'y1', 'x2', 'y2'].map((k) => l[k].baseVal.value), tip: p(0), base: [p(1), p(2)] };
  }));
  assert.equal(shown.length, 2, 'two arrows, each a shaft and a head');
  const dist = (a, b) => Math.hypot(a[0] - b[0], a[1] - b[1]);
  [[g[0], g[1]], [g[2], g[3]]].forEach(([gx, gy], k) => {
    const a = shown[k];
    const h = handles[k];
    const start = a.shaft.slice(0, 2);
    const baseMid = [(a.base[0][0] + a.base[1][0]) / 2, (a.base[0][1] + a.base[1][1]) / 2];
    const shaft = dist(start, a.shaft.slice(2));
    const head = dist(a.tip, baseMid);
    assert.ok(shaft + head < 0.9, `corner ${k}: a short arrow (${shaft + head} units)`);
    assert.ok(head <= shaft, `corner ${k}: head ${head} longer than shaft ${shaft}`);
    // along −grad, from outside the handle
    const d = [a.tip[0] - start[0], a.tip[1] - start[1]];
    const cos = -(d[0] * gx + d[1] * gy) / (Math.hypot(...d) * Math.hypot(gx, gy));
    assert.ok(cos > 0.9999, `corner ${k}: along −grad (cos ${cos})`);
    assert.ok(dist(start, [h.cx, h.cy]) > h.r, `corner ${k}: the arrow starts inside the handle`);
  });
  assert.deepEqual(seen.errors, []);
  await page.close();
});

// ------------------------------------------------------------ the Oriented boxes view

const CXCYWHR = { box_format: 'cxcywhr' };
const OCOORDS = ['cx', 'cy', 'w', 'h', 'r'];

// The oriented losses the catalog lists, in its order: a gradient, terms, both operands
// of the oriented box rule, and five numbers a box in box_format cxcywhr.
async function orientedLosses(base) {
  const reply = await fetch(`${base}/v1/functions`).then((r) => r.json());
  return reply.functions.filter((f) => f.kind === 'loss' && f.grad && Array.isArray(f.terms) &&
    f.operand_specs.length === 2 && f.operand_specs.every((s) => s.rule === 'oriented_boxes') &&
    f.operand_specs[0].shape.last_axis.sizes.cxcywhr === 5).map((f) => f.name);
}

// The boxes the oriented table shows numbers for, once they are the ones in the inputs.
async function settledOriented(page) {
  await page.waitForFunction((coords) => {
    const t = document.getElementById('obox-table').dataset.boxes;
    if (!t) return false;
    const read = (w) => coords.map((c) => Number(document.getElementById(`o-${w}-${c}`).value));
    return t === JSON.stringify([read('pred'), read('target')]);
  }, WAIT, OCOORDS);
  return JSON.parse(await page.$eval('#obox-table', (t) => t.dataset.boxes));
}

// Every number in the oriented table equals lossd's replies for those boxes, as text:
// each loss, its terms and gradient at the predicted box, and its value at the target
// itself, said to be "the same" exactly when the two doubles are equal.
async function checkOrientedNumbers(page, base, pred, target) {
  const shown = await page.$$eval('#obox-table tbody tr', (rows) => rows.map((r) => ({
    loss: r.dataset.loss,
    blind: r.dataset.blind,
    value: r.querySelector('.v-loss').textContent,
    floor: r.querySelector('.v-floor').textContent,
    note: r.querySelector('.blind') !== null,
    terms: r.querySelector('.terms').textContent,
    grad: [...r.querySelectorAll('.v-grad')].map((g) => g.textContent),
  })));
  const names = await orientedLosses(base);
  assert.deepEqual(shown.map((r) => r.loss), names);
  for (const n of ['riou', 'rgiou', 'probiou', 'gwd', 'kld', 'kfiou']) assert.ok(names.includes(n), n);
  const LABEL = {
    iou: 'IoU', intersection: '|P∩Q|', union: '|P∪Q|', hull_area: '|hull|', probiou: 'ProbIoU',
    bhattacharyya: 'B', distance: 'd', divergence: 'D', kfiou: 'KFIoU',
  };
  const replies = {};
  const different = pred.some((v, k) => v !== target[k]);
  for (const row of shown) {
    const reply = await api(base, `/v1/loss/${row.loss}`, { input: [pred], target: [target], ...CXCYWHR, grad: true, terms: true });
    const floor = (await api(base, `/v1/loss/${row.loss}`, { input: [target], target: [target], ...CXCYWHR })).loss;
    assert.equal(row.value, String(reply.loss), `${row.loss} loss`);
    assert.equal(row.floor, String(floor), `${row.loss} at the target itself`);
    const blind = different && reply.loss === floor;
    assert.equal(row.blind, String(blind), `${row.loss}: "the same" when the doubles are, for boxes that are not`);
    assert.equal(row.note, blind, `${row.loss}: the note`);
    assert.deepEqual(row.grad, reply.grad[0].map(String), `${row.loss} gradient`);
    const terms = Object.entries(reply.terms).map(([k, v]) => `${LABEL[k] || k} = ${String(v[0])}`).join(', ');
    assert.equal(row.terms, terms, `${row.loss} terms`);
    replies[row.loss] = { ...reply, floor };
  }
  return { shown, replies };
}

// The picture's area labels are riou's intersection and union and rgiou's hull area,
// rounded by the page's one rule; the polygons drawn have the areas lossd measures
// (their shoelace areas, 1e-9 apart at most: the drawing is the boxes lossd scored).
async function checkOrientedPicture(page, base, pred, target) {
  const body = { input: [pred], target: [target], ...CXCYWHR, terms: true };
  const riou = (await api(base, '/v1/loss/riou', body)).terms;
  const rgiou = (await api(base, '/v1/loss/rgiou', body)).terms;
  const expect = (name, v) => `${name} ${Number(v.toFixed(2)) === v ? '=' : '≈'} ${v.toFixed(2)}`;
  const texts = await page.$$eval('#obox-svg text.label-i, #obox-svg text.label-hull', (ts) => ts.map((t) => t.textContent));
  assert.deepEqual(texts, [`${expect('|P∩Q|', riou.intersection[0])}, ${expect('|P∪Q|', riou.union[0])}`,
    expect('hull', rgiou.hull_area[0])]);
  const areas = await page.evaluate(() => {
    const area = (poly) => {
      if (!poly) return 0;
      const p = Array.from({ length: poly.points.numberOfItems }, (_, i) => [poly.points.getItem(i).x, poly.points.getItem(i).y]);
      return Math.abs(p.reduce((a, q, i) => a + q[0] * p[(i + 1) % p.length][1] - p[(i + 1) % p.length][0] * q[1], 0)) / 2;
    };
    return { inter: area(document.querySelector('#obox-svg polygon.intersection')),
      hull: area(document.querySelector('#obox-svg polygon.hull')) };
  });
  // SVG keeps a polygon's points as 32-bit floats (7 digits): 1e-5 of the area.
  assert.ok(Math.abs(areas.inter - riou.intersection[0]) <= 1e-5 * Math.max(1, riou.intersection[0]), `drawn intersection ${areas.inter}, lossd's ${riou.intersection[0]}`);
  assert.ok(Math.abs(areas.hull - rgiou.hull_area[0]) <= 1e-5 * rgiou.hull_area[0], `drawn hull ${areas.hull}, lossd's ${rgiou.hull_area[0]}`);

  // The chosen loss's gradient: −∂/∂(cx, cy) as an arrow from the centre, −∂/∂r as a
  // turning arrow, clockwise on the screen (r's direction, y down) when −∂/∂r > 0.
  const chosen = await page.$eval('#oarrow-choice input:checked', (i) => i.value);
  const g = (await api(base, `/v1/loss/${chosen}`, { input: [pred], target: [target], ...CXCYWHR, grad: true })).grad[0];
  const arrows = await page.evaluate(() => {
    const straight = document.querySelector('#obox-svg g.arrow:not(.turn) .arrow-shaft');
    const turn = document.querySelector('#obox-svg g.arrow.turn');
    return { line: straight && ['x1', 'y1', 'x2', 'y2'].map((k) => straight[k].baseVal.value),
      sweep: turn ? Number(turn.dataset.sweep) : null,
      note: [...document.querySelectorAll('#obox-svg text.label-grad')].map((t) => t.textContent) };
  });
  if (Math.hypot(g[0], g[1]) > 1e-6) {
    const [x1, y1, x2, y2] = arrows.line;
    const cos = -((x2 - x1) * g[0] + (y2 - y1) * g[1]) / (Math.hypot(x2 - x1, y2 - y1) * Math.hypot(g[0], g[1]));
    assert.ok(cos > 0.9999, `${chosen}: the centre's arrow along −grad (cos ${cos})`);
  }
  if (Math.abs(g[4]) > 1e-6) assert.equal(Math.sign(arrows.sweep), -Math.sign(g[4]), `${chosen}: the turn's direction`);
  if (g[4] === 0) assert.equal(arrows.sweep, null, `${chosen}: no turn drawn where ∂/∂r = 0`);
  if (g.every((v) => v === 0)) {
    assert.deepEqual([arrows.line, arrows.sweep], [null, null], `${chosen}: no arrow where the gradient is zero`);
    assert.ok(arrows.note.length === 1 && arrows.note[0].endsWith(': zero gradient'), arrows.note.join());
  }
  return texts;
}

const nearly = (a, b, tol = 0.0101) => Math.abs(a - b) <= tol;

test('Oriented boxes: every oriented loss of the catalog, each number the API\'s; dragging, resizing and turning with the pointer', async () => {
  const { page, seen } = await open(lossd.base, DESKTOP, '#oriented');
  const [pred0, target] = await settledOriented(page);
  await checkOrientedNumbers(page, lossd.base, pred0, target);
  await checkOrientedPicture(page, lossd.base, pred0, target);

  // The body moves the box: size and angle stay.
  await drag(page, 'polygon.box.pred', 60, 30);
  const [moved, target1] = await settledOriented(page);
  assert.deepEqual(target1, target);
  assert.ok(moved[0] > pred0[0] && moved[1] > pred0[1], `moved from ${pred0} to ${moved}`);
  assert.deepEqual(moved.slice(2), pred0.slice(2), 'a move keeps the size and the angle');
  const before = await checkOrientedNumbers(page, lossd.base, moved, target);
  await checkOrientedPicture(page, lossd.base, moved, target);

  // The turning handle turns it about its centre.
  const knob = await (await page.$('circle.knob.pred')).boundingBox();
  const centre = await (await page.$('circle.centre.pred')).boundingBox();
  await page.mouse.move(knob.x + knob.width / 2, knob.y + knob.height / 2);
  await page.mouse.down();
  // a quarter turn clockwise on the screen, in steps: from above the centre to its right
  const [ox, oy] = [centre.x + centre.width / 2, centre.y + centre.height / 2];
  const radius = Math.hypot(knob.x + knob.width / 2 - ox, knob.y + knob.height / 2 - oy);
  const a0 = Math.atan2(knob.y + knob.height / 2 - oy, knob.x + knob.width / 2 - ox);
  for (let i = 1; i <= 12; i++) await page.mouse.move(ox + radius * Math.cos(a0 + (i * Math.PI) / 24), oy + radius * Math.sin(a0 + (i * Math.PI) / 24));
  await page.mouse.up();
  const [turned] = await settledOriented(page);
  assert.deepEqual(turned.slice(0, 4), moved.slice(0, 4), 'a turn keeps the centre and the size');
  assert.ok(nearly(turned[4] - moved[4], Math.PI / 2, 0.02), `turned from ${moved[4]} to ${turned[4]}`);
  const after = await checkOrientedNumbers(page, lossd.base, turned, target);
  assert.notEqual(after.shown[0].value, before.shown[0].value, 'the turn changes the numbers');

  // A corner resizes: the opposite corner stays where it was (to the hundredths kept).
  const corner0 = (b) => [b[0] - (b[2] / 2) * Math.cos(b[4]) + (b[3] / 2) * Math.sin(b[4]),
    b[1] - (b[2] / 2) * Math.sin(b[4]) - (b[3] / 2) * Math.cos(b[4])];
  await drag(page, 'circle.handle.pred.corner-2', 35, 25);
  const [resized] = await settledOriented(page);
  assert.equal(resized[4], turned[4]);
  assert.ok(resized[2] !== turned[2] || resized[3] !== turned[3], `resized ${turned} to ${resized}`);
  corner0(resized).forEach((v, k) => assert.ok(nearly(v, corner0(turned)[k], 0.015), `the opposite corner moved: ${corner0(turned)} to ${corner0(resized)}`));
  await checkOrientedNumbers(page, lossd.base, resized, target);
  await checkOrientedPicture(page, lossd.base, resized, target);
  onlySameOrigin(seen, lossd.base);
  assert.deepEqual(seen.errors, []);
  await page.close();
});

test('Oriented boxes with the keyboard: focusable box, corner and turning handle move, resize and turn, and the numbers follow', async () => {
  const { page, seen } = await open(lossd.base, DESKTOP, '#oriented');
  const [b0, target] = await settledOriented(page);
  // Every part a person drags can be reached with Tab.
  const focusable = await page.$$eval('#obox-svg [tabindex="0"]', (ns) => ns.map((n) => n.getAttribute('class')));
  for (const which of ['pred', 'target']) {
    for (const part of [`box ${which}`, `handle ${which} corner-2`, `knob ${which}`]) assert.ok(focusable.includes(part), part);
  }
  await page.$eval('polygon.box.pred', (e) => e.focus());
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.getAttribute('class')), 'handle target corner-2', 'Tab goes on');
  const r4 = (v) => Math.round(v * 1e4) / 1e4;
  const r2 = (v) => Math.round(v * 100) / 100;
  const steps = [
    // [the part focused, key, modifier, what the box becomes]
    ['polygon.box.pred', 'ArrowLeft', null, (b) => [r2(b[0] - 0.1), b[1], b[2], b[3], b[4]]],
    ['polygon.box.pred', 'ArrowDown', null, (b) => [b[0], r2(b[1] + 0.1), b[2], b[3], b[4]]],
    ['polygon.box.pred', ']', null, (b) => [b[0], b[1], b[2], b[3], r4(b[4] + Math.PI / 180)]],
    ['polygon.box.pred', '[', null, (b) => [b[0], b[1], b[2], b[3], r4(b[4] - Math.PI / 180)]],
    ['circle.knob.pred', 'ArrowRight', null, (b) => [b[0], b[1], b[2], b[3], r4(b[4] + Math.PI / 180)]],
    ['circle.knob.pred', 'ArrowLeft', 'Shift', (b) => [b[0], b[1], b[2], b[3], r4(b[4] - Math.PI / 12)]],
    // resizing from the (+, +) corner: the opposite corner stays, the centre moves half as far along u or v
    ['polygon.box.pred', 'ArrowRight', 'Shift', (b) => [r2(b[0] + 0.05 * Math.cos(b[4])), r2(b[1] + 0.05 * Math.sin(b[4])), r2(b[2] + 0.1), b[3], b[4]]],
    ['circle.handle.pred.corner-2', 'ArrowDown', null, (b) => [r2(b[0] - 0.05 * Math.sin(b[4])), r2(b[1] + 0.05 * Math.cos(b[4])), b[2], r2(b[3] + 0.1), b[4]]],
  ];
  let box = b0;
  let values = (await checkOrientedNumbers(page, lossd.base, box, target)).shown.map((r) => r.value);
  for (const [selector, key, modifier, expect] of steps) {
    await page.$eval(selector, (e) => e.focus());
    if (modifier) await page.keyboard.down(modifier);
    await page.keyboard.press(key);
    if (modifier) await page.keyboard.up(modifier);
    const [next, t] = await settledOriented(page);
    assert.deepEqual(t, target);
    const want = expect(box);
    next.forEach((v, k) => assert.ok(Math.abs(v - want[k]) <= 1e-9, `${selector} ${modifier || ''} ${key}: ${OCOORDS[k]} ${v}, expected ${want[k]}`));
    const shown = (await checkOrientedNumbers(page, lossd.base, next, target)).shown.map((r) => r.value);
    assert.notDeepEqual(shown, values, `${selector} ${key}: the numbers change`);
    [box, values] = [next, shown];
  }
  onlySameOrigin(seen, lossd.base);
  assert.deepEqual(seen.errors, []);
  await page.close();
});

test('Oriented boxes: a unit square against itself turned by π/4 - riou 1 − 1/√2, ProbIoU ≈ 0: the Gaussian losses cannot see the turn', async () => {
  const { page, seen } = await open(lossd.base, DESKTOP, '#oriented');
  await settledOriented(page);
  await page.click('#preset-quarter');
  await page.waitForFunction(() => document.getElementById('o-pred-r').value === String(Math.PI / 4), WAIT);
  const [pred, target] = await settledOriented(page);
  assert.deepEqual([pred, target], [[3, 2, 1, 1, Math.PI / 4], [3, 2, 1, 1, 0]]);
  const { shown, replies } = await checkOrientedNumbers(page, lossd.base, pred, target);
  const row = Object.fromEntries(shown.map((r) => [r.loss, r]));
  const riou = Number(row.riou.value);
  assert.ok(Math.abs(riou - replies.riou.loss) <= 1e-9, `riou ${riou}, the API's ${replies.riou.loss}`);
  // From first principles: the overlap is the regular octagon of area 2(√2 − 1), the union 2 − that,
  // and riou = 1 − I/U = 1 − 1/√2 (eps aside).
  assert.ok(Math.abs(riou - 0.2929) <= 1e-4, `riou ${riou}`);
  assert.ok(Math.abs(riou - (1 - Math.SQRT1_2)) <= 1e-6, `riou ${riou}`);
  const probiou = Number(row.probiou.value);
  assert.ok(Math.abs(probiou - replies.probiou.loss) <= 1e-9, `probiou ${probiou}, the API's ${replies.probiou.loss}`);
  assert.ok(probiou < 1e-3, `probiou ${probiou}: about 0 (its eps keeps it from 0)`);
  // The exact IoU losses see the turn; every loss on the boxes' Gaussians scores it as it
  // scores the target itself, and has no gradient along r.
  for (const n of ['riou', 'rgiou']) assert.equal(row[n].blind, 'false', `${n} sees the turn`);
  for (const n of ['probiou', 'gwd', 'kld', 'kfiou']) {
    assert.equal(row[n].blind, 'true', `${n} cannot see the turn`);
    assert.equal(row[n].value, row[n].floor);
    assert.equal(row[n].grad[4], '0', `${n}: ∂/∂r`);
  }
  await checkOrientedPicture(page, lossd.base, pred, target);
  await axe(page, 'oriented', { all: true });
  // ProbIoU's arrows: none, and the picture says why.
  await page.click('#oarrow-choice input[value="probiou"]');
  await page.waitForFunction(() => document.querySelector('#obox-svg text.label-grad') !== null, WAIT);
  await checkOrientedPicture(page, lossd.base, pred, target);
  // Turned back to the target itself: every loss at its value there, and no note (there is nothing to tell apart).
  await page.$eval('#o-pred-r', (i) => { i.value = '0'; i.dispatchEvent(new Event('change')); });
  const [same] = await settledOriented(page);
  assert.deepEqual(same, target);
  const identical = await checkOrientedNumbers(page, lossd.base, same, target);
  for (const r of identical.shown) assert.equal(r.note, false, `${r.loss}: no note for identical boxes`);
  onlySameOrigin(seen, lossd.base);
  assert.deepEqual(seen.errors, []);
  await page.close();
});

// The descent figures' data: {loss: {final, losses, moved}}, and the chart's losses by label.
async function orientedFigures(page) {
  return page.evaluate(() => {
    const chart = window.Chart.getChart(document.getElementById('odescend-chart'));
    const legend = Object.fromEntries(chart.data.datasets.map((d) => [d.label, { color: d.borderColor, losses: d.data.map((p) => p.y) }]));
    return Object.fromEntries([...document.querySelectorAll('#otrajectories figure')].map((f) => [f.dataset.loss, {
      start: JSON.parse(f.dataset.start), final: JSON.parse(f.dataset.final), losses: JSON.parse(f.dataset.losses),
      moved: f.dataset.moved, caption: f.querySelector('figcaption').textContent,
      stroke: f.querySelector('polyline.traj').getAttribute('stroke'), legend: legend[f.querySelector('.name').textContent],
    }]));
  });
}

async function descendOriented(page, n) {
  await page.click('#odescend');
  await page.waitForFunction((k) => document.querySelectorAll('#otrajectories figure').length === k &&
    !document.getElementById('odescend').disabled, { timeout: 60000 }, n);
  return orientedFigures(page);
}

test('Oriented boxes: descent with each loss from the same start lowers it; from a square turned by π/8 only the exact IoU turns it back', async () => {
  const { page, seen } = await open(lossd.base, DESKTOP, '#oriented');
  const [pred, target] = await settledOriented(page);
  const names = await orientedLosses(lossd.base);
  let figs = await descendOriented(page, names.length);
  const form = await page.evaluate(() => ({ steps: Number(document.getElementById('odescend-steps').value),
    rule: document.getElementById('odescend-rule').value, gamma: Number(document.getElementById('odescend-gamma').value) }));
  assert.equal(form.rule, 'polyak');
  const ref = await polyakDescent(lossd.base, names, pred, target, form.steps, form.gamma, { maxMove: 0.5, extra: CXCYWHR });
  assert.deepEqual(Object.keys(figs), names);
  assert.equal(new Set(Object.values(figs).map((f) => f.stroke)).size, names.length, 'one colour per loss');
  for (const n of names) {
    const { losses, final, floor } = ref[n];
    assert.deepEqual(figs[n].start, pred, `${n}: the same start`);
    assert.deepEqual(figs[n].losses, losses, `${n}: the losses shown are lossd's, step by step`);
    assert.deepEqual(figs[n].legend.losses, losses, `${n}: the chart's`);
    assert.equal(figs[n].legend.color, figs[n].stroke, `${n}: the chart's colour`);
    assert.deepEqual(figs[n].final, final, `${n}: the final box`);
    assert.ok(losses[losses.length - 1] < losses[0], `${n}: from ${losses[0]} to ${losses[losses.length - 1]}`);
    for (let t = 1; t < losses.length; t++) {
      assert.ok(losses[t] - losses[t - 1] <= 1e-3 * losses[0], `${n}: step ${t} raises the loss from ${losses[t - 1]} to ${losses[t]}`);
    }
    assert.ok(losses[losses.length - 1] - floor <= 1e-3 * losses[0], `${n}: ends at ${losses[losses.length - 1]} (minimum ${floor})`);
  }

  // A square turned by π/8 about its own centre: riou and rgiou turn it (back to the
  // target with Polyak's step; a fixed rate zig-zags); the Gaussian losses have no
  // gradient along r, at every step, and whatever the step rule, the angle stays the
  // double it was.
  await page.click('#preset-eighth');
  await page.waitForFunction(() => document.getElementById('o-pred-r').value === String(Math.PI / 8), WAIT);
  const [square] = await settledOriented(page);
  for (const rule of ['polyak', 'fixed']) {
    await page.select('#odescend-rule', rule);
    figs = await descendOriented(page, names.length);
    for (const n of ['riou', 'rgiou']) {
      assert.notEqual(figs[n].final[4], square[4], `${rule}, ${n} turns the square`);
      if (rule !== 'polyak') continue;
      assert.ok(Math.abs(figs[n].final[4]) < 1e-3, `${n} turns the square back: r ${figs[n].final[4]}`);
      assert.ok(figs[n].losses.at(-1) < 1e-3 * figs[n].losses[0], `${n}: ${figs[n].losses[0]} → ${figs[n].losses.at(-1)}`);
    }
    for (const n of ['probiou', 'gwd', 'kld', 'kfiou']) {
      assert.equal(figs[n].final[4], Math.PI / 8, `${rule}, ${n} never turns the square`);
      if (figs[n].moved === 'true') assert.ok(figs[n].caption.includes('did not turn'), figs[n].caption);
    }
  }
  await page.select('#odescend-rule', 'polyak');
  figs = await descendOriented(page, names.length);
  // The picture for the docs: the π/8 descent below, the π/4 square above.
  await page.click('#preset-quarter');
  await page.waitForFunction(() => document.getElementById('o-pred-r').value === String(Math.PI / 4), WAIT);
  await settledOriented(page);
  if (SHOTS) await shoot(page, 'oriented');
  assert.deepEqual(seen.errors, []);
  await page.close();
});

test('Oriented boxes on a phone: no sideways scroll, every cell on the screen, labels readable, the pointer works', async () => {
  const { page, seen } = await open(lossd.base, PHONE, '#oriented');
  const [pred1, target1] = await settledOriented(page);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 1, `the page is ${overflow} px wider than the screen`);
  const table = await tableOnScreen(page, 'obox-table', ['.v-loss', '.v-floor', '.v-grad', '.terms']);
  assert.ok(table.n >= 6 * 8, `${table.n} cells`);
  assert.ok(table.scroll <= 1, `the table scrolls sideways by ${table.scroll} px`);
  assert.deepEqual(table.outside, [], 'cells beyond the table\'s visible width');
  const sizes = await labelPixels(page, 'obox-svg');
  assert.ok(sizes.length >= 2, `${sizes.length} labels`);
  for (const px of sizes) assert.ok(px >= 11, `a label is ${px.toFixed(1)} CSS px`);
  await checkOrientedPicture(page, lossd.base, pred1, target1);
  await axe(page, 'phone oriented', { all: true });
  await drag(page, 'polygon.box.pred', 20, 10);
  const [pred, target] = await settledOriented(page);
  assert.notDeepEqual(pred, pred1);
  await checkOrientedNumbers(page, lossd.base, pred, target);
  onlySameOrigin(seen, lossd.base);
  assert.deepEqual(seen.errors, []);
  await page.close();
});

test('Curves: Huber at δ = 1 is Smooth L1 at β = 1, and the legend says so', async () => {
  const { page, seen } = await open(lossd.base, DESKTOP, '#curves');
  await page.waitForSelector('#curve-stats tbody tr[data-fn="Huber"]', WAIT);
  const xs = Array.from({ length: 241 }, (_, i) => -3 + (6 * i) / 240);
  const ask = (fn, params) => api(lossd.base, `/v1/loss/${fn}`, { input: xs, target: xs.map(() => 0), reduction: 'none', grad: true, ...params });
  const legends = () => page.evaluate(() => ['curve-value', 'curve-grad'].map((id) =>
    window.Chart.getChart(document.getElementById(id)).data.datasets.map((d) => ({ label: d.label, y: d.data.map((p) => p.y), dash: d.borderDash || [] }))));
  // Generic: a dataset whose numbers equal an earlier one's says which, and is dashed;
  // no other says "the same as".
  const checkSame = (sets) => sets.forEach((d, i) => {
    const same = sets.slice(0, i).find((e) => e.y.length === d.y.length && e.y.every((v, k) => v === d.y[k]));
    if (same) {
      assert.equal(d.label.endsWith(`(the same as ${same.label})`), true, d.label);
      assert.ok(d.dash.length > 0, `${d.label} is dashed`);
    } else {
      assert.ok(!d.label.includes('the same as'), d.label);
    }
  });
  // The catalog's defaults: lossd gives the same doubles for both.
  const [smooth, huber] = [await ask('smooth_l1', {}), await ask('huber', {})];
  assert.deepEqual(huber.loss, smooth.loss);
  assert.deepEqual(huber.grad, smooth.grad);
  let [values, grads] = await legends();
  checkSame(values);
  checkSame(grads);
  assert.ok(values.some((d) => d.label === 'Huber (the same as Smooth L1)'), values.map((d) => d.label).join());
  assert.ok(grads.some((d) => d.label === 'Huber′ (the same as Smooth L1′)'), grads.map((d) => d.label).join());
  // δ = 2: its own curve, and a plain legend.
  await page.click('#param-huber-delta', { clickCount: 3 });
  await page.keyboard.type('2');
  await page.keyboard.press('Tab');
  await page.waitForFunction(() => window.Chart.getChart(document.getElementById('curve-value')).data.datasets.some((d) => d.label === 'Huber'), WAIT);
  const huber2 = await ask('huber', { delta: 2 });
  assert.notDeepEqual(huber2.loss, smooth.loss);
  [values, grads] = await legends();
  assert.deepEqual(values.find((d) => d.label === 'Huber').y, huber2.loss);
  checkSame(values);
  checkSame(grads);
  assert.deepEqual(seen.errors, []);
  await page.close();
});

test('Distributions: H(p,q) ≈ H(p) + D_KL(p‖q) with lossd\'s three doubles, not "="', async () => {
  const { page, seen } = await open(lossd.base, DESKTOP, '#dists');
  await page.waitForFunction(() => document.querySelectorAll('#dist-table tbody tr').length === 5, WAIT);
  const p = [0.1, 0.2, 0.4, 0.2, 0.1];
  const q = [0.3, 0.25, 0.2, 0.15, 0.1];
  const value = async (fn, body) => (await api(lossd.base, `/v1/info/${fn}`, { ...body, normalize: true, base: 'e' })).value;
  const [ce, hp, kl] = [await value('cross_entropy', { p, q }), await value('entropy', { p }), await value('kl_divergence', { p, q })];
  assert.notEqual(hp + kl, ce, 'these doubles do not add up exactly: "=" would be false');
  const text = await page.$eval('#dist-identity-text', (e) => e.textContent);
  assert.ok(text.includes(`${ce} ≈ ${hp} + ${kl} nats`), text);
  assert.ok(!/\d = /.test(text), `no number is said to equal another: ${text}`);
  assert.deepEqual(seen.errors, []);
  await page.close();
});

test('changing the URL\'s hash after load switches the view, and Back returns', async () => {
  const { page, seen } = await open(lossd.base, DESKTOP);
  await settledBoxes(page);
  assert.equal(await shownView(page), 'boxes');
  for (const v of ['dists', 'oriented', 'curves', 'api', 'boxes', 'dists']) {
    await page.evaluate((h) => { location.hash = h; }, v);
    await page.waitForFunction((n) => document.body.dataset.view === n, WAIT, v);
    assert.equal(await shownView(page), v);
  }
  await page.evaluate(() => history.back());
  await page.waitForFunction(() => location.hash === '#boxes' && document.body.dataset.view === 'boxes', WAIT);
  assert.equal(await shownView(page), 'boxes');
  // A hash that names no view changes nothing.
  await page.evaluate(() => { location.hash = 'nothing'; });
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(await shownView(page), 'boxes');
  assert.deepEqual(seen.errors, []);
  await page.close();
});

test('every view works, and axe-core finds no serious or critical violation', async () => {
  const { page, seen } = await open(lossd.base, DESKTOP);
  await settledBoxes(page);
  await axe(page, 'boxes');
  for (const v of ['oriented', 'curves', 'dists', 'api', 'boxes']) {
    await showView(page, v);
    if (v !== 'boxes') await axe(page, v);
  }

  // Curves: ReLU's zero-gradient share is the activation reply's statistic.
  await showView(page, 'curves');
  await page.click('input[name="family"][value="activation"]');
  await page.waitForSelector('#curve-stats tbody tr[data-fn="ReLU"]', WAIT);
  const cells = await page.$$eval('#curve-stats tbody tr[data-fn="ReLU"] td', (tds) => tds.map((t) => t.textContent));
  const xs = Array.from({ length: 241 }, (_, i) => -4 + (8 * i) / 240);
  const relu = await api(lossd.base, '/v1/activation/relu', { input: xs, grad: true });
  assert.equal(cells[2], String(relu.stats.zero_grad_fraction));
  if (SHOTS) await shoot(page, 'curves');
  // Losses on logits: the list is the catalog's (varifocal was never written into the page),
  // and the right end's derivative is lossd's at target 1.
  await page.click('input[name="family"][value="logits"]');
  await page.waitForSelector('#curve-stats tbody tr[data-fn="Varifocal"]', WAIT);
  const offered = await page.$$eval('#curve-functions input[data-fn]', (els) => els.map((e) => e.value));
  // the catalog's losses on logits: any numbers in, probabilities shaped like them as targets
  const onLogits = (await catalogOf(lossd.base)).filter((f) => f.kind === 'loss' && ruleOf(f, 0) === 'any' &&
    ruleOf(f, 1) === 'probabilities' && f.operand_specs[1].shape.like === f.operand_specs[0].name).map((f) => f.name);
  assert.ok(onLogits.includes('varifocal'), onLogits.join());
  assert.deepEqual(offered, onLogits);
  const vfCells = await page.$$eval('#curve-stats tbody tr[data-fn="Varifocal"] td', (tds) => tds.map((t) => t.textContent));
  const logits = Array.from({ length: 241 }, (_, i) => -6 + (12 * i) / 240);
  const vf = await api(lossd.base, '/v1/loss/varifocal', { input: logits, target: logits.map(() => 1), reduction: 'none', grad: true });
  assert.equal(vfCells[2], String(vf.grad[vf.grad.length - 1]));
  await axe(page, 'curves (logits)');
  await page.click('input[name="family"][value="focal"]');
  await page.waitForSelector('#curve-stats tbody tr[data-fn="focal γ = 2"]', WAIT);
  await axe(page, 'curves (focal)');

  // Distributions: the numbers are lossd's, in nats and in bits.
  await showView(page, 'dists');
  const p = [0.1, 0.2, 0.4, 0.2, 0.1];
  const q = [0.3, 0.25, 0.2, 0.15, 0.1];
  for (const base of ['e', 2]) {
    if (base === 2) {
      await page.click('input[name="base"][value="2"]');
      await page.waitForFunction(() => document.querySelector('#dist-table tbody th').textContent.includes('bits'), WAIT);
    }
    const shown = await page.$$eval('#dist-table tbody tr', (rs) => Object.fromEntries(rs.map((r) => [r.dataset.measure + (r.querySelector('th').textContent.startsWith('H(q)') ? '_q' : ''), r.querySelector('td').textContent])));
    const ask = async (fn, body) => String((await api(lossd.base, `/v1/info/${fn}`, { ...body, normalize: true, base })).value);
    assert.equal(shown.entropy, await ask('entropy', { p }));
    assert.equal(shown.entropy_q, await ask('entropy', { p: q }));
    assert.equal(shown.cross_entropy, await ask('cross_entropy', { p, q }));
    assert.equal(shown.kl_divergence, await ask('kl_divergence', { p, q }));
    assert.equal(shown.js_divergence, await ask('js_divergence', { p, q }));
  }
  if (SHOTS) await shoot(page, 'distributions');

  // API explorer: a formula typeset, a request sent, and its curl command gives the same reply.
  await showView(page, 'api');
  await page.click('#fn-list button[data-fn="loss/ciou"]');
  await page.waitForFunction(() => document.getElementById('fn-title').textContent === 'loss/ciou', WAIT);
  await page.waitForSelector('#fn-formula .katex', WAIT);
  await page.click('#field-grad');
  await page.click('#fn-send');
  await page.waitForFunction(() => document.getElementById('fn-reply').dataset.status === '200', WAIT);
  const reply = await page.$eval('#fn-reply', (e) => e.textContent);
  const curl = await page.$eval('#fn-curl', (e) => e.textContent);
  assert.ok(curl.startsWith(`curl -s ${lossd.base}/v1/loss/ciou -H 'Content-Type: application/json' -d '`), curl);
  const viaCurl = execFileSync('bash', ['-c', curl], { encoding: 'utf8' });
  assert.equal(`HTTP 200\n${viaCurl}`, reply);
  assert.ok(JSON.parse(viaCurl).grad, 'the reply carries the gradient asked for');
  await page.click('#fn-v2-send');
  await page.waitForFunction(() => document.getElementById('fn-v2-reply').dataset.status === '200', WAIT);
  await axe(page, 'api explorer');
  if (SHOTS) await shoot(page, 'api');
  onlySameOrigin(seen, lossd.base);
  assert.deepEqual(seen.errors, []);
  await page.close();
});

// `curl -s URL -H 'Content-Type: application/json' [-H "Authorization: ..."] -d 'BODY'`
// as the explorer shows it: the URL and the body, unquoted.
function parseCurl(curl) {
  const m = curl.match(/^curl -s (\S+) -H 'Content-Type: application\/json'(?: -H "[^"]*")? -d '(.*)'$/s);
  assert.ok(m, `not a curl command: ${curl}`);
  return { url: m[1], body: m[2].replace(/'\\''/g, "'") };
}

// The explorer's /v1 request for the selected function, sent from the form;
// then its /v2 request, as the page shows it, sent by the test with fetch
// from the page's origin: every output holds the doubles of the /v1 reply's
// field of that name ("terms.iou" is reply.terms.iou), bit for bit.
async function checkV2(page, base, model, expected) {
  await page.click('#fn-send');
  await page.waitForFunction(() => document.getElementById('fn-reply').dataset.status === '200', WAIT);
  const v1 = JSON.parse((await page.$eval('#fn-reply', (e) => e.textContent)).replace(/^HTTP 200\n/, ''));
  assert.equal(await page.$eval('#fn-v2', (e) => e.hidden), false, 'the v2 block is shown');
  const curl = await page.$eval('#fn-v2-curl', (e) => e.textContent);
  const { url, body } = parseCurl(curl);
  assert.equal(url, `${base}/v2/models/${model}/infer`);
  const request = JSON.parse(body);
  assert.deepEqual(request.outputs.map((o) => o.name), expected.outputs, 'the outputs the /v1 request asked for');
  assert.deepEqual(Object.fromEntries(request.inputs.map((t) => [t.name, t.datatype])), expected.datatypes);
  assert.deepEqual(request.parameters, expected.parameters);

  const sent = await page.evaluate(async (path, text) => {
    const resp = await fetch(path, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: text });
    return { status: resp.status, text: await resp.text() };
  }, new URL(url).pathname, body);
  assert.equal(sent.status, 200, sent.text);
  const v2 = JSON.parse(sent.text);
  assert.equal(v2.model_name, model);
  assert.deepEqual(v2.outputs.map((o) => o.name), expected.outputs);
  for (const out of v2.outputs) {
    const field = out.name.split('.').reduce((v, k) => v[k], v1);
    assert.notEqual(field, undefined, `${out.name} is in the /v1 reply`);
    assert.deepEqual(out.data, [field].flat(Infinity), `${model} ${out.name}: the same doubles over /v1 and /v2`);
  }
  // The command as shown runs in a shell, and the page's own button sends the same request.
  assert.equal(execFileSync('bash', ['-c', curl], { encoding: 'utf8' }), sent.text);
  await page.click('#fn-v2-send');
  await page.waitForFunction(() => document.getElementById('fn-v2-reply').dataset.status, WAIT);
  assert.equal(await page.$eval('#fn-v2-reply', (e) => e.textContent), `HTTP 200\n${sent.text}`);

  // tritonclient's snippet names the same model, tensors, outputs and parameters.
  const python = await page.$eval('#fn-v2-python', (e) => e.textContent);
  for (const t of request.inputs) {
    assert.ok(python.includes(`httpclient.InferInput(${JSON.stringify(t.name)}, ${JSON.stringify(t.shape).replace(/,/g, ', ')}, "${t.datatype}")`), python);
  }
  assert.ok(python.includes(`names = ${JSON.stringify(expected.outputs).replace(/,/g, ', ')}`), python);
  assert.ok(python.includes(`client.infer("${model}", inputs, outputs=outputs`), python);
  // tritonclient is not in Debian: the snippet is parsed as Python, not run.
  execFileSync('python3', ['-c', 'import ast, sys; ast.parse(sys.stdin.read())'], { input: python });
  return { v1, v2 };
}

test('the explorer shows the same request over /v2, and it gives the same doubles', async () => {
  const { page, seen } = await open(lossd.base, DESKTOP, '#api');
  await page.waitForSelector('#fn-formula .katex', WAIT);

  // A box loss with its gradient and terms.
  await page.click('#fn-list button[data-fn="loss/ciou"]');
  await page.waitForFunction(() => document.getElementById('fn-title').textContent === 'loss/ciou', WAIT);
  await page.click('#field-grad');
  await page.click('#field-terms');
  const ciou = await checkV2(page, lossd.base, 'loss.ciou', {
    outputs: ['loss', 'n', 'grad', 'terms.iou', 'terms.rho2', 'terms.c2', 'terms.v', 'terms.aspect_weight', 'terms.alpha'],
    datatypes: { input: 'FP64', target: 'FP64' },
    parameters: { reduction: 'mean', box_format: 'xyxy', eps: 1e-7, alpha: 1 },
  });
  assert.equal(ciou.v2.outputs.find((o) => o.name === 'grad').shape.join(), '2,4');

  // cross_entropy with class indices (INT64 over /v2), unreduced, with label smoothing.
  await page.click('#fn-list button[data-fn="loss/cross_entropy"]');
  await page.waitForFunction(() => document.getElementById('fn-title').textContent === 'loss/cross_entropy', WAIT);
  await page.select('#field-reduction', 'none');
  await page.click('#field-label_smoothing', { clickCount: 3 });
  await page.keyboard.type('0.1');
  await page.click('#field-grad');
  const ce = await checkV2(page, lossd.base, 'loss.cross_entropy', {
    outputs: ['loss', 'n', 'grad'],
    datatypes: { input: 'FP64', target: 'INT64' },
    parameters: { reduction: 'none', ignore_index: -100, label_smoothing: 0.1 },
  });
  assert.equal(ce.v1.loss.length, 2, 'reduction none: one loss per sample');

  // Unchecking grad drops the "grad" output from the /v2 request as from the /v1 one.
  await page.click('#field-grad');
  const { body } = parseCurl(await page.$eval('#fn-v2-curl', (e) => e.textContent));
  assert.deepEqual(JSON.parse(body).outputs.map((o) => o.name), ['loss', 'n']);
  await axe(page, 'api explorer with v2');
  onlySameOrigin(seen, lossd.base);
  assert.deepEqual(seen.errors, []);
  await page.close();
});

test('a phone-sized screen: no sideways scrolling, every view usable and accessible', async () => {
  const { page, seen } = await open(lossd.base, PHONE);
  const [pred1, target1] = await settledBoxes(page);
  // The box table: every cell on the screen, the gradient too, with no scroll hiding one.
  const table = await tableOnScreen(page, 'box-table', ['.v-loss', '.v-grad', '.terms']);
  assert.ok(table.n >= 7 * 6, `${table.n} cells`);
  assert.ok(table.scroll <= 1, `the box table scrolls sideways by ${table.scroll} px`);
  assert.deepEqual(table.outside, [], 'cells beyond the table\'s visible width');
  // The picture's labels: at least 11 CSS pixels high on this screen, and lossd's numbers.
  const sizes = await labelPixels(page, 'box-svg');
  assert.equal(sizes.length, 2);
  for (const px of sizes) assert.ok(px >= 11, `a label is ${px.toFixed(1)} CSS px`);
  await checkLabels(page, lossd.base, pred1, target1);
  for (const v of VIEWS) {
    await showView(page, v);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 1, `${v}: the page is ${overflow} px wider than the screen`);
    await axe(page, `phone ${v}`);
  }
  // Touch-sized drag works too (pointer events from the mouse at this size).
  await showView(page, 'boxes');
  const [pred0] = await settledBoxes(page);
  await drag(page, 'rect.box.pred', 20, 10);
  const [pred, target] = await settledBoxes(page);
  assert.notDeepEqual(pred, pred0);
  await checkBoxNumbers(page, lossd.base, pred, target);
  if (SHOTS) await shoot(page, 'phone', true);
  onlySameOrigin(seen, lossd.base);
  assert.deepEqual(seen.errors, []);
  await page.close();
});

test('with --api-key-file: the page asks for the key, then works', async () => {
  const keyFile = join(profile, 'keys');
  writeFileSync(keyFile, 'playground-key\n');
  const guarded = await startLossd(['--api-key-file', keyFile]);
  try {
    const { page, seen } = await open(guarded.base, DESKTOP);
    await page.waitForFunction(() => document.getElementById('status').textContent.includes('API key'), WAIT);
    assert.equal(await page.$eval('#key-box', (d) => d.open), true);
    await page.type('#api-key', 'playground-key');
    await Promise.all([page.waitForNavigation({ waitUntil: 'networkidle0' }), page.click('#key-form button[type="submit"]')]);
    const [pred, target] = await settledBoxes(page);
    const reply = await api(guarded.base, '/v1/loss/giou', { input: [pred], target: [target], grad: true, terms: true }, 'playground-key');
    const shown = await page.$eval('#box-table tr[data-loss="giou"] .v-loss', (e) => e.textContent);
    assert.equal(shown, String(reply.loss));
    assert.equal(await page.evaluate(() => sessionStorage.getItem('lossd.apiKey')), 'playground-key');
    onlySameOrigin(seen, guarded.base);
    // Only the 401s of the first load, which the page answered by asking for the key.
    assert.deepEqual(seen.errors.filter((e) => !e.includes('401')), []);
    await page.close();
  } finally {
    guarded.proc.kill('SIGTERM');
  }
});

// ------------------------------------------------------------ screenshots

async function shoot(page, name, screen) {
  mkdirSync(SHOTS, { recursive: true });
  const file = join(SHOTS, `playground-${name}.png`);
  if (screen) {
    await page.screenshot({ path: file }); // what the screen shows
  } else {
    const view = await page.$('[role="tabpanel"]:not([hidden])');
    await view.screenshot({ path: file });
  }
  console.log(`# wrote ${file}`);
}
