// Seeds a service with jobs in known states through the API, so the dashboard's
// numbers can be checked exactly.
import { client, jobBody, type TestService } from '../support/service.ts';

export const ANALYSIS = { task_type: 'call_analysis', model_profile: 'qwen2.5-14b' };
export const TRANSCRIBE = { task_type: 'transcribe', model_profile: 'whisperx' };

export interface Seeded {
  /** A job that failed with invalid_input (not retryable). */
  failedId: string;
  /** A pending job nobody claimed. */
  pendingId: string;
  /** The owner_ref of a single transcribe job, for the filter test. */
  needleRef: string;
  needleId: string;
}

/**
 * call_analysis/qwen2.5-14b: ready 2, delayed 1, running 1, completed 1, failed 1.
 * transcribe/whisperx: ready 4.
 */
export async function seed(t: TestService): Promise<Seeded> {
  const api = client(t.api);
  const runAfter = new Date(Date.now() + 3600_000).toISOString();
  await api.create(jobBody({ ...ANALYSIS, run_after: runAfter }));
  for (let i = 0; i < 5; i++) await api.create(jobBody({ ...ANALYSIS, input: { prompt: `Summarise call ${i}.` } }));
  const { jobs } = await api.claim({ worker_id: 'gpu-01', model_profiles: [ANALYSIS.model_profile], limit: 3, lease_seconds: 600 });
  await api.complete(jobs[0].id, { lease_token: jobs[0].lease_token, result: { content: 'The caller asked for a refund.' } });
  await api.fail(jobs[1].id, { lease_token: jobs[1].lease_token, category: 'invalid_input', message: 'audio_url is not reachable' });

  const needleRef = `ui-test/needle-${Date.now()}`;
  const needle = await api.create(
    jobBody({
      ...TRANSCRIBE,
      owner_service: 'monitoring-tg',
      owner_ref: needleRef,
      input: { audio_url: 'https://files.example/needle.mp3' },
    }),
  );
  for (let i = 0; i < 3; i++) await api.create(jobBody({ ...TRANSCRIBE, input: { audio_url: `https://files.example/${i}.mp3` } }));
  const pending = await api.list({ ...ANALYSIS, status: 'pending', limit: 1 });
  return { failedId: jobs[1].id, pendingId: pending.jobs[0].id, needleRef, needleId: needle.id };
}
