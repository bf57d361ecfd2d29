// Joins TLS plaintext records to their socket: (pid, fd) -> the socket the socket collector last saw on
// that fd in that process. The result is a SocketEvent carrying the socket's identity (id, 5-tuple, role)
// and the plaintext's direction, bytes and time, which the request tracker parses like cleartext.
import type { SocketEvent } from '../collect/sock-event.js';
import type { TlsEvent } from '../collect/tls-collector.js';

type SocketInfo = Pick<SocketEvent, 'sockId' | 'netns' | 'role' | 'proto' | 'family' | 'local' | 'remote' | 'tcpState' | 'cgroupId'>;

export interface TlsJoinStats {
  joined: number;
  noFd: number; // the probe could not tell the fd
  noSocket: number; // fd known, but no socket seen on it (capture started mid-connection, or not INET)
}

export class TlsSocketJoin {
  private readonly byFd = new Map<string, SocketInfo>();
  readonly stats: TlsJoinStats = { joined: 0, noFd: 0, noSocket: 0 };

  constructor(private readonly max = 200_000) {}

  /** Every socket event: remembers (pid, fd) -> socket; a close forgets it. */
  observe(ev: SocketEvent): void {
    if (ev.fd < 0 || (ev.kind !== 'data' && ev.kind !== 'accept' && ev.kind !== 'connect' && ev.kind !== 'close')) return;
    const key = `${ev.pid}:${ev.fd}`;
    if (ev.kind === 'close') {
      this.byFd.delete(key);
      return;
    }
    if (ev.remote.port === 0 && ev.proto === 'tcp') return; // a listener
    if (this.byFd.size >= this.max) this.byFd.clear(); // relearnt from live traffic
    this.byFd.set(key, {
      sockId: ev.sockId, netns: ev.netns, role: ev.role, proto: ev.proto, family: ev.family,
      local: ev.local, remote: ev.remote, tcpState: ev.tcpState, cgroupId: ev.cgroupId,
    });
  }

  /** The plaintext as a socket data event, or undefined when its socket is unknown. */
  join(t: TlsEvent): SocketEvent | undefined {
    if (t.fd < 0) {
      this.stats.noFd++;
      return undefined;
    }
    const s = this.byFd.get(`${t.pid}:${t.fd}`);
    if (!s) {
      this.stats.noSocket++;
      return undefined;
    }
    this.stats.joined++;
    return {
      ...s,
      tsNs: t.tsNs, // the call's return, like the socket collector's syscall exit
      pid: t.pid,
      tid: t.tid,
      comm: t.comm,
      cgroupId: t.cgroupId || s.cgroupId,
      kind: 'data',
      syscall: t.dir === 'send' ? 'write' : 'read',
      dir: t.dir,
      ret: t.bytes,
      bytes: t.bytes,
      fd: t.fd,
      payload: t.payload,
    };
  }
}
