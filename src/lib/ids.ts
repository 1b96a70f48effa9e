// UUIDv7 (RFC 9562): 48-bit Unix milliseconds, then a 12-bit per-process sequence
// (so ids made in the same millisecond still sort in creation order), then random
// bits. Time-ordered ids let the primary key double as "newest first" and keep
// B-tree inserts at the right edge.
import { randomFillSync } from 'node:crypto';

let lastMs = 0;
let seq = 0;

// Random bits come from a pool refilled 4 KiB at a time: one randomBytes(16) call
// per id cost ~8 µs, which a batch of 1,000 creates paid 1,000 times.
const POOL_BYTES = 4096;
const pool = Buffer.alloc(POOL_BYTES);
let poolOffset = POOL_BYTES;
const b = Buffer.alloc(16);

export function uuidv7(now = Date.now()): string {
  if (now <= lastMs) {
    seq += 1;
    if (seq > 0xfff) {
      // sequence exhausted within one millisecond: borrow the next one
      lastMs += 1;
      seq = 0;
    }
  } else {
    lastMs = now;
    seq = 0;
  }
  if (poolOffset + 16 > POOL_BYTES) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  pool.copy(b, 0, poolOffset, poolOffset + 16);
  poolOffset += 16;
  const ms = lastMs;
  b[0] = Math.floor(ms / 2 ** 40) & 0xff;
  b[1] = Math.floor(ms / 2 ** 32) & 0xff;
  b[2] = Math.floor(ms / 2 ** 24) & 0xff;
  b[3] = Math.floor(ms / 2 ** 16) & 0xff;
  b[4] = Math.floor(ms / 2 ** 8) & 0xff;
  b[5] = ms & 0xff;
  b[6] = 0x70 | ((seq >> 8) & 0x0f);
  b[7] = seq & 0xff;
  b[8] = 0x80 | (b[8] & 0x3f);
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Any RFC 9562 UUID in its hyphenated text form (PostgreSQL's uuid accepts either case). The one UUID check. */
export function isUuid(s: string): boolean {
  return UUID.test(s);
}
