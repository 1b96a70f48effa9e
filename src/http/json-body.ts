// The JSON body parser, with two guards body-parser lacks: UTF-8 only (RFC 8259
// §8.1), and a nesting limit checked on the raw bytes before JSON.parse. Without
// it a 2 MiB body of `[[[[…` parses fine and then overflows the stack of every
// recursive step after it (validation, JSON.stringify): a 500 instead of a 400.
// The scan is one pass over the bytes; multi-byte UTF-8 sequences never contain
// the ASCII bytes it looks at.
import express, { type RequestHandler } from 'express';
import { HttpError } from './problem.ts';

/** Levels a body may add around `input`/`result`: body → jobs → item → input. */
export const BODY_WRAPPER_DEPTH = 3;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const [OPEN_ARRAY, OPEN_OBJECT, CLOSE_ARRAY, CLOSE_OBJECT] = [0x5b, 0x7b, 0x5d, 0x7d];

/** Index of the quote that closes the string opened at `start`, or -1. */
function stringEnd(buf: Uint8Array, start: number): number {
  let j = start + 1;
  for (;;) {
    // indexOf is a native scan: most of a large body is string content.
    j = Buffer.prototype.indexOf.call(buf, QUOTE, j);
    if (j === -1) return -1;
    let backslashes = 0;
    while (buf[j - 1 - backslashes] === BACKSLASH) backslashes++;
    if (backslashes % 2 === 0) return j;
    j++;
  }
}

/** True when the JSON text nests arrays/objects deeper than maxDepth. */
export function nestedDeeperThan(buf: Uint8Array, maxDepth: number): boolean {
  let depth = 0;
  for (let i = 0; i < buf.length; i++) {
    const c = buf[i];
    if (c === QUOTE) {
      i = stringEnd(buf, i);
      if (i === -1) return false; // unterminated: JSON.parse rejects it
    } else if (c === OPEN_ARRAY || c === OPEN_OBJECT) {
      if (++depth > maxDepth) return true;
    } else if (c === CLOSE_ARRAY || c === CLOSE_OBJECT) depth--;
  }
  return false;
}

export function jsonBody(limitBytes: number, maxDepth: number): RequestHandler {
  return express.json({
    limit: limitBytes,
    strict: true,
    type: ['application/json', 'application/*+json'],
    verify(_req, _res, buf, encoding) {
      if (encoding !== 'utf-8' && encoding !== 'utf8') throw new HttpError(415, 'unsupported_media_type', 'JSON bodies must be UTF-8');
      if (nestedDeeperThan(buf, maxDepth))
        throw new HttpError(400, 'validation_failed', `request body is nested deeper than ${maxDepth} levels`);
    },
  });
}
