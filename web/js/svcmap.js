// The service graph (from request records): services as nodes with their RED, calls as edges with RED and
// TCP health, coloured by state. Also used by the root-cause page to highlight the faulty interface and
// draw the affected call chains.
import { layout } from './map.js';
import { esc } from './format.js';

const NODE_W = 140;
const NODE_H = 40;
const MIN_GAP = 100; // room between columns for a two-line edge label

export function fmtMs(v) {
  if (v === undefined || v === null || !Number.isFinite(v)) return '–';
  return v >= 1000 ? `${(v / 1000).toFixed(2)} s` : v >= 10 ? `${v.toFixed(0)} ms` : `${v.toFixed(1)} ms`;
}
export const fmtRate = (v) => (v >= 10 ? v.toFixed(0) : v >= 1 ? v.toFixed(1) : v.toFixed(2));
export const fmtPct = (v) => (v >= 10 ? v.toFixed(0) : v.toFixed(1)) + ' %';

/** ok | warn | bad, from errors and network health. */
export function edgeState(e) {
  if (e.errorPct >= 5) return 'bad';
  if (e.errors > 0 || e.retransmits > 0) return 'warn';
  return 'ok';
}

/**
 * data: /api/services answer. opts: { focus: {kind:'service'|'endpoint'|'edge', ...}, chains: [[svc...]], width }.
 * Nodes carry data-service, edges data-from/data-to (the page wires the clicks).
 */
export function renderServiceGraph(svg, data, opts = {}) {
  let width = opts.width ?? (svg.clientWidth || 1200);
  const nodes = data.nodes.map((n) => ({ ...n, label: n.id }));
  const edges = data.edges.map((e) => ({ ...e, source: e.from, target: e.to }));
  if (!nodes.length) {
    svg.setAttribute('viewBox', `0 0 ${width} 160`);
    svg.innerHTML = `<text x="${width / 2}" y="80" text-anchor="middle" fill="#8a99a8">No requests in this time range (is the agent capturing L7?).</text>`;
    return;
  }
  let { pos, height, columns } = layout(nodes, edges, width, NODE_W);
  // too narrow for the columns: lay out wider and let the viewBox scale it down
  const need = columns * (NODE_W + MIN_GAP) - MIN_GAP + 40;
  if (need > width) {
    width = need;
    ({ pos, height } = layout(nodes, edges, width, NODE_W));
  }
  svg.setAttribute('viewBox', `0 0 ${width} ${Math.max(height + 40, opts.minHeight ?? 300)}`);
  const f = opts.focus;
  const focusNode = f && (f.kind === 'service' || f.kind === 'endpoint' || f.kind === 'resource') ? f.service : undefined;
  const focusEdge = f && (f.kind === 'edge' || f.kind === 'connection') ? `${f.from}>${f.to}` : undefined;
  const chainEdges = new Set((opts.chains ?? []).flatMap((c) => c.slice(1).map((s, i) => `${c[i]}>${s}`)));
  const edgeSvg = edges.map((e) => {
    const a = pos.get(e.source), b = pos.get(e.target);
    const x1 = a.x + NODE_W, y1 = a.y + NODE_H / 2, x2 = b.x, y2 = b.y + NODE_H / 2;
    const back = x2 < x1; // a call to a node left of (or in the same column as) its caller
    const dx = Math.max(40, Math.abs(x2 - x1) / 2);
    const d = back ? `M${a.x + NODE_W / 2},${a.y + NODE_H} C${a.x + NODE_W / 2},${a.y + NODE_H + 50} ${b.x + NODE_W / 2},${b.y + NODE_H + 50} ${b.x + NODE_W / 2},${b.y + NODE_H}`
      : `M${x1},${y1} C${x1 + dx},${y1} ${x2 - dx},${y2} ${x2},${y2}`;
    const lx = back ? (a.x + b.x + NODE_W) / 2 : (x1 + x2) / 2, ly = back ? Math.max(a.y, b.y) + NODE_H + 40 : (y1 + y2) / 2 - 6;
    const st = edgeState(e);
    const key = `${e.from}>${e.to}`;
    const cls = `svcedge ${st}${key === focusEdge ? ' focus' : ''}${chainEdges.has(key) ? ' chain' : ''}`;
    const w = Math.min(7, 1.2 + Math.log10(1 + e.rate * 10));
    const line1 = `${fmtRate(e.rate)}/s${e.errors ? ` · ${fmtPct(e.errorPct)} err` : ''}`;
    const line2 = `p90 ${fmtMs(e.p90)}${e.retransmits ? ` · ${e.retransmits} retx` : ''}`;
    const title = `${e.from} → ${e.to} (${e.protocol})\n${e.count} requests, ${fmtRate(e.rate)}/s, ${e.errors} errors (${fmtPct(e.errorPct)})\np50 ${fmtMs(e.p50)}, p90 ${fmtMs(e.p90)}, p99 ${fmtMs(e.p99)}\n${e.connections} connections, RTT ${fmtMs(e.srttMs)}, ${e.retransmits} retransmits during requests`;
    return `<g class="${cls}" data-from="${esc(e.from)}" data-to="${esc(e.to)}"><title>${esc(title)}</title><path class="hit" d="${d}"/><path d="${d}" stroke-width="${w.toFixed(1)}" marker-end="url(#sarrow-${st})"/><text x="${lx}" y="${ly - 11}" text-anchor="middle">${esc(line1)}</text><text x="${lx}" y="${ly}" text-anchor="middle">${esc(line2)}</text></g>`;
  });
  const nodeSvg = nodes.map((n) => {
    const p = pos.get(n.id);
    const st = n.errorPct >= 5 ? 'bad' : n.errors > 0 ? 'warn' : 'ok';
    const sub = n.external ? 'client / not traced' : `${fmtRate(n.rate)}/s · p90 ${fmtMs(n.p90)}${n.errors ? ` · ${fmtPct(n.errorPct)} err` : ''}`;
    const cls = `svcnode ${n.external ? 'ext' : st}${n.id === focusNode ? ' focus' : ''}`;
    return `<g class="${cls}" data-service="${esc(n.id)}" transform="translate(${p.x},${p.y})"><title>${esc(`${n.id}\n${sub}\n${n.endpoints} endpoints`)}</title>
      <rect width="${NODE_W}" height="${NODE_H}" rx="6"/><text x="10" y="16">${esc(n.id.length > 19 ? n.id.slice(0, 18) + '…' : n.id)}</text><text class="sub" x="10" y="31">${esc(sub)}</text></g>`;
  });
  const marker = (id, color) => `<marker id="sarrow-${id}" viewBox="0 0 10 10" refX="9" refY="5" markerUnits="userSpaceOnUse" markerWidth="10" markerHeight="10" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="${color}"/></marker>`;
  svg.innerHTML = `<defs>${marker('ok', '#5b6b7c')}${marker('warn', '#d29922')}${marker('bad', '#f85149')}</defs>${edgeSvg.join('')}${nodeSvg.join('')}`;
}
