// WhisperX executor: downloads the caller's audio (size-limited) and has
// whisper-asr-webservice (engine whisperx) transcribe it. Progress reports the
// stages: downloading (0), transcribing (0.1), done (1).
//
// input:  { audio_url, language?, diarize?, min_speakers?, max_speakers?, initial_prompt? }
// result: { text, language, segments: [{ start, end, text, speaker?, words? }],
//           duration_seconds, latency_ms }
import type { Dispatcher } from 'undici';
import { BYTES, DURATION, type Env, list, read, url } from '../../config.ts';
import { publicAddressAgent } from '../../lib/address-rules.ts';
import { parseBoolean, parseBytes, parseDuration, redactUrl } from '../../lib/units.ts';
import { invalidInput } from '../providers/errors.ts';
import { type AsrOptions, downloadAudio, WhisperxClient } from '../providers/whisperx.ts';
import type { Executor, ExecutorPlugin, JobContext, JsonObject } from '../executor.ts';
import { inputChecker } from './validate.ts';

interface WhisperxInput extends AsrOptions {
  audio_url: string;
}

const checkInput = inputChecker<WhisperxInput>({
  type: 'object',
  required: ['audio_url'],
  properties: {
    audio_url: { type: 'string', format: 'uri', pattern: '^https?://', maxLength: 4096 },
    language: { type: 'string', pattern: '^[a-z]{2,3}$' },
    diarize: { type: 'boolean' },
    min_speakers: { type: 'integer', minimum: 1, maximum: 100 },
    max_speakers: { type: 'integer', minimum: 1, maximum: 100 },
    initial_prompt: { type: 'string', maxLength: 4000 },
  },
});

export interface WhisperxSettings {
  maxAudioBytes: number;
  downloadTimeoutMs: number;
  /** Host patterns audio_url may name; empty = any host. */
  downloadAllowedHosts: string[];
  /** Set unless private addresses are allowed: connects only to public addresses. */
  downloadDispatcher: Dispatcher | undefined;
}

export class WhisperxExecutor implements Executor {
  private readonly client: WhisperxClient;
  private readonly s: WhisperxSettings;

  constructor(client: WhisperxClient, settings: WhisperxSettings) {
    this.client = client;
    this.s = settings;
  }

  async run(input: JsonObject, ctx: JobContext): Promise<JsonObject> {
    const i = checkInput(input);
    if (i.min_speakers !== undefined && i.max_speakers !== undefined && i.min_speakers > i.max_speakers) {
      throw invalidInput('input/min_speakers must be <= max_speakers');
    }
    ctx.progress({ fraction: 0, message: 'downloading' });
    const audio = await downloadAudio(i.audio_url, {
      maxBytes: this.s.maxAudioBytes,
      timeoutMs: this.s.downloadTimeoutMs,
      signal: ctx.signal,
      allowedHosts: this.s.downloadAllowedHosts,
      publicOnly: this.s.downloadDispatcher,
    });
    ctx.logger.debug({ bytes: audio.data.size }, 'audio downloaded');
    const { audio_url: _url, ...options } = i;
    ctx.progress({ fraction: 0.1, message: 'transcribing' });
    const t = await this.client.transcribe(audio, options, ctx.signal, ctx.traceparent);
    ctx.progress({ fraction: 1, message: 'done' });
    return { ...t };
  }
}

export const whisperxExecutor: ExecutorPlugin = {
  name: 'whisperx',
  configure(env: Env) {
    const whisperxUrl = read(env, 'WHISPERX_URL', undefined, url, 'an http(s) URL');
    if (!whisperxUrl) return undefined;
    const timeoutMs = read(env, 'WHISPERX_TIMEOUT', 3_600_000, parseDuration, DURATION);
    const settings: WhisperxSettings = {
      maxAudioBytes: read(env, 'WHISPERX_MAX_AUDIO_BYTES', 200 * 1024 * 1024, parseBytes, BYTES),
      downloadTimeoutMs: read(env, 'WHISPERX_DOWNLOAD_TIMEOUT', 300_000, parseDuration, DURATION),
      downloadAllowedHosts: read(env, 'WORKER_DOWNLOAD_ALLOWED_HOSTS', [], list, 'comma-separated host patterns'),
      // Downloads from loopback, private, link-local, unique-local or cloud-metadata addresses are refused unless true.
      downloadDispatcher: read(env, 'WORKER_DOWNLOAD_ALLOW_PRIVATE_ADDRESSES', false, parseBoolean, 'true, false, 1 or 0')
        ? undefined
        : publicAddressAgent(),
    };
    const client = new WhisperxClient({ url: whisperxUrl, timeoutMs });
    return {
      name: 'whisperx',
      profiles: read(env, 'WHISPERX_PROFILES', ['whisperx'], list, 'comma-separated model profiles'),
      summary: { endpoint: redactUrl(whisperxUrl), timeout_ms: timeoutMs, max_audio_bytes: settings.maxAudioBytes },
      health: { url: whisperxUrl, openai: false },
      create: () => new WhisperxExecutor(client, settings),
    };
  },
};
