// SPDX-License-Identifier: MIT
// main.js - the playground's entry point: the tabs (and the URL's hash, which
// names the view shown), the API key, and each view started when first shown. Chart.js and KaTeX are loaded before this
// module (deferred scripts run in document order) from this lossd itself.
import { apiKey, setApiKey, onReply } from './api.js';
import { $, status, showError } from './ui.js';
import { initBoxes } from './boxes.js';
import { initOriented } from './oriented.js';
import { initCurves, showCurves } from './curves.js';
import { initDists, showDists } from './dists.js';
import { initExplorer, loadCatalog } from './explorer.js';

const VIEWS = {
  boxes: { init: initBoxes },
  oriented: { show: initOriented },
  curves: { init: initCurves, show: showCurves },
  dists: { init: initDists, show: showDists },
  api: { init: initExplorer, show: loadCatalog },
};
const started = new Set();

function tabs() {
  return [...document.querySelectorAll('[role="tab"]')];
}

async function show(name, focus) {
  for (const tab of tabs()) {
    const on = tab.id === `tab-${name}`;
    tab.setAttribute('aria-selected', String(on));
    tab.tabIndex = on ? 0 : -1;
    $(tab.getAttribute('aria-controls')).hidden = !on;
    if (on && focus) tab.focus();
  }
  history.replaceState(null, '', `#${name}`);
  const view = VIEWS[name];
  if (!started.has(name)) {
    started.add(name);
    if (view.init && name !== 'boxes') view.init();
    if (view.show) await view.show();
  }
  document.body.dataset.view = name;
}

function initTabs() {
  const list = tabs();
  list.forEach((tab, i) => {
    const name = tab.id.replace('tab-', '');
    tab.addEventListener('click', () => show(name, false).catch(showError));
    tab.addEventListener('keydown', (ev) => {
      const next = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: list.length - 1 }[ev.key];
      if (next === undefined) return;
      ev.preventDefault();
      const target = list[(next + list.length) % list.length];
      show(target.id.replace('tab-', ''), true).catch(showError);
    });
  });
}

function initKey() {
  $('api-key').value = apiKey();
  $('key-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    setApiKey($('api-key').value.trim());
    status('key set for this tab: reloading');
    location.reload();
  });
  $('key-forget').addEventListener('click', () => {
    setApiKey('');
    $('api-key').value = '';
    status('key forgotten');
  });
  onReply((code) => {
    if (code === 401) {
      $('key-box').open = true;
      status('This lossd needs an API key (it runs with --api-key-file): enter it under “API key”.', true);
    }
  });
}

initKey();
initTabs();
started.add('boxes');
initBoxes().catch(showError);
const first = location.hash.slice(1);
if (VIEWS[first] && first !== 'boxes') show(first, false).catch(showError);
// A hash changed after load (a link, an edited address, Back) shows its view;
// the tabs' own replaceState fires no hashchange.
window.addEventListener('hashchange', () => {
  const name = location.hash.slice(1);
  if (VIEWS[name]) show(name, false).catch(showError);
});
document.body.dataset.ready = 'true';
