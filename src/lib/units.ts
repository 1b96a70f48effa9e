// Parsers for the human-friendly units used in configuration.

const DURATION_UNITS_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `500ms`, `30s`, `5m`, `1h30m`, `7d`, or a bare `0`. Returns milliseconds. */
export function parseDuration(raw: string): number {
  if (raw === '0') return 0;
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/y;
  let total = 0;
  let pos = 0;
  while (pos < raw.length) {
    re.lastIndex = pos;
    const m = re.exec(raw);
    if (!m) throw new Error(`invalid duration: ${raw}`);
    total += Number(m[1]) * DURATION_UNITS_MS[m[2]];
    pos = re.lastIndex;
  }
  if (pos === 0) throw new Error(`invalid duration: ${raw}`);
  return Math.round(total);
}

const BOOLEANS: Record<string, boolean> = { true: true, '1': true, false: false, '0': false };

export function parseBoolean(raw: string): boolean {
  const v = BOOLEANS[raw.toLowerCase()];
  if (v === undefined) throw new Error(`invalid boolean: ${raw}`);
  return v;
}

const BYTE_UNITS: Record<string, number> = { '': 1, b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 };

/** `1048576`, `512kb`, `2mb` (binary multiples). */
export function parseBytes(raw: string): number {
  const m = /^(\d+)\s*(b|kb|mb|gb)?$/i.exec(raw);
  if (!m) throw new Error(`invalid size: ${raw}`);
  const n = Number(m[1]) * BYTE_UNITS[(m[2] ?? '').toLowerCase()];
  if (n <= 0) throw new Error('size must be positive');
  return n;
}

/** A URL with credentials and query string removed, safe to log or return. */
export function redactUrl(raw: string): string {
  try {
    const u = new URL(raw);
    return `${u.protocol}//${u.host}${u.pathname === '/' ? '' : u.pathname}`;
  } catch {
    return '[invalid url]';
  }
}
