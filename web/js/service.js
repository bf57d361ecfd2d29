// Service, endpoint and edge pages: RED over time (rate, errors, p50/p90/p99), the endpoints, the slowest
// requests with their call trees, and the TCP health of the connections involved.
import { getJson } from './api.js';
import { lineChart } from './charts.js';
import { esc } from './format.js';
import { isLive, onChange, rangeParams } from './state.js';
import { fmtMs, fmtPct, fmtRate } from './svcmap.js';
import { showTrace } from './trace.js';

const enc = encodeURIComponent;

export function subjectParams(params, page) {
  if (page === 'edge') return { from_service: params.get('from'), to_service: params.get('to') };
  const p = { service: params.get('name') };
  if (params.get('endpoint')) p.endpoint = params.get('endpoint');
  return p;
}

function title(params, page) {
  if (page === 'edge') return `<a href="#/service?name=${enc(params.get('from'))}">${esc(params.get('from'))}</a> → <a href="#/service?name=${enc(params.get('to'))}">${esc(params.get('to'))}</a> <span class="muted">calls (caller's view)</span>`;
  const s = params.get('name');
  const ep = params.get('endpoint');
  return ep ? `<a href="#/service?name=${enc(s)}">${esc(s)}</a> <span class="muted">endpoint</span> ${esc(ep)}` : `${esc(s)} <span class="muted">service</span>`;
}

export function connectionsTable(list) {
  if (!list.length) return '<div class="empty">No connections with requests in this range.</div>';
  return `<table class="flows"><thead><tr><th>connection</th><th>client → server</th><th class="num">requests</th><th class="num">errors</th><th class="num">p90</th><th class="num">RTT</th><th class="num">max RTT</th><th class="num">retx in requests</th><th class="num">retx total</th><th class="num">cwnd</th><th>state</th><th>host</th></tr></thead><tbody>${list.map((c) => `
    <tr class="${c.retransmits ? 'warnrow' : ''}"><td><a href="#/connection?id=${enc(c.flowId)}" title="${esc(c.flowId)}">${esc(c.peer || c.flowId)}</a></td><td>${esc(c.client)} → ${esc(c.server)}</td>
    <td class="num">${c.requests}</td><td class="num ${c.errors ? 'err' : ''}">${c.errors}</td><td class="num">${fmtMs(c.p90)}</td><td class="num">${fmtMs(c.srttMs)}</td><td class="num">${fmtMs(c.maxSrttMs)}</td>
    <td class="num ${c.retransmits ? 'err' : ''}">${c.retransmits}</td><td class="num">${c.totalRetrans ?? '–'}</td><td class="num">${c.cwnd ?? '–'}</td><td>${esc(c.state ?? '')}</td><td>${esc(c.host)}</td></tr>`).join('')}</tbody></table>`;
}

export function requestsTable(list, { withTrace = true } = {}) {
  if (!list.length) return '<div class="empty">No requests in this range.</div>';
  return `<table class="flows reqs"><thead><tr><th>time</th><th class="num">took</th><th>call</th><th>status</th><th>connection</th><th class="num">RTT</th><th class="num">retx</th>${withTrace ? '<th>trace</th>' : ''}</tr></thead><tbody>${list.map((r) => `
    <tr class="${r.error ? 'bad' : ''}"><td>${esc(new Date(r.startMs).toLocaleTimeString())}</td><td class="num">${fmtMs(r.durationMs)}</td>
    <td>${esc(r.client)} → ${esc(r.server)} <span class="tag">${esc(r.protocol)}</span> ${esc(r.method)} ${esc(r.endpoint)}</td><td class="${r.error ? 'err' : ''}">${esc(r.status)}</td>
    <td><a href="#/connection?id=${enc(r.flowId)}" class="addr">${esc(r.peer)}</a></td><td class="num">${r.tcp ? fmtMs(r.tcp.srttUs / 1000) : '–'}</td><td class="num ${r.tcp?.retransmits ? 'err' : ''}">${r.tcp ? r.tcp.retransmits : '–'}</td>
    ${withTrace ? `<td>${r.traceId ? `<button class="trace-btn" data-trace="${esc(r.traceId)}">call tree</button>` : '<span class="muted">–</span>'}</td>` : ''}</tr>`).join('')}</tbody></table>`;
}

export function mount(el, params, page) {
  const subject = subjectParams(params, page);
  if (!subject.service && !subject.from_service) {
    el.innerHTML = '<div class="empty">Pick a service on the <a href="#/map">service map</a> or search for one.</div>';
    return () => {};
  }
  const isService = page === 'service' && !subject.endpoint;
  el.innerHTML = `<h2 class="page-title">${title(params, page)}</h2>
    <div class="cards" id="totals"></div>
    <div class="chart-grid">
      <section class="panel"><div class="body chart-box" id="ch-rate"></div></section>
      <section class="panel"><div class="body chart-box" id="ch-err"></div></section>
      <section class="panel"><div class="body chart-box" id="ch-lat"></div></section>
    </div>
    ${isService ? '<section class="panel"><h2>Endpoints <span class="muted">server side, busiest first</span></h2><div class="table-wrap short" id="endpoints"></div></section>' : ''}
    <section class="panel"><h2>Slowest requests <span class="muted">click "call tree" for the trace</span></h2><div class="table-wrap short" id="slow"></div><div id="trace" class="body"></div></section>
    <section class="panel"><h2>TCP health of the connections <span class="muted">${isService ? 'served and called by this service' : 'carrying these requests'}; RTT / retransmits / cwnd from the kernel at each request</span></h2><div class="table-wrap short" id="conns"></div></section>`;
  const $ = (id) => el.querySelector('#' + id);
  let traceOpen;
  const load = async () => {
    const rp = rangeParams();
    try {
      const [r, slow, conns] = await Promise.all([
        getJson('/api/red', { ...rp, ...subject }),
        getJson('/api/requests/slowest', { ...rp, ...subject, limit: 15 }),
        getJson('/api/connections', { ...rp, ...subject, limit: 30 }),
      ]);
      const t = r.totals;
      $('totals').innerHTML = [
        [fmtRate(t.rate) + '/s', `rate (${t.count} requests)`],
        [fmtPct(t.errorPct), `errors (${t.errors})`, t.errors > 0],
        [fmtMs(t.p50), 'p50'], [fmtMs(t.p90), 'p90'], [fmtMs(t.p99), 'p99'],
      ].map(([v, k, bad]) => `<div class="card${bad ? ' bad' : ''}"><div class="v">${esc(v)}</div><div class="k">${esc(k)}</div></div>`).join('');
      const ts = r.series.map((p) => p.t + r.stepMs / 2);
      const has = (p) => p.count > 0;
      lineChart($('ch-rate'), ts, [{ name: 'req/s', values: r.series.map((p) => p.rate) }], { title: `Rate (per ${r.stepMs / 1000} s bucket)`, unit: (v) => fmtRate(v) });
      lineChart($('ch-err'), ts, [{ name: 'errors %', values: r.series.map((p) => (has(p) ? p.errorPct : null)), color: '#f85149' }], { title: 'Errors', unit: (v) => `${v.toFixed(v < 10 ? 1 : 0)} %`, minMax: 1 });
      lineChart($('ch-lat'), ts, [
        { name: 'p50', values: r.series.map((p) => (has(p) ? p.p50 : null)), color: '#3fb950' },
        { name: 'p90', values: r.series.map((p) => (has(p) ? p.p90 : null)), color: '#d29922' },
        { name: 'p99', values: r.series.map((p) => (has(p) ? p.p99 : null)), color: '#f85149' },
      ], { title: 'Latency', unit: fmtMs });
      if (isService) {
        $('endpoints').innerHTML = r.endpoints.length ? `<table class="flows"><thead><tr><th>endpoint</th><th class="num">requests</th><th class="num">rate</th><th class="num">errors</th><th class="num">p50</th><th class="num">p90</th><th class="num">p99</th></tr></thead><tbody>${r.endpoints.map((e) => `
          <tr><td><a href="#/service?name=${enc(subject.service)}&endpoint=${enc(e.endpoint)}">${esc(e.endpoint)}</a></td><td class="num">${e.count}</td><td class="num">${fmtRate(e.rate)}/s</td>
          <td class="num ${e.errors ? 'err' : ''}">${e.errors} (${fmtPct(e.errorPct)})</td><td class="num">${fmtMs(e.p50)}</td><td class="num">${fmtMs(e.p90)}</td><td class="num">${fmtMs(e.p99)}</td></tr>`).join('')}</tbody></table>` : '<div class="empty">No requests served in this range.</div>';
      }
      $('slow').innerHTML = requestsTable(slow.requests);
      $('conns').innerHTML = connectionsTable(conns.connections);
    } catch (e) {
      $('totals').innerHTML = `<div class="error-box">${esc(`Could not load: ${e.message}`)}</div>`;
    }
  };
  el.addEventListener('click', (e) => {
    const b = e.target.closest('button.trace-btn');
    if (!b) return;
    traceOpen = b.dataset.trace;
    void showTrace($('trace'), traceOpen, rangeParams());
  });
  const off = onChange(() => void load());
  const timer = setInterval(() => { if (isLive()) void load(); }, 10_000);
  void load();
  return () => { off(); clearInterval(timer); };
}

