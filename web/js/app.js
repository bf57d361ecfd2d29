// The shell: hash router (#/page?query), time range picker and the live-connection indicator.
import * as overview from './overview.js';
import * as map from './map.js';
import * as placeholders from './placeholders.js';
import { getJson } from './api.js';
import { setRange, startLive, state } from './state.js';

const PAGES = { overview, map, findings: placeholders, rca: placeholders, business: placeholders, inject: placeholders };
const main = document.getElementById('page');
let unmount = () => {};

function route() {
  const [path, query] = location.hash.replace(/^#\/?/, '').split('?');
  const page = PAGES[path] ? path : 'overview';
  unmount();
  for (const a of document.querySelectorAll('#nav a')) a.classList.toggle('active', a.dataset.page === page);
  main.innerHTML = '';
  unmount = PAGES[page].mount(main, new URLSearchParams(query ?? ''), page) ?? (() => {});
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
    updateLive();
  });
}

const liveEl = document.getElementById('live');
const liveText = document.getElementById('live-text');
function updateLive() {
  const fixed = !state.range.last;
  liveEl.className = `live ${fixed ? '' : state.liveOn ? 'on' : 'off'}`;
  liveText.textContent = fixed ? 'paused (fixed range)' : state.liveOn ? 'live' : 'reconnecting';
}

async function status() {
  try {
    const h = await getJson('/api/health');
    document.getElementById('status').textContent = `faultlens ${h.version} · store ${h.store.engine} (${h.store.location}) · ${h.store.writtenRows} rows written`;
  } catch (e) {
    document.getElementById('status').textContent = `server unreachable: ${e.message}`;
  }
}

setupRange();
startLive(updateLive);
window.addEventListener('hashchange', route);
route();
void status();
setInterval(status, 10_000);
