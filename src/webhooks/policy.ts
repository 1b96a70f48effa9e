// Where callbacks may go. A callback URL must be http(s), carry no userinfo, and
// name a host allowed by WEBHOOK_ALLOWED_HOSTS; with no allow-list, or no signing
// secret, callbacks are refused (422): a secure default against SSRF.
import { HttpError } from '../http/problem.ts';

export interface CallbackPolicy {
  allowedHosts: string[];
  secrets: string[];
}

const unprocessable = (detail: string) => new HttpError(422, 'callback_not_allowed', detail);

/**
 * Patterns: `*` (any host), `hooks.example.com` (exact), `*.example.com` (any
 * subdomain), each optionally with `:port` (else any port).
 */
export function hostAllowed(url: URL, patterns: string[]): boolean {
  const host = url.hostname.toLowerCase();
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  return patterns.some((raw) => {
    const p = raw.toLowerCase();
    if (p === '*') return true;
    const colon = p.lastIndexOf(':');
    const hasPort = colon > 0 && !p.endsWith(']') && /^\d+$/.test(p.slice(colon + 1));
    const hostPattern = hasPort ? p.slice(0, colon) : p;
    if (hasPort && p.slice(colon + 1) !== port) return false;
    if (hostPattern.startsWith('*.')) return host.endsWith(hostPattern.slice(1));
    return host === hostPattern;
  });
}

/** Throws 422 unless the URL may receive callbacks. */
export function checkCallbackUrl(raw: string, policy: CallbackPolicy): void {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw unprocessable('callback_url is not a valid URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw unprocessable('callback_url must be http or https');
  if (url.username || url.password) throw unprocessable('callback_url must not contain credentials');
  if (policy.secrets.length === 0) throw unprocessable('callbacks are not enabled on this service (WEBHOOK_SECRET is not set)');
  if (!hostAllowed(url, policy.allowedHosts)) throw unprocessable(`callback host ${url.host} is not in WEBHOOK_ALLOWED_HOSTS`);
}
