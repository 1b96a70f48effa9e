// Standard Webhooks signatures (https://www.standardwebhooks.com):
// webhook-signature = "v1,<base64 HMAC-SHA256(secret, `${id}.${timestamp}.${body}`)>",
// one entry per configured secret (space-separated) so receivers can rotate keys.
// A secret written as `whsec_<base64>` is used as those decoded bytes, as the spec's
// libraries do; any other string is used as its UTF-8 bytes.
import { createHmac, timingSafeEqual } from 'node:crypto';

function keyBytes(secret: string): Buffer {
  return secret.startsWith('whsec_') ? Buffer.from(secret.slice(6), 'base64') : Buffer.from(secret, 'utf8');
}

export function sign(secret: string, id: string, timestamp: number, body: string): string {
  return createHmac('sha256', keyBytes(secret)).update(`${id}.${timestamp}.${body}`).digest('base64');
}

export function signatureHeader(secrets: string[], id: string, timestamp: number, body: string): string {
  return secrets.map((s) => `v1,${sign(s, id, timestamp, body)}`).join(' ');
}

/** Receiver-side check (used by tests; src/webhooks/README.md shows the same recipe). */
export function verifySignature(
  secret: string,
  headers: { id: string; timestamp: string; signature: string },
  body: string,
  toleranceSeconds = 300,
): boolean {
  const ts = Number(headers.timestamp);
  if (!Number.isInteger(ts) || Math.abs(Date.now() / 1000 - ts) > toleranceSeconds) return false;
  const expected = Buffer.from(sign(secret, headers.id, ts, body));
  return headers.signature.split(' ').some((entry) => {
    const [version, sig] = entry.split(',');
    const given = Buffer.from(sig ?? '');
    return version === 'v1' && given.length === expected.length && timingSafeEqual(given, expected);
  });
}
