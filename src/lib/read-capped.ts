// A size-capped read of an HTTP reply body: provider clients and status probes
// must never buffer whatever a remote server chooses to send.

export interface CappedBody {
  /** The body, or its first `maxBytes` when it was longer. */
  data: Buffer;
  /** The body went on past `maxBytes`; the rest was not read and the stream is destroyed. */
  over: boolean;
}

/** Reads `body` up to `maxBytes`; past that it stops reading and destroys the stream. */
export async function readCapped(body: AsyncIterable<Buffer> & { destroy(): void }, maxBytes: number): Promise<CappedBody> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > maxBytes) {
      body.destroy();
      chunks.push(chunk.subarray(0, chunk.length - (size - maxBytes)));
      return { data: Buffer.concat(chunks), over: true };
    }
    chunks.push(chunk);
  }
  return { data: Buffer.concat(chunks), over: false };
}
