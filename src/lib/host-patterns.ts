// Host allow-lists for outbound requests to caller-supplied URLs (callbacks,
// worker downloads), one syntax for both.

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
