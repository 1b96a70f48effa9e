// Puts one queue into every state through the API: 2 ready, 1 delayed, 1 running,
// 1 completed, 1 failed (category invalid_input), 1 cancelled.
import { expect } from 'chai';
import { type client, jobBody } from '../support/service.ts';

type Api = ReturnType<typeof client>;

export const HOUR_MS = 3_600_000;

export async function fillQueue(api: Api, task_type: string, model_profile: string) {
  const body = (o: Record<string, unknown> = {}) => jobBody({ task_type, model_profile, ...o });
  const first = [await api.create(body()), await api.create(body()), await api.create(body())];
  const { jobs } = await api.claim({ worker_id: 'w-stats', model_profiles: [model_profile], task_types: [task_type], limit: 3 });
  expect(jobs.map((j: { id: string }) => j.id)).to.deep.equal(first.map((j) => j.id));
  await api.complete(jobs[0].id, { lease_token: jobs[0].lease_token, result: { ok: true } });
  await api.fail(jobs[1].id, { lease_token: jobs[1].lease_token, category: 'invalid_input', message: 'bad audio', retryable: false });
  const cancelled = await api.create(body());
  await api.cancel(cancelled.id);
  const ready = [await api.create(body()), await api.create(body())];
  const delayed = await api.create(body({ run_after: new Date(Date.now() + HOUR_MS).toISOString() }));
  return { running: jobs[2], ready, delayed };
}

/** The counts every filled queue has. */
export const FILLED = {
  pending: 3,
  ready: 2,
  delayed: 1,
  running: 1,
  completed: 1,
  failed: 1,
  cancelled: 1,
  completed_last_hour: 1,
  failed_last_hour: 1,
  purged: 0,
};
