// The tokens in memory: only SHA-256 hashes and the principals they stand for.
// A presented token is hashed and compared with every stored hash using
// timingSafeEqual, without stopping at a match, so the time taken says nothing
// about which token (or how much of one) matched.
import { timingSafeEqual } from 'node:crypto';
import { ConfigError } from '../config.ts';
import type { Principal } from './principal.ts';
import { hashToken, parseInlineTokens, readTokenFile, type TokenEntry } from './tokens.ts';

export interface TokenSources {
  file?: string;
  inline?: string;
}

export class TokenStore {
  private readonly sources: TokenSources;
  private entries: readonly TokenEntry[] = [];

  constructor(sources: TokenSources) {
    this.sources = sources;
  }

  /** Reads both sources; throws ConfigError and keeps the current tokens on any problem. */
  load(): void {
    const fromInline = this.sources.inline ? parseInlineTokens(this.sources.inline) : [];
    const fromFile = this.sources.file ? readTokenFile(this.sources.file) : [];
    const all = [...fromInline, ...fromFile];
    const hashes = new Set(all.map((e) => e.hash.toString('hex')));
    if (hashes.size !== all.length) throw new ConfigError('a token is listed in both API_TOKENS and API_TOKENS_FILE');
    const scopes = new Map(fromInline.map((e) => [e.principal.name, JSON.stringify(e.principal)]));
    const clash = fromFile.find((e) => (scopes.get(e.principal.name) ?? JSON.stringify(e.principal)) !== JSON.stringify(e.principal));
    if (clash) throw new ConfigError(`token name ${clash.principal.name} has different roles or scopes in API_TOKENS and API_TOKENS_FILE`);
    this.entries = Object.freeze(all);
  }

  /** Names and token counts, for the start-up and reload logs. */
  summary(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const e of this.entries) out[e.principal.name] = (out[e.principal.name] ?? 0) + 1;
    return out;
  }

  get size(): number {
    return this.entries.length;
  }

  lookup(token: string): Principal | undefined {
    const hash = hashToken(token);
    let found: Principal | undefined;
    for (const e of this.entries) {
      if (timingSafeEqual(hash, e.hash) && !found) found = e.principal;
    }
    return found;
  }
}
