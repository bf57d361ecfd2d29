// One connection's life: the flow (ends, processes, bytes, errors), its TCP state over time as the kernel
// reported it at each request (smoothed RTT, cwnd, retransmits), stored TCP samples, findings about it.
import { getJson } from './api.js';
import { lineChart } from './charts.js';
import { bytes, duration, esc } from './format.js';
import { isLive, onChange, rangeParams } from './state.js';
import { fmtMs } from './svcmap.js';
import { requestsTable } from './service.js';
import { findingCard } from './findings.js';

export function mount(el, params) {
  const id = params.get('id');
  if (!id) {
    el.innerHTML = '<div class="empty">Open a connection from a service page or the flow table.</div>';
    return () => {};
  }
  el.innerHTML = `<h2 class="page-title">Connection <code>${esc(id)}</code></h2>
    <div class="cards" id="facts"></div>
    <div class="chart-grid two">
      <section class="panel"><div class="body chart-box" id="ch-rtt"></div></section>
      <section class="panel"><div class="body chart-box" id="ch-retx"></div></section>
      <section class="panel"><div class="body chart-box" id="ch-cwnd"></div></section>
      <section class="panel"><div class="body chart-box" id="ch-dur"></div></section>
    </div>
    <section class="panel"><h2>Findings about this connection</h2><div class="body" id="findings"></div></section>
    <section class="panel"><h2>Slowest requests on it</h2><div class="table-wrap short" id="slow"></div></section>
    <section class="panel"><h2>What is and is not recorded</h2><div class="body muted" id="gaps"></div></section>`;
  const $ = (x) => el.querySelector('#' + x);
  const load = async () => {
    try {
      const c = await getJson(`/api/connections/${encodeURIComponent(id)}`, rangeParams());
      const f = c.flow;
      const s = c.summary;
      const errs = f ? Object.entries(f.errors ?? {}).map(([k, v]) => `${k} ${v}`).join(', ') : '';
      $('facts').innerHTML = [
        [f ? `${f.clientProc?.comm ?? '?'} → ${f.serverProc?.comm ?? f.server.ip}` : s ? `${s.client} → ${s.server}` : '–', f ? `${f.client.ip}:${f.client.port} → ${f.server.ip}:${f.server.port} (${f.proto})` : 'ends'],
        [f ? `${bytes(f.bytesClientToServer)} / ${bytes(f.bytesServerToClient)}` : '–', 'bytes → / ←'],
        [String(c.requests), `requests${s ? `, ${s.errors} errors` : ''}`],
        [s ? fmtMs(s.srttMs) : '–', `RTT now${s?.maxSrttMs !== undefined ? ` (max ${fmtMs(s.maxSrttMs)})` : ''}`],
        [f ? (f.closedNs ? `closed after ${duration(f.firstSeenNs, f.closedNs)}` : `open ${duration(f.firstSeenNs, f.lastSeenNs)}`) : '–', errs ? `socket errors: ${errs}` : 'state'],
      ].map(([v, k]) => `<div class="card"><div class="v small">${esc(v)}</div><div class="k">${esc(k)}</div></div>`).join('');
      const smp = c.samples;
      const t = smp.map((x) => x.t);
      // each end's socket has its own TCP state: the caller's (client) and the callee's (server) curves
      const bySide = (k, side) => smp.map((x) => (x.side === side && x[k] !== undefined ? x[k] : null));
      const sides = (k, colors) => ['client', 'server'].filter((sd) => smp.some((x) => x.side === sd && x[k] !== undefined))
        .map((sd, i) => ({ name: `${sd === 'client' ? "caller's" : "callee's"} socket`, values: bySide(k, sd), color: colors[i], gaps: false }));
      lineChart($('ch-rtt'), t, sides('srttMs', ['#4ea1ff', '#39c5cf']), { title: 'Smoothed RTT (kernel, at each request)', unit: fmtMs });
      lineChart($('ch-retx'), t, sides('totalRetrans', ['#f85149', '#d29922']), { title: 'Retransmitted segments (cumulative)', unit: (v) => v.toFixed(0), minMax: 2 });
      lineChart($('ch-cwnd'), t, sides('cwnd', ['#3fb950', '#bc8cff']), { title: 'Congestion window (segments)', unit: (v) => v.toFixed(0), minMax: 2 });
      lineChart($('ch-dur'), t, sides('durationMs', ['#bc8cff', '#d29922']).map((x) => ({ ...x, name: x.name.replace('socket', 'view') })), { title: 'Request latency on this connection', unit: fmtMs });
      $('findings').innerHTML = c.findings.length ? c.findings.map(findingCard).join('') : '<span class="muted">No TCP finding names this connection in the range.</span>';
      $('slow').innerHTML = requestsTable(c.slowest);
      $('gaps').innerHTML = `${smp.length} TCP snapshots (one per request, taken by the agent at the request's end); ${c.tcpSamples.length} stored periodic TCP samples.
        ${c.tcpSamples.length ? '' : 'The agent does not store periodic TCP samples yet, so RTT variance, the receive window and drops with their reasons over time are not available here; a connection without requests shows no TCP curve.'}`;
    } catch (e) {
      $('facts').innerHTML = `<div class="error-box">${esc(`Could not load: ${e.message}`)}</div>`;
    }
  };
  const off = onChange(() => void load());
  const timer = setInterval(() => { if (isLive()) void load(); }, 10_000);
  void load();
  return () => { off(); clearInterval(timer); };
}
