// Small SVG time-series charts (no library): lines over a shared time axis, a hover read-out, gaps where
// a value is missing (null). Sized to the container width.
import { esc } from './format.js';

const COLORS = ['#4ea1ff', '#d29922', '#f85149', '#3fb950', '#bc8cff', '#39c5cf'];

function niceMax(v) {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function timeLabel(ms, spanMs) {
  const d = new Date(ms);
  const p = (n) => String(n).padStart(2, '0');
  return spanMs > 2 * 86400e3 ? `${d.getMonth() + 1}/${d.getDate()} ${p(d.getHours())}:${p(d.getMinutes())}`
    : spanMs > 600e3 ? `${p(d.getHours())}:${p(d.getMinutes())}` : `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/**
 * el: container; t: epoch ms per point; series: [{ name, values: (number|null)[], color? }];
 * opts: { height, unit (y formatter), title, markers: [{t, color, label}] }.
 */
export function lineChart(el, t, series, opts = {}) {
  const W = Math.max(300, el.clientWidth || 600);
  const H = opts.height ?? 150;
  const L = 54, R = 10, T = 10, B = 20;
  const fmt = opts.unit ?? ((v) => (Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(2)));
  const all = series.flatMap((s) => s.values).filter((v) => v !== null && v !== undefined && Number.isFinite(v));
  const ymax = niceMax(Math.max(opts.minMax ?? 0, ...all));
  const t0 = t[0] ?? Date.now(), t1 = t[t.length - 1] ?? t0 + 1;
  const x = (ms) => L + ((ms - t0) / Math.max(1, t1 - t0)) * (W - L - R);
  const y = (v) => T + (1 - v / ymax) * (H - T - B);
  const grid = [0, 0.5, 1].map((f) => `<line x1="${L}" x2="${W - R}" y1="${y(ymax * f)}" y2="${y(ymax * f)}" class="grid"/><text x="${L - 6}" y="${y(ymax * f) + 4}" text-anchor="end" class="axis">${esc(fmt(ymax * f))}</text>`).join('');
  const ticks = [];
  const n = Math.min(6, Math.max(2, Math.floor((W - L) / 110)));
  for (let i = 0; i <= n; i++) {
    const ms = t0 + ((t1 - t0) * i) / n;
    ticks.push(`<text x="${x(ms)}" y="${H - 5}" text-anchor="${i === 0 ? 'start' : i === n ? 'end' : 'middle'}" class="axis">${esc(timeLabel(ms, t1 - t0))}</text>`);
  }
  const lines = series.map((s, si) => {
    const color = s.color ?? COLORS[si % COLORS.length];
    let d = '';
    let pen = false;
    s.values.forEach((v, i) => {
      if (v === null || v === undefined || !Number.isFinite(v)) { if (s.gaps !== false) pen = false; return; }
      d += `${pen ? 'L' : 'M'}${x(t[i]).toFixed(1)},${y(v).toFixed(1)}`;
      pen = true;
    });
    // single points would be invisible as paths: draw dots when the series is sparse
    const dots = s.values.filter((v) => v !== null && v !== undefined).length < 40
      ? s.values.map((v, i) => (v === null || v === undefined ? '' : `<circle cx="${x(t[i]).toFixed(1)}" cy="${y(v).toFixed(1)}" r="2" fill="${color}"/>`)).join('') : '';
    return `<path d="${d}" stroke="${color}" fill="none" stroke-width="1.6"/>${dots}`;
  }).join('');
  const markers = (opts.markers ?? []).filter((m) => m.t >= t0 && m.t <= t1).map((m) => `<line x1="${x(m.t)}" x2="${x(m.t)}" y1="${T}" y2="${H - B}" stroke="${m.color ?? '#d29922'}" stroke-dasharray="3 3"><title>${esc(m.label ?? '')}</title></line>`).join('');
  const legend = series.map((s, si) => `<span><i style="background:${s.color ?? COLORS[si % COLORS.length]}"></i>${esc(s.name)}</span>`).join('');
  el.innerHTML = `<div class="chart-head">${opts.title ? `<b>${esc(opts.title)}</b>` : ''}<span class="chart-legend">${legend}</span><span class="chart-read muted"></span></div>
    <svg class="linechart" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}">${grid}${ticks.join('')}${markers}${lines}<line class="cursor" y1="${T}" y2="${H - B}" x1="-10" x2="-10"/></svg>`;
  const svg = el.querySelector('svg');
  const read = el.querySelector('.chart-read');
  const cursor = svg.querySelector('.cursor');
  svg.addEventListener('mousemove', (e) => {
    if (!t.length) return;
    const px = e.offsetX;
    const ms = t0 + ((px - L) / (W - L - R)) * (t1 - t0);
    let i = 0;
    for (let k = 1; k < t.length; k++) if (Math.abs(t[k] - ms) < Math.abs(t[i] - ms)) i = k;
    cursor.setAttribute('x1', x(t[i]));
    cursor.setAttribute('x2', x(t[i]));
    read.textContent = `${timeLabel(t[i], 0)}  ` + series.map((s) => `${s.name} ${s.values[i] === null || s.values[i] === undefined ? '–' : fmt(s.values[i])}`).join('  ');
  });
  svg.addEventListener('mouseleave', () => { read.textContent = ''; cursor.setAttribute('x1', -10); cursor.setAttribute('x2', -10); });
}

/** A tiny inline trend line (no axes) for table cells. */
export function sparkline(values, { width = 120, height = 24, color = '#4ea1ff' } = {}) {
  const max = Math.max(1e-9, ...values);
  const pts = values.map((v, i) => `${((i / Math.max(1, values.length - 1)) * width).toFixed(1)},${(height - 2 - (v / max) * (height - 4)).toFixed(1)}`).join(' ');
  return `<svg class="spark" width="${width}" height="${height}"><polyline points="${pts}" fill="none" stroke="${color}" stroke-width="1.3"/></svg>`;
}
