// SQL statement normalisation: literals become ?, so statements group into low-cardinality targets.
// A single left-to-right scan (no regex backtracking on hostile input), capped in length.

const MAX_OUT = 512;

function isIdent(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c === 36 || c > 127;
}

// Statements repeat a lot (prepared statements, ORMs, connection pools): a bounded memo keeps the scan
// off the hot path. Only the default length and statements up to 1 KiB are kept (memory stays < ~6 MB).
const memo = new Map<string, string>();
const MEMO_MAX = 4096;

/** `SELECT * FROM t WHERE id = 42 AND name = 'x'` -> `SELECT * FROM t WHERE id = ? AND name = ?`. */
export function normaliseSql(sql: string, maxLen = MAX_OUT): string {
  if (maxLen !== MAX_OUT || sql.length > 1024) return normaliseUncached(sql, maxLen);
  let r = memo.get(sql);
  if (r === undefined) {
    r = normaliseUncached(sql, maxLen);
    if (memo.size >= MEMO_MAX) memo.clear();
    memo.set(sql, r);
  }
  return r;
}

function normaliseUncached(sql: string, maxLen: number): string {
  let out = '';
  const n = sql.length;
  let i = 0;
  let space = false;
  const put = (s: string) => {
    if (space && out.length > 0) out += ' ';
    space = false;
    out += s;
  };
  while (i < n && out.length < maxLen) {
    const c = sql.charCodeAt(i);
    // whitespace collapses to one space
    if (c === 32 || c === 9 || c === 10 || c === 13) {
      space = true;
      i++;
      continue;
    }
    // comments
    if (c === 45 && sql.charCodeAt(i + 1) === 45) {
      while (i < n && sql.charCodeAt(i) !== 10) i++;
      space = true;
      continue;
    }
    if (c === 47 && sql.charCodeAt(i + 1) === 42) {
      const e = sql.indexOf('*/', i + 2);
      i = e < 0 ? n : e + 2;
      space = true;
      continue;
    }
    // string literals: '...' with '' escapes (and backslash escapes, MySQL style); E'..', N'..', X'..'
    if (c === 39 || ((c | 0x20) === 101 || (c | 0x20) === 110 || (c | 0x20) === 120 || (c | 0x20) === 98) && sql.charCodeAt(i + 1) === 39 && !isIdent(sql.charCodeAt(i - 1))) {
      i += c === 39 ? 1 : 2;
      while (i < n) {
        const d = sql.charCodeAt(i);
        if (d === 92) {
          i += 2;
          continue;
        }
        if (d === 39) {
          if (sql.charCodeAt(i + 1) === 39) {
            i += 2;
            continue;
          }
          i++;
          break;
        }
        i++;
      }
      put('?');
      continue;
    }
    // double-quoted: identifiers in SQL standard / postgres, strings in MySQL. Keep as identifier.
    if (c === 34 || c === 96) {
      const e = sql.indexOf(String.fromCharCode(c), i + 1);
      const stop = e < 0 ? n : e + 1;
      put(sql.slice(i, stop));
      i = stop;
      continue;
    }
    // dollar-quoted strings ($$...$$ or $tag$...$tag$); $1 parameters stay
    if (c === 36 && !isIdent(sql.charCodeAt(i - 1))) {
      const m = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql.slice(i, i + 66));
      if (m) {
        const e = sql.indexOf(m[0], i + m[0].length);
        i = e < 0 ? n : e + m[0].length;
        put('?');
        continue;
      }
    }
    // numbers not glued to identifiers (t1 stays t1): 42, -1.5e3, 0x1F
    if ((c >= 48 && c <= 57) || (c === 46 && sql.charCodeAt(i + 1) >= 48 && sql.charCodeAt(i + 1) <= 57)) {
      if (!isIdent(sql.charCodeAt(i - 1))) {
        let j = i;
        if (c === 48 && (sql.charCodeAt(i + 1) | 0x20) === 120) {
          j += 2;
          while (j < n && /[0-9a-fA-F]/.test(sql[j])) j++;
        } else {
          while (j < n && /[0-9.eE]/.test(sql[j])) {
            if ((sql.charCodeAt(j) | 0x20) === 101 && (sql[j + 1] === '-' || sql[j + 1] === '+')) j++;
            j++;
          }
        }
        // a unary minus directly before the number is part of the literal
        if (out.endsWith('-') && !space && (out.length < 2 || /[\s(=,<>]/.test(out[out.length - 2]))) out = out.slice(0, -1);
        put('?');
        i = j;
        continue;
      }
    }
    // identifiers / keywords / operators copied as-is
    let j = i + 1;
    if (isIdent(c)) while (j < n && isIdent(sql.charCodeAt(j))) j++;
    put(sql.slice(i, j));
    i = j;
  }
  // IN (?, ?, ?) -> IN (?) and VALUES (?, ?), (?, ?) -> VALUES (?, ?) keeps batch sizes from multiplying targets
  out = out.replace(/\(\s*\?(?:\s*,\s*\?)+\s*\)/g, '(?)');
  out = out.replace(/(VALUES\s*\(\?\))(?:\s*,\s*\(\?\))+/gi, '$1');
  return out.length > maxLen ? out.slice(0, maxLen) : out;
}

/** First keyword of a statement, uppercased: SELECT, INSERT, BEGIN... ("" when none). */
export function sqlVerb(sql: string): string {
  const m = /^\s*(?:(?:--[^\n]*\n|\/\*[\s\S]*?\*\/)\s*)*\(?\s*([A-Za-z]+)/.exec(sql);
  return m ? m[1].toUpperCase() : '';
}
