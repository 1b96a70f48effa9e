// Client for an OpenAI-compatible chat completions endpoint (vLLM, or the
// OpenClaw gateway, which speaks the same protocol): POST {baseUrl}/chat/completions
// with a bearer key. With `onText` the request asks for a streamed reply
// (`stream: true`, Server-Sent Events of deltas) and `onText` sees the text so far
// after each chunk; a server that answers with plain JSON anyway is read as before.
// Either way the reply is checked for the fields we use and gives the same completion.
import type { Dispatcher } from 'undici';
import { unparseableReply } from './errors.ts';
import { callProvider } from './http.ts';

export interface LlmClientOptions {
  /** Used in error messages and logs: `llm` or `openclaw`. */
  name: string;
  baseUrl: string;
  apiKey?: string;
  timeoutMs: number;
  dispatcher?: Dispatcher;
}

export interface ChatRequest {
  model: string;
  messages: unknown[];
  temperature?: number;
  max_tokens?: number;
  response_format?: Record<string, unknown>;
}

export interface ChatCompletion {
  content: string | null;
  model: string;
  finish_reason: string | null;
  usage: Record<string, unknown> | null;
  latency_ms: number;
}

/** A completion reply is small; anything this large is not one. */
const REPLY_MAX_BYTES = 16 * 1024 * 1024;

export class LlmClient {
  private readonly o: LlmClientOptions;

  constructor(options: LlmClientOptions) {
    this.o = { ...options, baseUrl: options.baseUrl.replace(/\/+$/, '') };
  }

  get name(): string {
    return this.o.name;
  }

  async chat(req: ChatRequest, signal: AbortSignal, onText?: (text: string) => void, traceparent?: string): Promise<ChatCompletion> {
    const started = performance.now();
    const stream = onText ? new StreamedCompletion(onText) : undefined;
    const body = stream ? { ...req, stream: true, stream_options: { include_usage: true } } : req;
    const reply = await callProvider({
      provider: this.o.name,
      url: `${this.o.baseUrl}/chat/completions`,
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: stream ? 'text/event-stream, application/json' : 'application/json',
        ...(this.o.apiKey ? { authorization: `Bearer ${this.o.apiKey}` } : {}),
      },
      body: JSON.stringify(body),
      traceparent,
      onChunk: stream && ((chunk) => stream.push(chunk)),
      timeoutMs: this.o.timeoutMs,
      signal,
      maxBytes: REPLY_MAX_BYTES,
      dispatcher: this.o.dispatcher,
    });
    const latency_ms = Math.round(performance.now() - started);
    const streamed = stream && String(reply.headers['content-type'] ?? '').startsWith('text/event-stream');
    return { ...(streamed ? stream.completion(this.o.name) : parseCompletion(this.o.name, reply.body)), latency_ms };
  }
}

/**
 * Assembles a streamed chat completion from its SSE chunks: `data: {json}` lines
 * with `choices[0].delta.content`, `finish_reason`, and (with include_usage) a last
 * chunk carrying `usage`; `data: [DONE]` ends it.
 */
class StreamedCompletion {
  private buffer = '';
  private content = '';
  private model = '';
  private finishReason: string | null = null;
  private usage: Record<string, unknown> | null = null;
  private chunks = 0;
  private bad = false;
  private readonly decoder = new TextDecoder();
  private readonly onText: (text: string) => void;

  constructor(onText: (text: string) => void) {
    this.onText = onText;
  }

  push(chunk: Buffer): void {
    this.buffer += this.decoder.decode(chunk, { stream: true });
    const lines = this.buffer.split('\n');
    this.buffer = lines.pop() ?? '';
    const before = this.content;
    for (const line of lines) this.line(line.trim());
    if (this.content !== before) this.onText(this.content);
  }

  private line(line: string): void {
    if (!line.startsWith('data:')) return;
    const data = line.slice(5).trim();
    if (data === '[DONE]') return;
    let j: any;
    try {
      j = JSON.parse(data);
    } catch {
      this.bad = true;
      return;
    }
    this.chunks++;
    if (typeof j.model === 'string') this.model = j.model;
    if (j.usage && typeof j.usage === 'object') this.usage = j.usage;
    const choice = j.choices?.[0];
    if (typeof choice?.delta?.content === 'string') this.content += choice.delta.content;
    if (typeof choice?.finish_reason === 'string') this.finishReason = choice.finish_reason;
  }

  completion(provider: string): Omit<ChatCompletion, 'latency_ms'> {
    this.line(this.buffer.trim());
    if (this.bad || this.chunks === 0) throw unparseableReply(provider, 'a streamed reply without valid chunks');
    return { content: this.content, model: this.model, finish_reason: this.finishReason, usage: this.usage };
  }
}

function parseCompletion(provider: string, body: Buffer): Omit<ChatCompletion, 'latency_ms'> {
  let j: any;
  try {
    j = JSON.parse(body.toString('utf8'));
  } catch {
    throw unparseableReply(provider, 'not JSON');
  }
  const choice = j?.choices?.[0];
  const content = choice?.message?.content;
  if (!choice || (typeof content !== 'string' && content !== null)) {
    throw unparseableReply(provider, 'no choices[0].message.content');
  }
  return {
    content,
    model: typeof j.model === 'string' ? j.model : '',
    finish_reason: typeof choice.finish_reason === 'string' ? choice.finish_reason : null,
    usage: j.usage && typeof j.usage === 'object' ? j.usage : null,
  };
}
