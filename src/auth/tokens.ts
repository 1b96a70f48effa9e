// Parses the token list (API_TOKENS_FILE as JSON or YAML, API_TOKENS as inline
// JSON) into principals with SHA-256 hashes of their tokens. The token values are
// dropped here: nothing after this module holds them. Error messages name the
// source and the entry, never a token value (parser messages quote the offending
// text, so they are replaced by a line number).
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { ConfigError } from '../config.ts';
import type { Principal, Role } from './principal.ts';
import { ROLES } from './principal.ts';

export interface TokenEntry {
  /** SHA-256 of the token (32 bytes). */
  hash: Buffer;
  principal: Principal;
}

export const TOKEN_MIN_CHARS = 16;
const SLUG = '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$';
// RFC 6750 b64token: what can be sent after "Bearer " without quoting.
const B64TOKEN = '^[A-Za-z0-9._~+/-]+=*$';
// A token may be given as its hash instead, so the file need not hold the secret.
const HASHED = /^sha256:([0-9a-f]{64})$/;

const tokenValue = { type: 'string', minLength: TOKEN_MIN_CHARS, maxLength: 4096, pattern: `${B64TOKEN}|${HASHED.source}` };
const slugList = { type: 'array', minItems: 1, maxItems: 1000, items: { type: 'string', pattern: SLUG } };
const ENTRY_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'role'],
  properties: {
    name: { type: 'string', pattern: SLUG },
    role: { enum: [...ROLES] },
    owner_services: slugList,
    model_profiles: slugList,
    token: tokenValue,
    tokens: { type: 'array', minItems: 1, items: tokenValue },
  },
};
const validateEntry = new Ajv({ allErrors: false, strict: false }).compile(ENTRY_SCHEMA);

interface RawEntry {
  name: string;
  role: Role;
  owner_services?: string[];
  model_profiles?: string[];
  token?: string;
  tokens?: string[];
}

export function hashToken(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

function hashOf(value: string): Buffer {
  const m = HASHED.exec(value);
  return m ? Buffer.from(m[1], 'hex') : hashToken(value);
}

/** Role rules the schema states poorly: clear messages beat "must NOT be valid". */
function roleProblem(e: RawEntry): string | undefined {
  const a = e.role === 'admin' ? 'an admin' : `a ${e.role}`;
  if (!e.token && !e.tokens) return 'needs token or tokens';
  if (e.role === 'producer' && !e.owner_services) return 'a producer needs owner_services';
  if (e.role !== 'producer' && e.owner_services) return `${a} cannot have owner_services`;
  if (e.role !== 'worker' && e.model_profiles) return `${a} cannot have model_profiles`;
  return undefined;
}

function toPrincipal(e: RawEntry): Principal {
  const p: Principal = { name: e.name, role: e.role };
  if (e.owner_services) p.ownerServices = Object.freeze([...new Set(e.owner_services)]);
  if (e.model_profiles) p.modelProfiles = Object.freeze([...new Set(e.model_profiles)]);
  return Object.freeze(p);
}

const scopeKey = (p: Principal) => JSON.stringify([p.role, p.ownerServices ?? null, p.modelProfiles ?? null]);

/** Validates parsed data and returns one entry per token. `source` names it in errors. */
export function toEntries(data: unknown, source: string): TokenEntry[] {
  // Either a list of entries or { tokens: [entries] }.
  const list = Array.isArray(data) ? data : (data as { tokens?: unknown } | null)?.tokens;
  if (!Array.isArray(list)) throw new ConfigError(`${source} is invalid: expected a list of tokens or { tokens: [...] }`);
  list.forEach((e, i) => {
    if (validateEntry(e)) return;
    const err = validateEntry.errors?.[0];
    throw new ConfigError(`${source} is invalid: entry ${i}${err?.instancePath ?? ''} ${err?.message ?? 'is invalid'}`);
  });
  const raw = list as RawEntry[];
  const scopes = new Map<string, string>();
  const seen = new Set<string>();
  const entries: TokenEntry[] = [];
  raw.forEach((e, i) => {
    const where = `${source}: entry ${i} (${e.name})`;
    const problem = roleProblem(e);
    if (problem) throw new ConfigError(`${where}: ${problem}`);
    const principal = toPrincipal(e);
    // One name is one identity in the logs: its tokens must share role and scope.
    const prior = scopes.get(e.name);
    if (prior !== undefined && prior !== scopeKey(principal))
      throw new ConfigError(`${where}: the name is used again with a different role or scope`);
    scopes.set(e.name, scopeKey(principal));
    for (const value of [...(e.token ? [e.token] : []), ...(e.tokens ?? [])]) {
      const hash = hashOf(value);
      const hex = hash.toString('hex');
      if (seen.has(hex)) throw new ConfigError(`${where}: a token is listed twice`);
      seen.add(hex);
      entries.push({ hash, principal });
    }
  });
  return entries;
}

export function parseInlineTokens(text: string): TokenEntry[] {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new ConfigError('API_TOKENS is not valid JSON');
  }
  return toEntries(data, 'API_TOKENS');
}

/** Reads and parses the token file; YAML 1.2 also reads JSON. */
export function readTokenFile(path: string): TokenEntry[] {
  const source = `API_TOKENS_FILE (${path})`;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`${source} cannot be read: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  let data: unknown;
  try {
    data = parseYaml(text);
  } catch (err) {
    const line = err instanceof YAMLParseError && err.linePos ? ` at line ${err.linePos[0].line}` : '';
    throw new ConfigError(`${source} is not valid JSON or YAML${line}`);
  }
  return toEntries(data, source);
}
