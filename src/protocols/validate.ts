// What a well-formed record looks like, per protocol. Used by tests and by ingest as a last guard.
import { RCODES } from './dns.js';
import type { L7Record } from './types.js';

const PG_TAG = /^[A-Z][A-Z ]*$/;
const SQLSTATE = /^[0-9A-Z]{5}$/;

/** Returns the reason a record is malformed, or null when it is fine. */
export function isValidRecord(r: L7Record): string | null {
  if (typeof r.startNs !== 'bigint' || typeof r.endNs !== 'bigint' || r.endNs < r.startNs) return 'bad timestamps';
  if (!(r.reqBytes >= 0) || !(r.respBytes >= 0)) return 'bad sizes';
  if (typeof r.method !== 'string' || typeof r.target !== 'string') return 'bad method/target';
  if (r.status === '') return r.incomplete ? null : 'empty status on a complete record';
  if (r.incomplete) return 'incomplete record with a status';
  switch (r.protocol) {
    case 'http2':
      return /^[2-5]\d\d$/.test(r.status) && r.httpStatus === Number(r.status) && r.method !== '' ? null : `bad h2 status ${r.status}`;
    case 'http1':
      return /^[1-5]\d\d$/.test(r.status) && r.httpStatus === Number(r.status) ? null : `bad http status ${r.status}`;
    case 'redis':
      return /^[A-Z][A-Z0-9_]*$/.test(r.status) && r.method !== '' ? null : `bad redis status ${r.status}`;
    case 'postgres':
      // severity stands in for the SQLSTATE when the captured head cut the error before its code
      if (r.error) return SQLSTATE.test(r.status) || (r.truncated && /^(ERROR|FATAL|PANIC)$/.test(r.status)) ? null : `bad sqlstate ${r.status}`;
      return PG_TAG.test(r.status) ? null : `bad pg tag ${r.status}`;
    case 'mysql':
      if (r.error) return /^\d{1,5}$/.test(r.status) ? null : `bad mysql error ${r.status}`;
      return r.status === 'OK' ? null : `bad mysql status ${r.status}`;
    case 'dns':
      return RCODES.includes(r.status) || /^RCODE\d+$/.test(r.status) ? null : `bad rcode ${r.status}`;
    default:
      return 'unknown protocol';
  }
}
