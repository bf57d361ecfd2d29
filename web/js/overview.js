// Overview: headline numbers, live throughput, and the flow table (search, sort, live merge).
import uPlot from '/vendor/uplot/uPlot.esm.js';
import { getJson } from './api.js';
import { bytes, count, duration, ago, esc, errorsTotal, endpoint } from './format.js';
import { isLive, onChange, onLive, rangeParams } from './state.js';

const COLUMNS = [
  { key: 'client', label: 'Client', sort: (f) => f.clientProc?.comm ?? f.client.ip },
  { key: 'server', label: 'Server', sort: (f) => f.serverProc?.comm ?? f.server.ip },
  { key: 'proto', label: 'Proto', sort: (f) => f.proto },
  { key: 'bytes', label: 'Bytes', num: true, sort: (f) => f.bytesClientToServer + f.bytesServerToClient },
  { key: 'c2s', label: 'C→S', num: true, sort: (f) => f.bytesClientToServer },
  { key: 's2c', label: 'S→C', num: true, sort: (f) => f.bytesServerToClient },
  { key: 'calls', label: 'Calls', num: true, sort: (f) => f.callsClientToServer + f.callsServerToClient },
  { key: 'errors', label: 'Errors', num: true, sort: (f) => errorsTotal(f) },
  { key: 'duration', label: 'Duration', num: true, sort: (f) => Number(BigInt(f.closedNs ?? f.lastSeenNs) - BigInt(f.firstSeenNs)) },
  { key: 'state', label: 'State', sort: (f) => (f.closedNs ? 1 : 0) },
  { key: 'host', label: 'Host', sort: (f) => f.host },
  { key: 'updated', label: 'Updated', num: true, sort: (f) => Number(BigInt(f.tsNs) / 1000000n) },
];

/** "port:80 ip:10.0.0.1 nginx" -> predicate. Keys: ip, port, pid, comm, host, proto; bare words match any. */
export function parseSearch(text) {
  const terms = text.trim().toLowerCase().split(/\s+/).filter(Boolean).map((t) => {
    const m = /^(ip|port|pid|comm|host|proto):(.+)$/.exec(t);
    return m ? { key: m[1], value: m[2] } : { key: '*', value: t };
  });
  const fields = (f) => ({
    ip: [f.client.ip, f.server.ip],
    port: [String(f.client.port), String(f.server.port)],
    pid: [f.clientProc?.pid, f.serverProc?.pid].filter((x) => x !== undefined).map(String),
    comm: [f.clientProc?.comm, f.serverProc?.comm].filter(Boolean).map((s) => s.toLowerCase()),
    host: [f.host.toLowerCase()],
    proto: [f.proto],
  });
  return (f) => {
    const v = fields(f);
    return terms.every((t) =>
      t.key === '*' ? Object.values(v).some((xs) => xs.some((x) => x.toLowerCase().includes(t.value))) : v[t.key].some((x) => (t.key === 'comm' || t.key === 'host' ? x.includes(t.value) : x === t.value)),
    );
  };
}

function side(proc, ep) {
  const who = proc ? `<span class="proc" title="pid ${proc.pid}">${esc(proc.comm)}</span><span class="addr">/${proc.pid} </span>` : '';
  return `${who}<span class="addr">${esc(endpoint(ep))}</span>`;
}

function cell(f, key) {
  switch (key) {
    case 'client': return side(f.clientProc, f.client);
    case 'server': return side(f.serverProc, f.server);
    case 'proto': return `<span class="tag">${f.proto}</span>`;
    case 'bytes': return bytes(f.bytesClientToServer + f.bytesServerToClient);
    case 'c2s': return bytes(f.bytesClientToServer);
    case 's2c': return bytes(f.bytesServerToClient);
    case 'calls': return count(f.callsClientToServer + f.callsServerToClient);
    case 'errors': {
      const n = errorsTotal(f);
      return n ? `<span title="${esc(Object.entries(f.errors).map(([k, v]) => `${k}: ${v}`).join(', '))}">${n}</span>` : '0';
    }
    case 'duration': return duration(f.firstSeenNs, f.closedNs ?? f.lastSeenNs);
    case 'state': return f.closedNs ? '<span class="tag closed">closed</span>' : '<span class="tag open">open</span>';
    case 'host': return esc(f.host);
    case 'updated': return ago(f.tsNs);
  }
}

export function mount(el, params) {
  el.innerHTML = `
    <div class="cards">
      <div class="card"><div class="v" id="c-flows">–</div><div class="k">flows</div></div>
      <div class="card"><div class="v" id="c-bytes">–</div><div class="k">bytes moved</div></div>
      <div class="card"><div class="v" id="c-procs">–</div><div class="k">processes</div></div>
      <div class="card" id="c-err-card"><div class="v" id="c-errors">–</div><div class="k">socket errors</div></div>
      <div class="card"><div class="v" id="c-hosts">–</div><div class="k">hosts</div></div>
    </div>
    <section class="panel">
      <h2>Throughput (live, bytes/s)<span class="spacer"></span><span class="muted" id="chart-note"></span></h2>
      <div class="body"><div class="chart" id="chart"></div></div>
    </section>
    <section class="panel">
      <h2>Flows <span class="muted" id="flow-count"></span><span class="spacer"></span>
        <span class="toolbar"><input type="search" id="search" placeholder="search: 10.0.0.2  port:6379  pid:1234  comm:nginx  host:…"></span>
      </h2>
      <div class="table-wrap"><table class="flows"><thead><tr>${COLUMNS.map((c) => `<th data-key="${c.key}" class="${c.num ? 'num' : ''}">${c.label}</th>`).join('')}</tr></thead><tbody id="rows"></tbody></table>
      <div class="empty" id="empty" hidden>No flows in this time range.</div></div>
    </section>`;
  const $ = (id) => el.querySelector('#' + id);
  const flows = new Map(); // host|id -> flow
  const fresh = new Set();
  let sortKey = 'bytes';
  let asc = false;
  let dirty = true;
  const search = $('search');
  if (params.get('q')) search.value = params.get('q');

  // live throughput: per-second sums of byte deltas between successive snapshots of each flow
  const seconds = [];
  const rates = [];
  const chart = new uPlot(
    {
      width: $('chart').clientWidth || 1000, height: 120, legend: { show: false },
      scales: { x: { time: true, range: (_u, _min, max) => [max - 300, max] } }, // a steady 5-minute window
      axes: [{ stroke: '#8a99a8', grid: { stroke: '#2a3541' } }, { stroke: '#8a99a8', grid: { stroke: '#2a3541' }, values: (_u, v) => v.map((x) => bytes(x)), size: 70 }],
      series: [{}, { label: 'bytes/s', stroke: '#4ea1ff', fill: 'rgba(78,161,255,.15)', width: 1.5 }],
    },
    [seconds, rates],
    $('chart'),
  );
  const pushRate = (deltaBytes) => {
    const now = Math.floor(Date.now() / 1000);
    if (seconds.length === 0 || seconds[seconds.length - 1] !== now) {
      seconds.push(now);
      rates.push(0);
      while (seconds.length > 300) { seconds.shift(); rates.shift(); }
    }
    rates[rates.length - 1] += deltaBytes;
  };

  const load = async () => {
    try {
      const { flows: list } = await getJson('/api/flows', { ...rangeParams(), limit: 5000 });
      flows.clear();
      for (const f of list) flows.set(`${f.host}|${f.id}`, f);
      dirty = true;
      $('chart-note').textContent = isLive() ? '' : 'live chart is off for a fixed range';
    } catch (e) {
      $('rows').innerHTML = `<tr><td colspan="${COLUMNS.length}" class="error-box">Could not load flows: ${esc(e.message)}</td></tr>`;
    }
  };

  const render = () => {
    if (!dirty) return;
    dirty = false;
    const match = parseSearch(search.value);
    const col = COLUMNS.find((c) => c.key === sortKey);
    const list = [...flows.values()].filter(match).sort((a, b) => {
      const x = col.sort(a), y = col.sort(b);
      return (x < y ? -1 : x > y ? 1 : 0) * (asc ? 1 : -1);
    });
    const shown = list.slice(0, 500);
    $('rows').innerHTML = shown
      .map((f) => {
        const k = `${f.host}|${f.id}`;
        return `<tr class="${fresh.has(k) ? 'fresh' : ''}" title="${esc(f.id)} (click: connection view)" data-id="${esc(f.id)}">${COLUMNS.map((c) => `<td class="${c.num ? 'num' : ''}${c.key === 'errors' && errorsTotal(f) ? ' err' : ''}">${cell(f, c.key)}</td>`).join('')}</tr>`;
      })
      .join('');
    fresh.clear();
    $('empty').hidden = list.length > 0;
    $('flow-count').textContent = list.length === flows.size ? `${flows.size}` : `${list.length} of ${flows.size}`;
    if (list.length > shown.length) $('flow-count').textContent += ` (showing ${shown.length})`;
    for (const th of el.querySelectorAll('th')) {
      th.classList.toggle('sorted', th.dataset.key === sortKey);
      th.classList.toggle('asc', th.dataset.key === sortKey && asc);
    }
    const all = [...flows.values()];
    const errors = all.reduce((a, f) => a + errorsTotal(f), 0);
    $('c-flows').textContent = count(all.length);
    $('c-bytes').textContent = bytes(all.reduce((a, f) => a + f.bytesClientToServer + f.bytesServerToClient, 0));
    $('c-procs').textContent = count(new Set(all.flatMap((f) => [f.clientProc, f.serverProc].filter(Boolean).map((p) => `${p.pid}`))).size);
    $('c-errors').textContent = count(errors);
    $('c-err-card').classList.toggle('bad', errors > 0);
    $('c-hosts').textContent = count(new Set(all.map((f) => f.host)).size);
  };

  el.querySelector('thead').addEventListener('click', (e) => {
    const key = e.target.closest('th')?.dataset.key;
    if (!key) return;
    if (key === sortKey) asc = !asc;
    else { sortKey = key; asc = !COLUMNS.find((c) => c.key === key).num; }
    dirty = true;
    render();
  });
  search.addEventListener('input', () => { dirty = true; render(); });
  $('rows').addEventListener('click', (e) => {
    const tr = e.target.closest('tr[data-id]');
    if (tr) location.hash = `#/connection?id=${encodeURIComponent(tr.dataset.id)}`;
  });

  const offLive = onLive((type, d) => {
    if (type !== 'flows' || !isLive()) return;
    let delta = 0;
    for (const f of d.flows) {
      const k = `${f.host}|${f.id}`;
      const prev = flows.get(k);
      // a flow not seen before adds nothing: its bytes may span its whole life, not this second
      if (prev) delta += f.bytesClientToServer + f.bytesServerToClient - prev.bytesClientToServer - prev.bytesServerToClient;
      flows.set(k, f);
      fresh.add(k);
    }
    pushRate(Math.max(0, delta));
    dirty = true;
  });
  const offRange = onChange(() => void load());
  const tick = setInterval(() => {
    render();
    // only whole seconds: the one in progress would always look like a dip
    const done = seconds[seconds.length - 1] === Math.floor(Date.now() / 1000) ? seconds.length - 1 : seconds.length;
    if (done > 0) chart.setData([seconds.slice(0, done), rates.slice(0, done)]);
  }, 1000);
  const refresh = setInterval(() => { if (isLive()) void load(); }, 30_000); // drop flows that left the window
  const resize = () => chart.setSize({ width: $('chart').clientWidth, height: 120 });
  window.addEventListener('resize', resize);
  void load().then(render);
  return () => {
    offLive(); offRange(); clearInterval(tick); clearInterval(refresh);
    window.removeEventListener('resize', resize);
    chart.destroy();
  };
}
