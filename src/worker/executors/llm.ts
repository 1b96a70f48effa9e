// LLM executor: a chat completion on an OpenAI-compatible server (vLLM), or
// through the OpenClaw gateway when OPENCLAW_URL is set (same protocol).
//
// input:  { messages: [...OpenAI chat messages, text or image parts] }
//         or { prompt, system? }; optional model, temperature, max_tokens,
//         response_format ({ type: 'json_schema', json_schema: {...} } or json_object)
// result: { content, parsed?, model, finish_reason, usage, latency_ms }
// progress: the reply is streamed; `output.content` is the text so far (at most every 500 ms)
//         (`parsed` when JSON output was requested and the content parses)
import { DURATION, type Env, list, read, url } from '../../config.ts';
import { parseDuration, redactUrl } from '../../lib/units.ts';
import { invalidInput } from '../providers/errors.ts';
import { type ChatRequest, LlmClient } from '../providers/llm.ts';
import type { Executor, ExecutorPlugin, JobContext, JsonObject } from '../executor.ts';
import { inputChecker } from './validate.ts';

interface LlmInput {
  messages?: unknown[];
  prompt?: string;
  system?: string;
  model?: string;
  temperature?: number;
  max_tokens?: number;
  response_format?: { type: string };
}

const MESSAGE = {
  type: 'object',
  required: ['role'],
  properties: {
    role: { enum: ['system', 'user', 'assistant', 'tool', 'developer'] },
    content: { anyOf: [{ type: 'string' }, { type: 'null' }, { type: 'array', items: { type: 'object', required: ['type'] } }] },
  },
};

// Unknown fields are ignored: callers may keep their own context in `input`.
const checkInput = inputChecker<LlmInput>({
  type: 'object',
  properties: {
    messages: { type: 'array', minItems: 1, maxItems: 1000, items: MESSAGE },
    prompt: { type: 'string', minLength: 1 },
    system: { type: 'string' },
    model: { type: 'string', minLength: 1, maxLength: 200 },
    temperature: { type: 'number', minimum: 0, maximum: 2 },
    max_tokens: { type: 'integer', minimum: 1 },
    response_format: {
      type: 'object',
      required: ['type'],
      properties: {
        type: { enum: ['text', 'json_object', 'json_schema'] },
        json_schema: { type: 'object', required: ['schema'] },
      },
    },
  },
});

const JSON_FORMATS = new Set(['json_object', 'json_schema']);

export class LlmExecutor implements Executor {
  private readonly client: LlmClient;
  private readonly model: string;

  constructor(client: LlmClient, model: string) {
    this.client = client;
    this.model = model;
  }

  async run(input: JsonObject, ctx: JobContext): Promise<JsonObject> {
    const i = checkInput(input);
    if (i.messages && i.prompt !== undefined) throw invalidInput('input has both messages and prompt; send one');
    if (i.response_format?.type === 'json_schema' && !('json_schema' in i.response_format)) {
      throw invalidInput('input/response_format must have json_schema when type is json_schema');
    }
    const messages = i.messages ?? chatOf(i);
    const req: ChatRequest = { model: i.model ?? this.model, messages };
    if (i.temperature !== undefined) req.temperature = i.temperature;
    if (i.max_tokens !== undefined) req.max_tokens = i.max_tokens;
    if (i.response_format) req.response_format = i.response_format;
    // The text so far is the partial result callers see (the progress sender throttles it).
    const c = await this.client.chat(req, ctx.signal, (text) => ctx.progress({ output: { content: text } }), ctx.traceparent);
    const result: JsonObject = { content: c.content };
    if (i.response_format && JSON_FORMATS.has(i.response_format.type) && c.content !== null) {
      const parsed = tryParse(c.content);
      if (parsed !== undefined) result.parsed = parsed;
    }
    return { ...result, model: c.model || req.model, finish_reason: c.finish_reason, usage: c.usage, latency_ms: c.latency_ms };
  }
}

function chatOf(i: LlmInput): unknown[] {
  if (i.prompt === undefined) throw invalidInput('input must have messages or prompt');
  const system = i.system ? [{ role: 'system', content: i.system }] : [];
  return [...system, { role: 'user', content: i.prompt }];
}

function tryParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

const HTTP_URL = 'an http(s) URL';

export const llmExecutor: ExecutorPlugin = {
  name: 'llm',
  configure(env: Env) {
    const baseUrl = read(env, 'LLM_BASE_URL', undefined, url, HTTP_URL);
    const gateway = read(env, 'OPENCLAW_URL', undefined, url, HTTP_URL);
    if (!baseUrl && !gateway) return undefined;
    const model = read(env, 'LLM_MODEL', 'qwen2.5-14b', (s) => s, 'a model name');
    const timeoutMs = read(env, 'LLM_TIMEOUT', 300_000, parseDuration, DURATION);
    const profiles = read(env, 'LLM_PROFILES', [model], list, 'comma-separated model profiles');
    const apiKey = (gateway ? env.OPENCLAW_TOKEN : env.LLM_API_KEY) || undefined;
    const client = new LlmClient({ name: gateway ? 'openclaw' : 'llm', baseUrl: gateway ?? baseUrl!, apiKey, timeoutMs });
    return {
      name: 'llm',
      profiles,
      summary: { via: client.name, endpoint: redactUrl(gateway ?? baseUrl!), model, timeout_ms: timeoutMs },
      health: { url: gateway ?? baseUrl!, openai: true, apiKey, model },
      create: () => new LlmExecutor(client, model),
    };
  },
};
