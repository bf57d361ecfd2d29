// Findings and alerts on one timeline: TCP findings (with their evidence, why it matters and the fix),
// alerts and incidents detected over the request records, injected faults. A strip shows when; the list
// below shows what and the proof.
import { getJson } from './api.js';
import { esc } from './format.js';
import { isLive, onChange, onLive, rangeParams } from './state.js';

const SEV_ORDER = { critical: 0, warning: 1, info: 2 };
const TYPES = ['finding', 'alert', 'incident', 'fault'];

function fmtVal(v) {
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : v.toFixed(Math.abs(v) < 10 ? 3 : 1);
  return String(v);
}

export function evidenceTable(ev) {
  const rows = Object.entries(ev ?? {});
  if (!rows.length) return '';
  return `<div class="evidence">${rows.map(([k, v]) => `<span class="kv"><span class="k">${esc(k)}</span> <span class="v">${esc(fmtVal(v))}</span></span>`).join('')}</div>`;
}

export function findingCard(e) {
  const when = `${new Date(e.t).toLocaleTimeString()}${e.endT && e.endT !== e.t ? ` → ${new Date(e.endT).toLocaleTimeString()}` : ''}`;
  return `<article class="event ${esc(e.type)} sev-${esc(e.severity)}" data-id="${esc(e.id)}">
    <header><span class="sev">${esc(e.severity)}</span><span class="tag">${esc(e.type)}${e.data?.kind ? ` · ${esc(e.data.kind)}` : ''}</span><b>${esc(e.title)}</b><span class="spacer"></span><span class="muted">${esc(when)}</span></header>
    <div class="subject muted">${esc(e.subject)}</div>
    ${e.evidence && Object.keys(e.evidence).length ? `<div class="ev"><div class="lbl">evidence</div>${evidenceTable(e.evidence)}</div>` : ''}
    ${e.why ? `<div class="why"><span class="lbl">why it matters</span> ${esc(e.why)}</div>` : ''}
    ${e.fix ? `<div class="fix"><span class="lbl">fix</span> ${esc(e.fix)}</div>` : ''}
  </article>`;
}

function strip(events, fromMs, toMs, width) {
  const H = 90, L = 70, R = 10;
  const x = (t) => L + ((Math.min(Math.max(t, fromMs), toMs) - fromMs) / Math.max(1, toMs - fromMs)) * (width - L - R);
  const lane = (type) => 12 + TYPES.indexOf(type) * 19;
  const lanes = TYPES.map((tp) => `<text x="4" y="${lane(tp) + 4}" class="axis">${tp}s</text><line x1="${L}" x2="${width - R}" y1="${lane(tp)}" y2="${lane(tp)}" class="grid"/>`).join('');
  const marks = events.map((e, i) => {
    const x1 = x(e.t);
    const x2 = e.endT ? Math.max(x1 + 3, x(e.endT)) : x1 + 3;
    return `<rect class="mark sev-${esc(e.severity)}" data-i="${i}" x="${x1}" y="${lane(e.type) - 5}" width="${x2 - x1}" height="10" rx="2"><title>${esc(`${new Date(e.t).toLocaleTimeString()} ${e.title}`)}</title></rect>`;
  }).join('');
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => {
    const t = fromMs + f * (toMs - fromMs);
    return `<text x="${x(t)}" y="${H - 2}" text-anchor="${f === 0 ? 'start' : f === 1 ? 'end' : 'middle'}" class="axis">${esc(new Date(t).toLocaleTimeString())}</text>`;
  }).join('');
  return `<svg class="timeline" width="${width}" height="${H}" viewBox="0 0 ${width} ${H}">${lanes}${marks}${ticks}</svg>`;
}

export function mount(el) {
  el.innerHTML = `<h2 class="page-title">Findings &amp; alerts</h2>
    <section class="panel"><h2>Timeline <span class="muted" id="tl-count"></span><span class="spacer"></span>
      <span class="toolbar">${TYPES.map((t) => `<label class="chk"><input type="checkbox" data-type="${t}" checked> ${t}s</label>`).join('')}
      <select id="sev"><option value="">any severity</option><option value="warning">warning and worse</option><option value="critical">critical</option></select></span></h2>
      <div class="body" id="strip"></div></section>
    <div id="list"></div>`;
  const $ = (x) => el.querySelector('#' + x);
  let data = { events: [], fromMs: Date.now() - 900e3, toMs: Date.now() };
  let shown = [];
  const render = () => {
    const on = new Set([...el.querySelectorAll('input[data-type]:checked')].map((i) => i.dataset.type));
    const sev = $('sev').value;
    shown = data.events.filter((e) => on.has(e.type) && (!sev || (SEV_ORDER[e.severity] ?? 3) <= SEV_ORDER[sev]));
    $('tl-count').textContent = `${shown.length} of ${data.events.length} events · ${data.incidents ?? 0} incident(s)`;
    // the strip spans from a minute before the first event: a burst does not shrink to a sliver of the range
    const first = Math.min(...shown.map((e) => e.t));
    const from = Number.isFinite(first) ? Math.max(data.fromMs, Math.min(first - 60_000, data.toMs - 120_000)) : data.fromMs;
    $('strip').innerHTML = strip(shown, from, data.toMs, $('strip').clientWidth - 4 || 1200);
    const list = [...shown].reverse(); // newest first
    $('list').innerHTML = list.length ? list.map(findingCard).join('') : '<div class="empty">No findings, alerts or faults in this time range.</div>';
  };
  el.addEventListener('change', (e) => { if (e.target.matches('input[data-type], #sev')) render(); });
  el.addEventListener('click', (e) => {
    const m = e.target.closest('rect.mark');
    if (!m) return;
    const ev = shown[Number(m.dataset.i)];
    const card = ev && el.querySelector(`article.event[data-id="${CSS.escape(ev.id)}"]`);
    if (card) { card.scrollIntoView({ block: 'center' }); card.classList.add('flash'); setTimeout(() => card.classList.remove('flash'), 1200); }
  });
  const load = async () => {
    try {
      data = await getJson('/api/timeline', rangeParams());
      render();
    } catch (e) {
      $('list').innerHTML = `<div class="error-box">${esc(`Could not load the timeline: ${e.message}`)}</div>`;
    }
  };
  const off = onChange(() => void load());
  const timer = setInterval(() => { if (isLive()) void load(); }, 10_000);
  // a new finding, alert or fault shows at once (the stream says which table got rows)
  let soon;
  const offLive = onLive((type, d) => {
    if (type !== 'records' || !isLive() || !['findings', 'alerts', 'faults'].includes(d.table)) return;
    clearTimeout(soon);
    soon = setTimeout(() => void load(), 300);
  });
  void load();
  return () => { off(); offLive(); clearInterval(timer); clearTimeout(soon); };
}
