// Talks to the faultlens server: JSON endpoints and the /api/live event stream.
export async function getJson(path, params = {}) {
  const q = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== undefined && v !== ''));
  const res = await fetch(q.size ? `${path}?${q}` : path);
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(body.error || `${res.status} ${res.statusText}`);
  return body;
}

/** Subscribes to /api/live; returns a function that closes it. `onState(true|false)` tracks the connection. */
export function live(handlers, onState) {
  const es = new EventSource('/api/live');
  es.addEventListener('hello', () => onState(true));
  es.onerror = () => onState(false); // EventSource reconnects by itself
  for (const [type, fn] of Object.entries(handlers)) es.addEventListener(type, (e) => fn(JSON.parse(e.data)));
  return () => es.close();
}

/** POST JSON; sends the API token kept for this tab (asked for once when the server answers 401). */
export async function postJson(path, body) {
  for (let attempt = 0; attempt < 2; attempt++) {
    const token = sessionStorage.getItem('faultlens-token');
    const res = await fetch(path, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body ?? {}),
    });
    const out = await res.json().catch(() => ({}));
    if (res.status === 401 && attempt === 0) {
      const t = prompt('This server needs its API token (the ingest token) for changes:');
      if (!t) throw new Error('a token is needed');
      sessionStorage.setItem('faultlens-token', t.trim());
      continue;
    }
    if (!res.ok) throw new Error(out.error || `${res.status} ${res.statusText}`);
    return out;
  }
  throw new Error('wrong token');
}
