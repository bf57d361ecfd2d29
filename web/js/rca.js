// Root cause: the incidents found over the stored request records (the `faultlens rca` pipeline, run by
// the server), each with its ranked candidates and their evidence; the service map with the faulty
// interface highlighted and the affected call chains drawn.
import { getJson } from './api.js';
import { esc } from './format.js';
import { isLive, onChange, rangeParams } from './state.js';
import { renderServiceGraph } from './svcmap.js';
import { around } from './map.js';

const enc = encodeURIComponent;
const time = (t) => new Date(t).toLocaleTimeString();

function focusLink(f) {
  if (!f) return '';
  if (f.kind === 'edge' || f.kind === 'connection') return `#/edge?from=${enc(f.from)}&to=${enc(f.to)}`;
  if (f.kind === 'endpoint') return `#/service?name=${enc(f.service)}&endpoint=${enc(f.endpoint)}`;
  if (f.service) return `#/service?name=${enc(f.service)}`;
  return '';
}

export function mount(el) {
  el.innerHTML = `<h2 class="page-title">Root cause <span class="muted" id="src"></span></h2>
    <section class="panel"><h2>Faulty interface on the map <span class="spacer"></span><span class="legend inline"><span><i class="focus"></i>root cause</span><span><i class="chain"></i>affected call chain</span></span></h2>
      <svg class="map rca" id="rca-map" preserveAspectRatio="xMidYMin meet"></svg></section>
    <div class="rca-grid">
      <section class="panel"><h2>Incidents</h2><div id="incidents" class="body"></div></section>
      <section class="panel"><h2>Ranked candidates <span class="muted" id="inc-title"></span></h2><div id="cands" class="body"></div></section>
    </div>`;
  const $ = (x) => el.querySelector('#' + x);
  let data = { incidents: [] };
  let graph = { nodes: [], edges: [] };
  let selected = 0;
  const show = () => {
    const inc = data.incidents[selected];
    $('incidents').innerHTML = data.incidents.length ? data.incidents.map((x, i) => `
      <div class="incident${i === selected ? ' sel' : ''}" data-i="${i}"><b>${esc(x.rca.faultyInterface)}</b> <span class="muted">confidence ${(x.rca.confidence * 100).toFixed(0)} %</span><br>
      <span class="muted">${esc(x.report.id)} · ${time(x.report.start)} → ${x.report.end ? time(x.report.end) : 'ongoing'} · ${x.report.symptoms} symptom(s) on ${esc(x.report.services.join(', '))}</span></div>`).join('')
      : '<div class="empty">No incident in this time range: the detectors saw no anomaly in the request rates, errors or latencies.</div>';
    // only the services connected to the faulty interface: other traffic on the host is not part of it
    const at = inc?.focus?.service ?? inc?.focus?.to;
    renderServiceGraph($('rca-map'), at ? around(graph, at) : graph, { width: $('rca-map').clientWidth || 1200, minHeight: 200, focus: inc?.focus, chains: inc?.rca.chains ?? [] });
    if (!inc) { $('cands').innerHTML = ''; $('inc-title').textContent = ''; return; }
    $('inc-title').textContent = inc.report.id;
    const link = focusLink(inc.focus);
    $('cands').innerHTML = `<div class="verdict">Root cause: <b class="bad">${esc(inc.rca.faultyInterface)}</b> ${link ? `<a href="${link}">open →</a>` : ''}
        <span class="muted">· confidence ${(inc.rca.confidence * 100).toFixed(0)} % · detected ${inc.report.detectedAfterS.toFixed(1)} s after onset</span></div>
      ${inc.rca.chains.length ? `<div class="chains"><span class="lbl">affected call chains</span> ${inc.rca.chains.map((c) => `<code>${esc(c.join(' → '))}</code>`).join(' ')}</div>` : ''}
      <ol class="cands">${inc.rca.candidates.slice(0, 8).map((c, i) => `
        <li class="cand${i === 0 ? ' best' : ''}"><div><b>${esc(c.label)}</b> <span class="muted">score ${c.score.toFixed(2)}</span>
          ${c.origin ? '<span class="tag open">origin</span>' : `<span class="tag">propagated${c.explainedBy.length ? ` from ${esc(c.explainedBy.slice(0, 2).join(', '))}` : ''}</span>`}</div>
          <div class="evidence-lines">${c.evidence.slice(0, 5).map((e) => `<div>${esc(e)}</div>`).join('')}</div>
          ${c.explains.length ? `<div class="muted">explains ${esc(c.explains.slice(0, 5).join(', '))}${c.explains.length > 5 ? ' …' : ''}</div>` : ''}</li>`).join('')}</ol>
      <details><summary>incident timeline</summary>${inc.report.timeline.map((e) => `<div><span class="muted">${time(e.t)}</span> ${esc(e.what)}</div>`).join('')}</details>`;
  };
  el.addEventListener('click', (e) => {
    const d = e.target.closest('.incident');
    if (d) { selected = Number(d.dataset.i); show(); return; }
    const n = e.target.closest('g.svcnode');
    if (n) location.hash = `#/service?name=${enc(n.dataset.service)}`;
    const ed = e.target.closest('g.svcedge');
    if (ed) location.hash = `#/edge?from=${enc(ed.dataset.from)}&to=${enc(ed.dataset.to)}`;
  });
  const load = async () => {
    try {
      [data, graph] = await Promise.all([getJson('/api/rca', rangeParams()), getJson('/api/services', rangeParams())]);
      if (selected >= data.incidents.length) selected = 0;
      $('src').textContent = data.source;
      show();
    } catch (e) {
      $('incidents').innerHTML = `<div class="error-box">${esc(`Could not run the analysis: ${e.message}`)}</div>`;
    }
  };
  const off = onChange(() => void load());
  const timer = setInterval(() => { if (isLive()) void load(); }, 15_000);
  void load();
  return () => { off(); clearInterval(timer); };
}
