// Checks on caller- and worker-supplied JSON that the schema cannot express.
import { createHash } from 'node:crypto';

export type JsonProblem = { kind: 'depth' | 'nul'; path: string } | undefined;

/**
 * Finds the first value nested deeper than maxDepth or any string (value or key)
 * containing U+0000, which PostgreSQL's jsonb cannot store.
 */
export function findJsonProblem(value: unknown, maxDepth: number, path = '', depth = 1): JsonProblem {
  if (typeof value === 'string') return value.includes('\u0000') ? { kind: 'nul', path } : undefined;
  if (value === null || typeof value !== 'object') return undefined;
  if (depth > maxDepth) return { kind: 'depth', path };
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const p = findJsonProblem(value[i], maxDepth, `${path}/${i}`, depth + 1);
      if (p) return p;
    }
    return undefined;
  }
  for (const [k, v] of Object.entries(value)) {
    if (k.includes('\u0000')) return { kind: 'nul', path: `${path}/${k.replaceAll('\u0000', '\\u0000')}` };
    const p = findJsonProblem(v, maxDepth, `${path}/${k}`, depth + 1);
    if (p) return p;
  }
  return undefined;
}

/** JSON with object keys sorted, so equal values give equal text. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const keys = Object.keys(value).sort();
  return `{${keys
    .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
    .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`)
    .join(',')}}`;
}

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
