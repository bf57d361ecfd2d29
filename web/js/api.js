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
