// IP addresses as four big-endian 32-bit words (IPv4 in its IPv4-mapped IPv6 form ::ffff:a.b.c.d), so
// that an AF_INET socket and an AF_INET6 dual-stack socket see the same address. Strings are made
// only when something is displayed.

/** Formats four address words; IPv4-mapped addresses are shown as dotted IPv4. */
export function formatAddrWords(w0: number, w1: number, w2: number, w3: number): string {
  if (w0 === 0 && w1 === 0 && w2 === 0xffff) {
    return `${w3 >>> 24}.${(w3 >>> 16) & 255}.${(w3 >>> 8) & 255}.${w3 & 255}`;
  }
  return formatIPv6([w0, w1, w2, w3]);
}

/** Compressed IPv6 text (RFC 5952: longest run of zero groups becomes ::). */
function formatIPv6(words: number[]): string {
  const groups: number[] = [];
  for (const w of words) groups.push(w >>> 16, w & 0xffff);
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i > 1) { bestStart = i; bestLen = j - i; }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  const head = hex.slice(0, bestStart).join(':');
  const tail = hex.slice(bestStart + bestLen).join(':');
  return `${head}::${tail}`;
}

/** True for 127.0.0.0/8 and ::1 (in word form). */
export function isLoopbackWords(w0: number, w1: number, w2: number, w3: number): boolean {
  if (w0 !== 0 || w1 !== 0) return false;
  if (w2 === 0xffff) return w3 >>> 24 === 127;
  return w2 === 0 && w3 === 1;
}

/** Parses dotted IPv4 or IPv6 text into address words (IPv4 -> mapped form). */
export function parseAddrWords(ip: string): [number, number, number, number] {
  const v4 = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(ip);
  if (v4) {
    const b = v4.slice(1).map(Number);
    if (b.some((x) => x > 255)) throw new Error(`bad IPv4 address: ${ip}`);
    return [0, 0, 0xffff, ((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0];
  }
  let s = ip;
  let tailV4: number[] = [];
  const m = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (m) {
    const w = parseAddrWords(m[2])[3];
    tailV4 = [w >>> 16, w & 0xffff];
    s = m[1].endsWith('::') ? m[1] : m[1].slice(0, -1);
  }
  const [left, right, extra] = s.split('::');
  if (extra !== undefined) throw new Error(`bad IPv6 address: ${ip}`);
  const parse = (part: string | undefined): number[] => (part ? part.split(':').map((h) => parseInt(h, 16)) : []);
  const l = parse(left);
  const r = [...parse(right), ...tailV4];
  const fill = right === undefined ? 0 : 8 - l.length - r.length;
  const groups = right === undefined ? [...l, ...r] : [...l, ...new Array(fill).fill(0), ...r];
  if (groups.length !== 8 || groups.some((g) => !(g >= 0 && g <= 0xffff))) throw new Error(`bad IPv6 address: ${ip}`);
  const words: number[] = [];
  for (let i = 0; i < 8; i += 2) words.push(((groups[i] << 16) | groups[i + 1]) >>> 0);
  return words as [number, number, number, number];
}
