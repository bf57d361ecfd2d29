// A minimal PostgreSQL wire-protocol client (protocol 3.0, simple query, trust auth) with a small pool.
// Enough for the demo's services; values are interpolated with lit(), which quotes safely for
// standard_conforming_strings = on (the default since PostgreSQL 9.1).
import net from 'node:net';

const INT_OIDS = new Set([20, 21, 23, 26, 700, 701, 1700]);

export function lit(v) {
  if (v === null || v === undefined) return 'NULL';
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new Error(`not a finite number: ${v}`);
    return String(v);
  }
  if (typeof v === 'boolean') return v ? 'TRUE' : 'FALSE';
  return "'" + String(v).replace(/'/g, "''").replace(/\0/g, '') + "'";
}

class Connection {
  constructor(opts) {
    this.opts = opts;
    this.buf = Buffer.alloc(0);
    this.pending = null; // { resolve, reject, rows, fields, error, command }
    this.ready = this.#connect();
  }

  #connect() {
    return new Promise((resolve, reject) => {
      const s = net.connect({ host: this.opts.host, port: this.opts.port });
      this.sock = s;
      s.setNoDelay(true);
      s.setKeepAlive(true, 30_000);
      this.onReady = resolve;
      this.onFail = reject;
      s.on('connect', () => {
        const params = Buffer.from(`user\0${this.opts.user}\0database\0${this.opts.database}\0application_name\0${this.opts.app ?? 'demo'}\0\0`);
        const head = Buffer.alloc(8);
        head.writeInt32BE(8 + params.length, 0);
        head.writeInt32BE(196608, 4);
        s.write(Buffer.concat([head, params]));
      });
      s.on('data', (d) => this.#onData(d));
      const fail = (err) => {
        this.dead = true;
        this.onFail?.(err);
        this.onFail = null;
        if (this.pending) this.pending.reject(err);
        this.pending = null;
      };
      s.on('error', fail);
      s.on('close', () => fail(new Error('postgres connection closed')));
    });
  }

  #onData(d) {
    this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
    while (this.buf.length >= 5) {
      const type = String.fromCharCode(this.buf[0]);
      const len = this.buf.readInt32BE(1);
      if (this.buf.length < 1 + len) break;
      const body = this.buf.subarray(5, 1 + len);
      this.buf = this.buf.subarray(1 + len);
      this.#onMessage(type, body);
    }
  }

  #onMessage(type, body) {
    const p = this.pending;
    switch (type) {
      case 'R':
        if (body.readInt32BE(0) !== 0) this.onFail?.(new Error('postgres asks for a password: the demo cluster expects trust auth'));
        break;
      case 'Z':
        if (this.onReady) {
          this.onReady();
          this.onReady = null;
          this.onFail = null;
        } else if (p) {
          this.pending = null;
          if (p.error) p.reject(p.error);
          else p.resolve({ rows: p.rows, command: p.command });
        }
        break;
      case 'E': {
        const fields = {};
        for (let i = 0; i < body.length && body[i] !== 0; ) {
          const code = String.fromCharCode(body[i]);
          const end = body.indexOf(0, i + 1);
          fields[code] = body.toString('utf8', i + 1, end);
          i = end + 1;
        }
        const err = new Error(`postgres: ${fields.M ?? 'error'} (${fields.C ?? '?'})`);
        if (p) p.error = err;
        else this.onFail?.(err);
        break;
      }
      case 'T': {
        const n = body.readInt16BE(0);
        let off = 2;
        p.fields = [];
        for (let i = 0; i < n; i++) {
          const end = body.indexOf(0, off);
          const name = body.toString('utf8', off, end);
          off = end + 1;
          const oid = body.readInt32BE(off + 6);
          off += 18;
          p.fields.push({ name, oid });
        }
        break;
      }
      case 'D': {
        const n = body.readInt16BE(0);
        let off = 2;
        const row = {};
        for (let i = 0; i < n; i++) {
          const len = body.readInt32BE(off);
          off += 4;
          const f = p.fields[i];
          if (len < 0) row[f.name] = null;
          else {
            const text = body.toString('utf8', off, off + len);
            row[f.name] = INT_OIDS.has(f.oid) ? Number(text) : f.oid === 16 ? text === 't' : text;
            off += len;
          }
        }
        p.rows.push(row);
        break;
      }
      case 'C':
        if (p) p.command = body.toString('utf8', 0, body.length - 1);
        break;
      default: // S (parameter status), K (backend key), N (notice), I (empty query): nothing to do
    }
  }

  query(sql) {
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject, rows: [], fields: [], error: null, command: '' };
      const text = Buffer.from(sql + '\0');
      const head = Buffer.alloc(5);
      head[0] = 0x51; // 'Q'
      head.writeInt32BE(4 + text.length, 1);
      this.sock.write(Buffer.concat([head, text]));
    });
  }
}

/** A pool of up to `size` connections; queries queue when all are busy; dead connections are replaced. */
export function createPool({ host, port = 5432, user = 'postgres', database, size = 4, app }) {
  const idle = [];
  const waiters = [];
  let open = 0;

  async function acquire() {
    while (idle.length) {
      const c = idle.pop();
      if (!c.dead) return c;
      open--;
    }
    if (open < size) {
      open++;
      const c = new Connection({ host, port, user, database, app });
      try {
        await c.ready;
        return c;
      } catch (err) {
        open--;
        throw err;
      }
    }
    return new Promise((resolve) => waiters.push(resolve));
  }

  function release(c) {
    if (c.dead) {
      open--;
      const w = waiters.shift();
      if (w) acquire().then(w, () => w(null));
      return;
    }
    const w = waiters.shift();
    if (w) w(c);
    else idle.push(c);
  }

  return {
    async query(sql) {
      const c = await acquire();
      if (!c) throw new Error('postgres unavailable');
      try {
        return (await c.query(sql)).rows;
      } finally {
        release(c);
      }
    },
  };
}
