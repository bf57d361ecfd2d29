// The shell: hash router (#/page?query), time range picker and the live-connection indicator.
import * as overview from './overview.js';
import * as map from './map.js';
import * as service from './service.js';
import * as connection from './connection.js';
import * as findings from './findings.js';
import * as rca from './rca.js';
import * as business from './business.js';
import * as inject from './inject.js';
import { getJson } from './api.js';
import { esc } from './format.js';
import { rangeParams, setRange, startLive, state } from './state.js';

const PAGES = { overview, map, service, edge: service, connection, findings, rca, business, inject };
// pages reached by click-through light up the nav entry they belong to
const NAV_OF = { service: 'map', edge: 'map', connection: 'map' };
const main = document.getElementById('page');
let unmount = () => {};

function route() {
  const [path, query] = location.hash.replace(/^#\/?/, '').split('?');
  const page = PAGES[path] ? path : 'overview';
  unmount();
  for (const a of document.querySelectorAll('#nav a')) a.classList.toggle('active', a.dataset.page === (NAV_OF[page] ?? page));
  document.body.dataset.page = page;
  // a fresh container per visit: a page's late answers land in its own (now detached) nodes
  const el = document.createElement('div');
  el.className = `page page-${page}`;
  main.replaceChildren(el);
  unmount = PAGES[page].mount(el, new URLSearchParams(query ?? ''), page) ?? (() => {});
}

function toLocalInput(d) {
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

function setupRange() {
  const sel = document.getElementById('range-select');
  const custom = document.getElementById('range-custom');
  const from = document.getElementById('range-from');
  const to = document.getElementById('range-to');
  sel.addEventListener('change', () => {
    custom.hidden = sel.value !== 'custom';
    if (sel.value === 'custom') {
      const now = new Date();
      from.value = toLocalInput(new Date(now.getTime() - 3600e3));
      to.value = toLocalInput(now);
    } else setRange({ last: sel.value });
    updateLive();
  });
  document.getElementById('range-apply').addEventListener('click', () => {
    const f = new Date(from.value), t = new Date(to.value);
    if (isNaN(f) || isNaN(t) || f >= t) return alert('Pick a start before the end.');
    setRange({ from: f.toISOString(), to: t.toISOString() });
    custom.hidden = true; // the live indicator shows the range; clicking it reopens the editor
    updateLive();
  });
}

const liveEl = document.getElementById('live');
const liveText = document.getElementById('live-text');
function updateLive() {
  const fixed = !state.range.last;
  liveEl.className = `live ${fixed ? '' : state.liveOn ? 'on' : 'off'}`;
  const hm = (iso) => new Date(iso).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  liveText.textContent = fixed ? `paused ${hm(state.range.from)}–${hm(state.range.to)}` : state.liveOn ? 'live' : 'reconnecting';
  liveEl.title = fixed ? 'fixed range (click to change it)' : 'Live updates over /api/live';
}

async function status() {
  try {
    const h = await getJson('/api/health');
    document.getElementById('status').textContent = `faultlens ${h.version} · store ${h.store.engine} (${h.store.location}) · ${h.store.writtenRows} rows written`;
  } catch (e) {
    document.getElementById('status').textContent = `server unreachable: ${e.message}`;
  }
}

/** Header search: services, endpoints, IPs, ports, pids -> the page that shows them. */
function setupSearch() {
  const input = document.getElementById('gsearch');
  const box = document.getElementById('gsearch-results');
  let seq = 0;
  const run = async () => {
    const q = input.value.trim();
    const mine = ++seq;
    if (!q) { box.hidden = true; return; }
    try {
      const { results } = await getJson('/api/search', { ...rangeParams(), q });
      if (mine !== seq) return;
      box.innerHTML = results.length ? results.map((r, i) => `<a href="${esc(r.link)}" class="${i === 0 ? 'first' : ''}"><span class="tag">${esc(r.kind)}</span> ${esc(r.label)}</a>`).join('') : '<div class="muted">nothing matches</div>';
      box.hidden = false;
    } catch (e) {
      box.innerHTML = `<div class="err">${esc(e.message)}</div>`;
      box.hidden = false;
    }
  };
  let timer;
  input.addEventListener('input', () => { clearTimeout(timer); timer = setTimeout(run, 200); });
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter') { const a = box.querySelector('a'); if (a) { location.hash = a.getAttribute('href'); box.hidden = true; } }
    if (e.key === 'Escape') box.hidden = true;
  });
  box.addEventListener('click', () => { box.hidden = true; });
  document.addEventListener('click', (e) => { if (!e.target.closest('.gsearch')) box.hidden = true; });
}

setupRange();
setupSearch();
liveEl.addEventListener('click', () => {
  if (!state.range.last) document.getElementById('range-custom').hidden = false;
});
startLive(updateLive);
window.addEventListener('hashchange', route);
route();
void status();
setInterval(status, 10_000);
