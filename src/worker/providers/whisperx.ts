// Client for whisper-asr-webservice (github.com/ahmetoner/whisper-asr-webservice)
// running the whisperx engine: POST {url}/asr?output=json&… with the audio as
// multipart field `audio_file`; options go in the query string. The reply is
// JSON sent as text/plain: { segments: [{ start, end, text, words?, speaker? }],
// language, word_segments? } (the faster_whisper engine adds a top-level `text`).
//
// Also downloads the caller's audio_url with a size limit, since the webservice
// takes an upload rather than a URL.
import { type Dispatcher, FormData } from 'undici';
import { checkAddresses, urlHost } from '../../lib/address-rules.ts';
import { hostAllowed } from '../../lib/host-patterns.ts';
import { fromDownloadStatus, invalidInput, unparseableReply } from './errors.ts';
import { callProvider } from './http.ts';

export interface WhisperxClientOptions {
  url: string;
  timeoutMs: number;
  dispatcher?: Dispatcher;
}

export interface AsrOptions {
  language?: string;
  initial_prompt?: string;
  diarize?: boolean;
  min_speakers?: number;
  max_speakers?: number;
}

export interface Word {
  word: string;
  start?: number;
  end?: number;
  score?: number;
  speaker?: string;
}

export interface Segment {
  start: number;
  end: number;
  text: string;
  speaker?: string;
  words?: Word[];
}

export interface Transcript {
  text: string;
  language: string | null;
  segments: Segment[];
  duration_seconds: number;
  latency_ms: number;
}

export interface Audio {
  data: Blob;
  filename: string;
}

/** A JSON transcript of hours of audio with word timings stays well under this. */
const REPLY_MAX_BYTES = 64 * 1024 * 1024;

export class WhisperxClient {
  private readonly o: WhisperxClientOptions;

  constructor(options: WhisperxClientOptions) {
    this.o = { ...options, url: options.url.replace(/\/+$/, '') };
  }

  async transcribe(audio: Audio, options: AsrOptions, signal: AbortSignal, traceparent?: string): Promise<Transcript> {
    const form = new FormData();
    form.append('audio_file', audio.data, audio.filename);
    const started = performance.now();
    const reply = await callProvider({
      provider: 'whisperx',
      url: `${this.o.url}/asr?${asrQuery(options)}`,
      method: 'POST',
      body: form,
      traceparent,
      timeoutMs: this.o.timeoutMs,
      signal,
      maxBytes: REPLY_MAX_BYTES,
      dispatcher: this.o.dispatcher,
    });
    const latency_ms = Math.round(performance.now() - started);
    return { ...parseTranscript(reply.body), latency_ms };
  }
}

function asrQuery(o: AsrOptions): URLSearchParams {
  const q = new URLSearchParams({ output: 'json', task: 'transcribe', encode: 'true' });
  if (o.language) q.set('language', o.language);
  if (o.initial_prompt) q.set('initial_prompt', o.initial_prompt);
  if (o.diarize) q.set('diarize', 'true');
  if (o.min_speakers !== undefined) q.set('min_speakers', String(o.min_speakers));
  if (o.max_speakers !== undefined) q.set('max_speakers', String(o.max_speakers));
  return q;
}

function parseTranscript(body: Buffer): Omit<Transcript, 'latency_ms'> {
  let j: any;
  try {
    j = JSON.parse(body.toString('utf8'));
  } catch {
    throw unparseableReply('whisperx', 'not JSON (was output=json honoured?)');
  }
  if (!j || !Array.isArray(j.segments)) throw unparseableReply('whisperx', 'no segments array');
  const segments: Segment[] = j.segments.map(segment);
  const text = typeof j.text === 'string' ? j.text.trim() : segments.map((s) => s.text).join(' ');
  const lastEnd = segments.reduce((m, s) => Math.max(m, s.end), 0);
  return {
    text,
    language: typeof j.language === 'string' ? j.language : null,
    segments,
    duration_seconds: typeof j.duration === 'number' ? j.duration : lastEnd,
  };
}

// Only the fields callers use: faster_whisper segments also carry tokens and
// log-probabilities that would multiply the size of the result.
function segment(s: any): Segment {
  const out: Segment = { start: num(s?.start), end: num(s?.end), text: String(s?.text ?? '').trim() };
  if (typeof s?.speaker === 'string') out.speaker = s.speaker;
  if (Array.isArray(s?.words)) out.words = s.words.map(word);
  return out;
}

function word(w: any): Word {
  const out: Word = { word: String(w?.word ?? '').trim() };
  if (typeof w?.start === 'number') out.start = w.start;
  if (typeof w?.end === 'number') out.end = w.end;
  const score = w?.score ?? w?.probability;
  if (typeof score === 'number') out.score = score;
  if (typeof w?.speaker === 'string') out.speaker = w.speaker;
  return out;
}

function num(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : 0;
}

export interface DownloadOptions {
  maxBytes: number;
  timeoutMs: number;
  signal: AbortSignal;
  /** Host patterns (as WEBHOOK_ALLOWED_HOSTS); empty = any host. */
  allowedHosts?: string[];
  /** A dispatcher that connects only to public addresses; unset = any address. */
  publicOnly?: Dispatcher;
}

/**
 * GETs the caller's audio. A host outside the allow-list, a refused address, a
 * redirect, a body over the limit or a 4xx is invalid_input; the rest maps as any provider.
 */
export async function downloadAudio(url: string, o: DownloadOptions): Promise<Audio> {
  const target = new URL(url);
  if (o.allowedHosts?.length && !hostAllowed(target, o.allowedHosts)) {
    throw invalidInput(`audio_url host ${target.host} is not in WORKER_DOWNLOAD_ALLOWED_HOSTS`);
  }
  // IP literals never reach the dispatcher's lookup, so they are checked here.
  const { host, literal } = urlHost(target);
  if (o.publicOnly && literal) {
    try {
      checkAddresses(host, [host]);
    } catch (err) {
      throw invalidInput(`audio_url is refused: ${(err as Error).message}`);
    }
  }
  const reply = await callProvider({
    provider: 'audio_url',
    url,
    method: 'GET',
    timeoutMs: o.timeoutMs,
    signal: o.signal,
    maxBytes: o.maxBytes,
    tooLarge: () => invalidInput(`audio is larger than the limit of ${o.maxBytes} bytes`),
    onStatus: (status, retryAfter) => fromDownloadStatus('audio_url', status, retryAfter),
    dispatcher: o.publicOnly,
  });
  if (reply.body.length === 0) throw invalidInput('audio_url returned an empty body');
  const type = reply.headers['content-type'];
  return {
    data: new Blob([reply.body], typeof type === 'string' ? { type } : {}),
    filename: filenameOf(url),
  };
}

function filenameOf(url: string): string {
  const last = new URL(url).pathname.split('/').pop() ?? '';
  const clean = last.replace(/%[0-9A-Fa-f]{2}|[^\w.-]/g, '_').slice(0, 100);
  return clean || 'audio';
}
