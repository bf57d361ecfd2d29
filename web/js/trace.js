// A trace as a call tree with a waterfall: one row per call (caller's view, with the callee's own time
// when both ends were seen), indented by depth, a bar at its offset and length in the trace.
import { getJson } from './api.js';
import { esc } from './format.js';
import { fmtMs } from './svcmap.js';

function flatten(roots) {
  const rows = [];
  const walk = (n, depth) => {
    rows.push({ n, depth });
    for (const c of n.children) walk(c, depth + 1);
  };
  for (const r of roots) walk(r, 0);
  return rows;
}

export function renderTrace(el, t) {
  const rows = flatten(t.roots);
  const total = Math.max(...rows.map(({ n }) => n.offsetMs + n.span.durationMs), 0.001);
  el.innerHTML = `<div class="trace-head">trace <code>${esc(t.traceId)}</code> · ${t.spans} records · ${fmtMs(total)}</div>
    <table class="trace"><thead><tr><th>call</th><th>status</th><th class="num">took</th><th class="wf">timeline (0 → ${esc(fmtMs(total))})</th></tr></thead><tbody>${rows.map(({ n, depth }) => {
      const s = n.span;
      const left = (100 * n.offsetMs) / total;
      const width = Math.max(0.4, (100 * s.durationMs) / total);
      const server = n.server ? ` <span class="muted">(server ${esc(fmtMs(n.server.durationMs))})</span>` : '';
      return `<tr class="${s.error ? 'bad' : ''}" title="${esc(`${s.client} → ${s.server} ${s.method} ${s.endpoint}`)}"><td style="padding-left:${8 + depth * 16}px"><span class="svc">${esc(s.client)}</span> → <span class="svc">${esc(s.server)}</span> <span class="tag">${esc(s.protocol)}</span> ${esc(s.method)} ${esc(s.endpoint)}</td>
        <td class="${s.error ? 'err' : ''}">${esc(s.status)}</td><td class="num">${esc(fmtMs(s.durationMs))}${server}</td>
        <td class="wf"><div class="bar${s.error ? ' err' : ''}" style="margin-left:${left.toFixed(2)}%;width:${width.toFixed(2)}%"></div></td></tr>`;
    }).join('')}</tbody></table>`;
}

export async function showTrace(el, traceId, params) {
  el.innerHTML = '<p class="muted">Loading the trace…</p>';
  try {
    renderTrace(el, await getJson(`/api/traces/${encodeURIComponent(traceId)}`, params));
  } catch (e) {
    el.innerHTML = `<div class="error-box">${esc(`Could not load trace ${traceId}: ${e.message}`)}</div>`;
  }
}
