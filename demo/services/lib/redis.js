// A minimal RESP2 redis client: one keep-alive connection, pipelined commands answered in order,
// reconnects on the next command after the server went away (the redis-down scenario).
import net from 'node:net';

export function createRedis({ host, port = 6379, timeoutMs = 2000 }) {
  let sock = null;
  let buf = Buffer.alloc(0);
  const queue = [];

  function failAll(err) {
    while (queue.length) queue.shift().reject(err);
    sock?.destroy();
    sock = null;
    buf = Buffer.alloc(0);
  }

  function ensure() {
    if (sock) return sock;
    sock = net.connect({ host, port });
    sock.setNoDelay(true);
    sock.on('data', (d) => {
      buf = buf.length ? Buffer.concat([buf, d]) : d;
      for (;;) {
        const r = parse(buf, 0);
        if (!r) break;
        buf = buf.subarray(r.end);
        const p = queue.shift();
        clearTimeout(p?.timer);
        if (r.value instanceof Error) p?.reject(r.value);
        else p?.resolve(r.value);
      }
    });
    sock.on('error', (err) => failAll(new Error(`redis ${host}:${port}: ${err.code ?? err.message}`)));
    sock.on('close', () => failAll(new Error(`redis ${host}:${port}: connection closed`)));
    return sock;
  }

  function command(...args) {
    return new Promise((resolve, reject) => {
      const parts = [`*${args.length}\r\n`];
      for (const a of args) {
        const s = String(a);
        parts.push(`$${Buffer.byteLength(s)}\r\n${s}\r\n`);
      }
      const entry = { resolve, reject };
      entry.timer = setTimeout(() => failAll(new Error(`redis ${host}:${port}: timeout after ${timeoutMs} ms`)), timeoutMs);
      queue.push(entry);
      ensure().write(parts.join(''));
    });
  }
  return { command };
}

/** Parses one RESP value at buf[off]; returns { value, end } or null when incomplete. */
function parse(buf, off) {
  const nl = buf.indexOf('\r\n', off);
  if (nl < 0) return null;
  const type = String.fromCharCode(buf[off]);
  const line = buf.toString('utf8', off + 1, nl);
  const after = nl + 2;
  switch (type) {
    case '+':
      return { value: line, end: after };
    case '-':
      return { value: new Error(line), end: after };
    case ':':
      return { value: Number(line), end: after };
    case '$': {
      const n = Number(line);
      if (n < 0) return { value: null, end: after };
      if (buf.length < after + n + 2) return null;
      return { value: buf.toString('utf8', after, after + n), end: after + n + 2 };
    }
    case '*': {
      const n = Number(line);
      if (n < 0) return { value: null, end: after };
      const out = [];
      let pos = after;
      for (let i = 0; i < n; i++) {
        const r = parse(buf, pos);
        if (!r) return null;
        out.push(r.value);
        pos = r.end;
      }
      return { value: out, end: pos };
    }
    default:
      throw new Error(`bad RESP type byte ${type}`);
  }
}
