// Business: the transactions users make at the entry points (per route: successes and failures over
// time) and the business events captured by uprobes (orders, payments...) when the agent stores them.
import { getJson } from './api.js';
import { sparkline } from './charts.js';
import { esc } from './format.js';
import { isLive, onChange, rangeParams } from './state.js';
import { fmtMs, fmtPct, fmtRate } from './svcmap.js';

const enc = encodeURIComponent;

export function mount(el) {
  el.innerHTML = `<h2 class="page-title">Business</h2>
    <div class="cards" id="kpis"></div>
    <section class="panel"><h2>Transactions at the entry points <span class="muted" id="step"></span></h2><div class="table-wrap" id="tx"></div></section>
    <section class="panel"><h2>Business events <span class="muted">(uprobe captures stored by the agent)</span></h2><div class="body" id="events"></div></section>`;
  const $ = (x) => el.querySelector('#' + x);
  const load = async () => {
    try {
      const b = await getJson('/api/business', rangeParams());
      const tx = b.transactions;
      const total = tx.reduce((a, t) => a + t.count, 0);
      const failed = tx.reduce((a, t) => a + t.errors, 0);
      const perMin = (t) => (t.rate * 60);
      $('kpis').innerHTML = [
        [String(total), 'transactions'], [`${(total ? (100 * (total - failed)) / total : 100).toFixed(1)} %`, 'succeeded', failed > 0],
        [String(failed), 'failed', failed > 0], [String(new Set(tx.map((t) => t.service)).size), 'entry services'],
        [String(b.events.reduce((a, e) => a + e.count, 0)), 'business events'],
      ].map(([v, k, bad]) => `<div class="card${bad ? ' bad' : ''}"><div class="v">${esc(v)}</div><div class="k">${esc(k)}</div></div>`).join('');
      $('step').textContent = `lines: successes (blue) and failures (red) per ${b.stepMs / 1000} s`;
      $('tx').innerHTML = tx.length ? `<table class="flows"><thead><tr><th>service</th><th>transaction</th><th class="num">count</th><th class="num">per min</th><th class="num">failed</th><th class="num">p90</th><th>successes</th><th>failures</th></tr></thead><tbody>${tx.map((t) => `
        <tr><td><a href="#/service?name=${enc(t.service)}">${esc(t.service)}</a></td><td><a href="#/service?name=${enc(t.service)}&endpoint=${enc(t.endpoint)}">${esc(t.endpoint)}</a></td>
        <td class="num">${t.count}</td><td class="num">${fmtRate(perMin(t))}</td><td class="num ${t.errors ? 'err' : ''}">${t.errors} (${fmtPct(t.errorPct)})</td><td class="num">${fmtMs(t.p90)}</td>
        <td>${sparkline(t.ok)}</td><td>${t.errors ? sparkline(t.failed, { color: '#f85149' }) : '<span class="muted">none</span>'}</td></tr>`).join('')}</tbody></table>`
        : '<div class="empty">No requests at entry-point services in this range.</div>';
      $('events').innerHTML = b.events.length ? `<table class="flows"><thead><tr><th>event</th><th class="num">count</th><th>over time</th></tr></thead><tbody>${b.events.map((e) => `<tr><td>${esc(e.name)}</td><td class="num">${e.count}</td><td>${sparkline(e.series)}</td></tr>`).join('')}</tbody></table>
        <h3>Latest</h3><table class="flows"><tbody>${b.recent.map((r) => `<tr><td>${esc(new Date(r.t).toLocaleTimeString())}</td><td>${esc(r.name)}</td><td>pid ${esc(r.pid ?? '')}</td><td class="addr">${esc(JSON.stringify(r.data))}</td></tr>`).join('')}</tbody></table>`
        : '<span class="muted">No business events stored in this range. The uprobe capture runs with <code>faultlens business</code>; the agent of <code>faultlens up</code> does not store its events yet.</span>';
    } catch (e) {
      $('kpis').innerHTML = `<div class="error-box">${esc(`Could not load: ${e.message}`)}</div>`;
    }
  };
  const off = onChange(() => void load());
  const timer = setInterval(() => { if (isLive()) void load(); }, 10_000);
  void load();
  return () => { off(); clearInterval(timer); };
}
