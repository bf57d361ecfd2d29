// One connection's life: the flow (ends, processes, bytes, errors), its TCP state over time as the kernel
// reported it at each request (smoothed RTT, cwnd, retransmits) and in the agent's periodic TCP samples
// (RTT variance, windows, drops with their reasons), findings about it.
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
    <h2 class="page-title">Periodic TCP samples <code>each end of the connection, about once a second while it moves</code></h2>
    <div class="chart-grid two" id="periodic">
      <section class="panel"><div class="body chart-box" id="ch-p-rtt"></div></section>
      <section class="panel"><div class="body chart-box" id="ch-p-wnd"></div></section>
      <section class="panel"><div class="body chart-box" id="ch-p-cwnd"></div></section>
      <section class="panel"><div class="body chart-box" id="ch-p-retx"></div></section>
    </div>
    <section class="panel"><h2>Drops on this connection, by kernel reason</h2><div class="body" id="drops"></div></section>
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
      periodic(c.tcpSamples);
      $('findings').innerHTML = c.findings.length ? c.findings.map(findingCard).join('') : '<span class="muted">No TCP finding names this connection in the range.</span>';
      $('slow').innerHTML = requestsTable(c.slowest);
      $('gaps').innerHTML = `${smp.length} TCP snapshots (one per request, taken by the agent at the request's end); ${c.tcpSamples.length} stored periodic TCP samples
        (written while the connection moves data or changes state; an idle connection is not re-sampled).
        Not recorded: individual segments and ACKs (no segment/ACK ladder).`;
    } catch (e) {
      $('facts').innerHTML = `<div class="error-box">${esc(`Could not load: ${e.message}`)}</div>`;
    }
  };
  // the kernel's state of each end over time, from the stored periodic samples (one series per socket end)
  const periodic = (rows) => {
    const t = rows.map((r) => Number(r.ts_ns) / 1e6);
    const data = rows.map((r) => (typeof r.data === 'string' ? JSON.parse(r.data) : r.data ?? {}));
    const ends = [...new Set(data.map((d) => d.role ?? 'unknown'))].sort();
    const name = (end) => (end === 'client' ? "caller's" : end === 'server' ? "callee's" : end);
    const series = (pick, label, colors) => ends.map((end, i) => ({
      name: `${name(end)} ${label}`, color: colors[i % colors.length], gaps: false,
      values: rows.map((r, j) => ((data[j].role ?? 'unknown') === end ? pick(r, data[j]) : null)),
    }));
    const ms = (us) => (us === null || us === undefined ? null : Number(us) / 1000);
    lineChart($('ch-p-rtt'), t, [...series((r) => ms(r.srtt_us), 'srtt', ['#4ea1ff', '#39c5cf']), ...series((r) => ms(r.rttvar_us), 'rtt-var', ['#d29922', '#bc8cff'])], { title: 'Smoothed RTT and RTT variance', unit: fmtMs });
    lineChart($('ch-p-wnd'), t, [...series((_r, d) => d.sndWnd, 'peer window', ['#3fb950', '#39c5cf']), ...series((_r, d) => d.rcvWnd, 'own window', ['#bc8cff', '#d29922'])], { title: 'Receive windows (bytes)', unit: (v) => bytes(v) });
    lineChart($('ch-p-cwnd'), t, series((r) => Number(r.snd_cwnd), 'cwnd', ['#3fb950', '#bc8cff']), { title: 'Congestion window (segments)', unit: (v) => v.toFixed(0), minMax: 2 });
    lineChart($('ch-p-retx'), t, [...series((r) => Number(r.retrans), 'retransmits', ['#f85149', '#d29922']), ...series((_r, d) => d.drops, 'drops', ['#bc8cff', '#39c5cf'])], { title: 'Retransmitted segments and drops (cumulative)', unit: (v) => v.toFixed(0), minMax: 2 });
    const last = new Map();
    data.forEach((d) => { if (d.dropReasons) last.set(d.role ?? 'unknown', d.dropReasons); });
    $('drops').innerHTML = last.size
      ? [...last].map(([end, rs]) => `<div><b>${esc(name(end))} end</b>: ${Object.entries(rs).map(([k, v]) => `${esc(k)} ${v}`).join(', ')}</div>`).join('')
      : '<span class="muted">The kernel dropped nothing on this connection in the range.</span>';
  };
  const off = onChange(() => void load());
  const timer = setInterval(() => { if (isLive()) void load(); }, 10_000);
  void load();
  return () => { off(); clearInterval(timer); };
}
