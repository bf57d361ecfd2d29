// Fault injection panel: the active faults on this host (stop them), a form to create one (kind, scope,
// TTL) that the server holds with its eBPF engine, and the recorded fault events.
import { getJson, postJson } from './api.js';
import { esc } from './format.js';
import { onChange, rangeParams } from './state.js';

// which fields each kind uses (scope fields are shared)
const KIND_FIELDS = {
  loss: ['percent'], blackhole: [], bandwidth: ['rate'], request: ['method', 'path', 'reset'], refuse: ['errno'], tcp: ['nagle', 'rtoMinMs', 'cwndClamp', 'windowClamp'],
};
const PACKET = new Set(['loss', 'blackhole', 'bandwidth', 'request']);

function left(ms) {
  const s = Math.max(0, Math.round((ms - Date.now()) / 1000));
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

/** The form's values as a fault spec (what `faultlens inject` builds from its flags). */
export function specFromForm(f) {
  const v = (n) => f.elements[n]?.value.trim() ?? '';
  const kind = v('kind');
  const scope = {};
  for (const k of ['netns', 'cgroup', 'localIp', 'remoteIp']) if (v(k)) scope[k] = v(k);
  for (const k of ['localPort', 'remotePort', 'pid']) if (v(k)) scope[k] = Number(v(k));
  if (v('proto')) scope.proto = v('proto');
  if (PACKET.has(kind) && v('direction')) scope.direction = v('direction');
  const spec = { kind, ttlSec: Number(v('ttl')), scope };
  if (v('label')) spec.label = v('label');
  if (kind === 'loss') spec.percent = Number(v('percent'));
  if (kind === 'bandwidth') spec.rate = Number(v('rate'));
  if (kind === 'request') { spec.method = v('method').toUpperCase(); spec.path = v('path'); if (f.elements.reset.checked) spec.action = 'reset'; }
  if (kind === 'refuse') spec.errno = v('errno');
  if (kind === 'tcp') {
    if (f.elements.nagle.checked) spec.nagle = true;
    for (const k of ['rtoMinMs', 'cwndClamp', 'windowClamp']) if (v(k)) spec[k] = Number(v(k));
  }
  if (!PACKET.has(kind)) delete scope.direction;
  return spec;
}

export function mount(el) {
  el.innerHTML = `<h2 class="page-title">Fault injection</h2>
    <div id="avail"></div>
    <section class="panel"><h2>Active faults on this host <span class="muted" id="n-active"></span></h2><div class="table-wrap short" id="active"></div></section>
    <section class="panel"><h2>New fault <span class="muted">held by the server until its TTL or a stop; the kernel ignores it after the TTL even if the server dies</span></h2>
      <form id="form" class="inject-form body" autocomplete="off">
        <fieldset><legend>what</legend>
          <label>kind <select name="kind">${Object.keys(KIND_FIELDS).map((k) => `<option>${k}</option>`).join('')}</select></label>
          <label data-f="percent">drop % <input name="percent" type="number" min="0.1" max="100" step="0.1" value="20"></label>
          <label data-f="rate">rate (bytes/s) <input name="rate" type="number" min="1000" value="125000"></label>
          <label data-f="method">method <input name="method" value="GET" size="6"></label>
          <label data-f="path">path <input name="path" value="/api/cart" size="16"></label>
          <label data-f="reset"><input name="reset" type="checkbox"> reset instead of drop</label>
          <label data-f="errno">errno <select name="errno"><option>ECONNREFUSED</option><option>EPERM</option></select></label>
          <label data-f="nagle"><input name="nagle" type="checkbox"> force Nagle</label>
          <label data-f="rtoMinMs">RTO min ms <input name="rtoMinMs" type="number" min="1" max="200" size="5"></label>
          <label data-f="cwndClamp">cwnd clamp <input name="cwndClamp" type="number" min="1" size="5"></label>
          <label data-f="windowClamp">window clamp <input name="windowClamp" type="number" min="512" size="7"></label>
        </fieldset>
        <fieldset><legend>scope</legend>
          <label>netns <input name="netns" placeholder="fl-pay" size="8"></label>
          <label data-scope="cgroup">cgroup <input name="cgroup" placeholder="faultlens-demo/orders" size="18"></label>
          <label data-scope="pid">pid <input name="pid" type="number" min="1" size="7"></label>
          <label>local IP <input name="localIp" size="12"></label><label>local port <input name="localPort" type="number" min="1" max="65535" size="6"></label>
          <label>remote IP <input name="remoteIp" size="12"></label><label>remote port <input name="remotePort" type="number" min="1" max="65535" size="6"></label>
          <label>proto <select name="proto"><option value="">any</option><option>tcp</option><option>udp</option></select></label>
          <label data-scope="direction">direction <select name="direction"><option value="">both</option><option>ingress</option><option>egress</option></select></label>
        </fieldset>
        <fieldset><legend>for how long</legend>
          <label>TTL s <input name="ttl" type="number" min="1" max="86400" value="60" size="6"></label>
          <label>label <input name="label" size="20" placeholder="shown in the timeline"></label>
          <button type="submit" id="inject-btn">Inject</button> <span id="form-msg"></span>
        </fieldset>
      </form></section>
    <section class="panel"><h2>Fault events in the range</h2><div class="table-wrap short" id="history"></div></section>`;
  const $ = (x) => el.querySelector('#' + x);
  const form = $('form');
  const fit = () => {
    const kind = form.elements.kind.value;
    for (const l of form.querySelectorAll('[data-f]')) l.hidden = !KIND_FIELDS[kind].includes(l.dataset.f);
    for (const l of form.querySelectorAll('[data-scope]')) l.hidden = l.dataset.scope === 'direction' ? !PACKET.has(kind) : PACKET.has(kind);
  };
  form.elements.kind.addEventListener('change', fit);
  fit();
  const load = async () => {
    try {
      const d = await getJson('/api/inject', rangeParams());
      $('avail').innerHTML = d.available ? '' : `<div class="notice">Injection is not available from this server: ${esc(d.reason)}. Active faults of other processes are listed; use <code>faultlens inject</code> as root.</div>`;
      $('inject-btn').disabled = !d.available;
      $('n-active').textContent = `${d.active.length}`;
      $('active').innerHTML = d.active.length ? `<table class="flows"><thead><tr><th>id</th><th>kind</th><th>what</th><th>label</th><th>left</th><th>holder pid</th><th class="num">seen / acted</th><th></th></tr></thead><tbody>${d.active.map((f) => `
        <tr data-id="${esc(f.id)}"><td><code>${esc(f.id)}</code></td><td>${esc(f.spec.kind)}</td><td>${esc(f.description)}</td><td>${esc(f.spec.label ?? '')}</td><td>${left(f.deadlineMs)}</td><td>${f.ownerPid}${f.local ? ' (server)' : ''}</td>
        <td class="num">${f.stats ? `${f.stats.seen} / ${f.stats.acted}` : '–'}</td><td><button class="stop" data-id="${esc(f.id)}">Stop</button></td></tr>`).join('')}</tbody></table>`
        : '<div class="empty">No active fault.</div>';
      $('history').innerHTML = d.history.length ? `<table class="flows"><tbody>${d.history.map((h) => `<tr><td>${esc(new Date(h.t).toLocaleTimeString())}</td><td>${esc(h.title)}</td></tr>`).join('')}</tbody></table>` : '<div class="empty">No fault events recorded in this range.</div>';
    } catch (e) {
      $('active').innerHTML = `<div class="error-box">${esc(`Could not load: ${e.message}`)}</div>`;
    }
  };
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const msg = $('form-msg');
    msg.className = 'muted';
    msg.textContent = 'injecting…';
    try {
      const f = await postJson('/api/inject', specFromForm(form));
      msg.className = 'ok';
      msg.textContent = `injected ${f.id}: ${f.description}`;
    } catch (err) {
      msg.className = 'err';
      msg.textContent = err.message;
    }
    await load();
  });
  el.addEventListener('click', async (e) => {
    const b = e.target.closest('button.stop');
    if (!b) return;
    b.disabled = true;
    try {
      await postJson(`/api/inject/${encodeURIComponent(b.dataset.id)}/stop`, {});
    } catch (err) {
      alert(err.message);
    }
    await load();
  });
  const off = onChange(() => void load());
  const timer = setInterval(() => void load(), 3000);
  void load();
  return () => { off(); clearInterval(timer); };
}
