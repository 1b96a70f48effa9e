// Client for an OpenAI-compatible chat completions endpoint (vLLM, or the
// OpenClaw gateway, which speaks the same protocol): POST {baseUrl}/chat/completions
// with a bearer key. Non-streaming; the reply is checked for the fields we use.
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

  async chat(req: ChatRequest, signal: AbortSignal, traceparent?: string): Promise<ChatCompletion> {
    const started = performance.now();
    const reply = await callProvider({
      provider: this.o.name,
      url: `${this.o.baseUrl}/chat/completions`,
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json',
        ...(this.o.apiKey ? { authorization: `Bearer ${this.o.apiKey}` } : {}),
      },
      body: JSON.stringify(req),
      traceparent,
      timeoutMs: this.o.timeoutMs,
      signal,
      maxBytes: REPLY_MAX_BYTES,
      dispatcher: this.o.dispatcher,
    });
    const latency_ms = Math.round(performance.now() - started);
    return { ...parseCompletion(this.o.name, reply.body), latency_ms };
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
