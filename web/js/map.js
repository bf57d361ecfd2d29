// Service/host map: processes and IPs as nodes, flows aggregated into edges (bytes, errors), laid out
// left to right in layers (callers left of the services they call).
import { getJson } from './api.js';
import { bytes, count, esc } from './format.js';
import { isLive, onChange, rangeParams } from './state.js';
import { renderServiceGraph } from './svcmap.js';

const NODE_W = 170;
const NODE_H = 40;
const ROW_H = 64;

/** Layers by longest path from the callers; cycles are cut by capping the layer at the node count. */
export function layout(nodes, edges, width, nodeW = NODE_W) {
  const layer = new Map(nodes.map((n) => [n.id, 0]));
  for (let i = 0; i < nodes.length; i++) {
    let changed = false;
    for (const e of edges) {
      if (e.source === e.target) continue;
      const want = Math.min(layer.get(e.source) + 1, nodes.length);
      if (layer.get(e.target) < want) { layer.set(e.target, want); changed = true; }
    }
    if (!changed) break;
  }
  const used = [...new Set(layer.values())].sort((a, b) => a - b); // compact empty layers
  const columns = used.map((l) => nodes.filter((n) => layer.get(n.id) === l));
  const pos = new Map();
  columns.forEach((col, ci) => {
    // order by the mean row of each node's callers, so edges cross less
    const key = (n) => {
      const ys = edges.filter((e) => e.target === n.id && pos.has(e.source)).map((e) => pos.get(e.source).y);
      return ys.length ? ys.reduce((a, b) => a + b, 0) / ys.length : 0;
    };
    if (ci > 0) col.sort((a, b) => key(a) - key(b) || a.label.localeCompare(b.label));
    else col.sort((a, b) => a.label.localeCompare(b.label));
    const colW = columns.length > 1 ? (width - 40 - nodeW) / (columns.length - 1) : 0;
    col.forEach((n, ri) => pos.set(n.id, { x: 20 + (columns.length > 1 ? ci * colW : (width - nodeW) / 2), y: 30 + ri * ROW_H }));
  });
  const height = Math.max(...columns.map((c) => c.length), 1) * ROW_H + 40;
  return { pos, height, columns: columns.length };
}

function render(svg, data, width) {
  const { nodes, edges } = data;
  if (nodes.length === 0) {
    svg.innerHTML = `<text x="${width / 2}" y="80" text-anchor="middle" fill="#8a99a8">No flows in this time range.</text>`;
    svg.setAttribute('viewBox', `0 0 ${width} 160`);
    return;
  }
  const { pos, height } = layout(nodes, edges, width);
  svg.setAttribute('viewBox', `0 0 ${width} ${Math.max(height, 300)}`);
  const edgeSvg = edges.map((e) => {
    const a = pos.get(e.source), b = pos.get(e.target);
    const total = Number(e.bytesClientToServer) + Number(e.bytesServerToClient);
    const w = Math.min(8, 1 + Math.log10(1 + total / 1024) * 1.5);
    const err = Number(e.errors) > 0;
    let d, lx, ly;
    if (e.source === e.target) {
      d = `M${a.x + NODE_W - 30},${a.y} c 20,-40 50,-10 30,10`;
      lx = a.x + NODE_W; ly = a.y - 18;
    } else {
      const x1 = a.x + NODE_W, y1 = a.y + NODE_H / 2, x2 = b.x, y2 = b.y + NODE_H / 2;
      const dx = Math.max(40, (x2 - x1) / 2);
      d = `M${x1},${y1} C${x1 + dx},${y1} ${x2 - dx},${y2} ${x2},${y2}`;
      lx = (x1 + x2) / 2; ly = (y1 + y2) / 2 - 4;
    }
    const label = `${e.proto}/${e.port} · ${bytes(total)}${err ? ` · ${count(e.errors)} err` : ''}`;
    const title = `${e.source} → ${e.target} ${e.proto}/${e.port}\n${e.flows} flows, ${bytes(e.bytesClientToServer)} →, ${bytes(e.bytesServerToClient)} ←, ${e.calls} calls, ${e.errors} errors`;
    return `<g class="edge${err ? ' err' : ''}"><title>${esc(title)}</title><path d="${d}" stroke-width="${w.toFixed(1)}" marker-end="url(#arrow${err ? '-err' : ''})"/><text x="${lx}" y="${ly}" text-anchor="middle">${esc(label)}</text></g>`;
  });
  const nodeSvg = nodes.map((n) => {
    const p = pos.get(n.id);
    const sub = n.kind === 'process' ? n.ips.slice(0, 2).join(', ') + (n.ips.length > 2 ? ` +${n.ips.length - 2}` : '') : 'external / not traced';
    return `<g class="node ${n.kind}" data-kind="${n.kind}" data-label="${esc(n.label)}" transform="translate(${p.x},${p.y})"><title>${esc(n.label)}\n${esc(n.ips.join('\n'))}</title>
      <rect width="${NODE_W}" height="${NODE_H}" rx="6"/><text x="10" y="16">${esc(n.label.length > 22 ? n.label.slice(0, 21) + '…' : n.label)}</text><text class="sub" x="10" y="31">${esc(sub)}</text></g>`;
  });
  svg.innerHTML = `<defs>
      <marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerUnits="userSpaceOnUse" markerWidth="10" markerHeight="10" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#5b6b7c"/></marker>
      <marker id="arrow-err" viewBox="0 0 10 10" refX="9" refY="5" markerUnits="userSpaceOnUse" markerWidth="10" markerHeight="10" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#f85149"/></marker>
    </defs>${edgeSvg.join('')}${nodeSvg.join('')}`;
}

/** Only the services connected (calling or called, transitively) to `service`; everything when empty. */
export function around(data, service) {
  if (!service) return data;
  const keep = new Set([service]);
  for (let grew = true; grew;) {
    grew = false;
    for (const e of data.edges) {
      if (keep.has(e.from) !== keep.has(e.to)) { keep.add(e.from); keep.add(e.to); grew = true; }
    }
  }
  return { ...data, nodes: data.nodes.filter((n) => keep.has(n.id)), edges: data.edges.filter((e) => keep.has(e.from)) };
}

export function mount(el, params) {
  const mode = params?.get('view') === 'hosts' ? 'hosts' : 'services';
  el.innerHTML = `<section class="panel map-wrap">
      <h2>${mode === 'services' ? 'Service map' : 'Host / process map'} <span class="muted" id="map-count"></span><span class="spacer"></span>
        <span class="seg"><a href="#/map" class="${mode === 'services' ? 'on' : ''}" id="view-services">services (L7)</a><a href="#/map?view=hosts" class="${mode === 'hosts' ? 'on' : ''}" id="view-hosts">processes &amp; IPs (flows)</a></span>
        ${mode === 'services' ? '<label class="muted">around <select id="focus"><option value="">every service</option></select></label>' : ''}</h2>
      <div class="legend">${mode === 'services'
        ? '<span>click a service or a call for its RED, slowest requests, traces and TCP health ·</span><span><i></i>calls (width ∝ rate)</span><span><i class="warn"></i>some errors or retransmits</span><span><i class="err"></i>≥ 5 % errors</span><span>label: rate · p90 · errors · retransmits during requests</span>'
        : '<span>click a node to see its flows ·</span><span><i></i>flow (width ∝ bytes)</span><span><i class="err"></i>with socket errors</span><span>solid box: traced process · dashed: IP without a traced process</span>'}</div>
      <svg class="map" id="map" preserveAspectRatio="xMidYMin meet"></svg>
    </section>`;
  const svg = el.querySelector('#map');
  let data = { nodes: [], edges: [] };
  let focus = params?.get('focus') ?? '';
  const draw = () => (mode === 'services' ? renderServiceGraph(svg, around(data, focus), { width: svg.clientWidth || 1200 }) : render(svg, data, svg.clientWidth || 1200));
  const focusSel = el.querySelector('#focus');
  focusSel?.addEventListener('change', () => {
    focus = focusSel.value;
    history.replaceState(null, '', focus ? `#/map?focus=${encodeURIComponent(focus)}` : '#/map');
    draw();
  });
  const fillFocus = () => {
    if (!focusSel) return;
    const served = data.nodes.filter((n) => !n.external).map((n) => n.id);
    if (focus && !served.includes(focus)) served.push(focus);
    focusSel.innerHTML = `<option value="">every service</option>${served.sort().map((s) => `<option${s === focus ? ' selected' : ''}>${esc(s)}</option>`).join('')}`;
  };
  const load = async () => {
    try {
      data = await getJson(mode === 'services' ? '/api/services' : '/api/map', rangeParams());
      el.querySelector('#map-count').textContent = `${data.nodes.length} nodes, ${data.edges.length} edges`;
      if (mode === 'services') fillFocus();
      draw();
    } catch (e) {
      svg.innerHTML = `<text x="20" y="40" fill="#f85149">${esc(`Could not load the map: ${e.message}`)}</text>`;
    }
  };
  svg.addEventListener('click', (e) => {
    if (mode === 'services') {
      const n = e.target.closest('g.svcnode');
      if (n) return void (location.hash = `#/service?name=${encodeURIComponent(n.dataset.service)}`);
      const ed = e.target.closest('g.svcedge');
      if (ed) location.hash = `#/edge?from=${encodeURIComponent(ed.dataset.from)}&to=${encodeURIComponent(ed.dataset.to)}`;
      return;
    }
    const g = e.target.closest('g.node');
    if (!g) return;
    const key = g.dataset.kind === 'ip' ? 'ip' : 'comm';
    location.hash = `#/overview?q=${encodeURIComponent(`${key}:${g.dataset.label}`)}`;
  });
  const off = onChange(() => void load());
  const timer = setInterval(() => { if (isLive()) void load(); }, 5000);
  window.addEventListener('resize', draw);
  void load();
  return () => { off(); clearInterval(timer); window.removeEventListener('resize', draw); };
}
