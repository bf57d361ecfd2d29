// Route normalisation: turns raw paths into low-cardinality endpoint names so RED metrics group well.
// /users/123 -> /users/{id}, UUIDs -> {uuid}, long hex -> {hash}; query string and fragment dropped.
// A per-service cap keeps a misbehaving client from exploding the endpoint table: new routes past the
// cap land in one `{other}` bucket.

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const HEX = /^(0x)?[0-9a-f]{16,}$/i;
const NUM = /^-?\d+$/;
// Opaque ids: long tokens mixing letters and digits (base64url/ulid/etc.).
const TOKEN = /^[A-Za-z0-9_-]{20,}$/;

export const OTHER_ROUTE = '{other}';

function normaliseSegment(seg: string): string {
  if (seg === '') return seg;
  if (NUM.test(seg)) return '{id}';
  if (seg.length === 36 && UUID.test(seg)) return '{uuid}';
  if (seg.length >= 16 && HEX.test(seg)) return '{hash}';
  if (seg.length >= 20 && TOKEN.test(seg) && /\d/.test(seg) && /[A-Za-z]/.test(seg)) return '{token}';
  return seg;
}

// Paths repeat a lot: a bounded memo keeps regexes off the hot path.
const memo = new Map<string, string>();
const MEMO_MAX = 4096;

/** Path without query/fragment, id-like segments replaced. Pure, no cap. */
export function normalisePath(rawPath: string): string {
  let r = memo.get(rawPath);
  if (r === undefined) {
    r = normaliseUncached(rawPath);
    if (memo.size >= MEMO_MAX) memo.clear();
    memo.set(rawPath, r);
  }
  return r;
}

function normaliseUncached(rawPath: string): string {
  let p = rawPath;
  const q = p.search(/[?#]/);
  if (q >= 0) p = p.slice(0, q);
  // Absolute-form targets (proxies): keep only the path.
  if (p.startsWith('http://') || p.startsWith('https://')) {
    const slash = p.indexOf('/', p.indexOf('//') + 2);
    p = slash >= 0 ? p.slice(slash) : '/';
  }
  if (p === '' || p === '*') return p || '/';
  const segs = p.split('/');
  for (let i = 0; i < segs.length; i++) segs[i] = normaliseSegment(segs[i]);
  return segs.join('/');
}

/** Route table per service with a cardinality cap; one instance is shared by all connections. */
export class RouteNormaliser {
  private readonly routes = new Map<string, Set<string>>();
  overflowed = 0;

  constructor(readonly maxRoutesPerService = 500) {}

  normalise(service: string, rawPath: string): string {
    const route = normalisePath(rawPath);
    let set = this.routes.get(service);
    if (!set) {
      set = new Set();
      this.routes.set(service, set);
    }
    if (set.has(route)) return route;
    if (set.size >= this.maxRoutesPerService) {
      this.overflowed++;
      return OTHER_ROUTE;
    }
    set.add(route);
    return route;
  }

  /** A per-connection function bound to one service, as SessionOptions.normaliseRoute expects. */
  forService(service: string): (rawPath: string) => string {
    return (p) => this.normalise(service, p);
  }

  routeCount(service: string): number {
    return this.routes.get(service)?.size ?? 0;
  }
}
