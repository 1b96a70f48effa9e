// Tokens for the access-control tests: fresh random values each run, so a scan
// for them in logs and responses cannot match by accident.
import { randomBytes } from 'node:crypto';
import type supertest from 'supertest';

const secret = () => randomBytes(24).toString('base64url');

export const OWNER_A = 'telephony';
export const OWNER_B = 'billing';
export const PROFILE = 'qwen2.5-14b';
export const OTHER_PROFILE = 'whisperx';

export const TOKENS = {
  producerA: secret(),
  producerB: secret(),
  worker: secret(),
  workerOther: secret(),
  admin: secret(),
  unknown: secret(),
};

export const NAMES = {
  producerA: 'telephony-app',
  producerB: 'billing-app',
  worker: 'gpu-llm',
  workerOther: 'gpu-asr',
  admin: 'ops',
};

export const TOKEN_LIST = [
  { name: NAMES.producerA, role: 'producer', owner_services: [OWNER_A], token: TOKENS.producerA },
  { name: NAMES.producerB, role: 'producer', owner_services: [OWNER_B], token: TOKENS.producerB },
  { name: NAMES.worker, role: 'worker', model_profiles: [PROFILE], token: TOKENS.worker },
  { name: NAMES.workerOther, role: 'worker', model_profiles: [OTHER_PROFILE], token: TOKENS.workerOther },
  { name: NAMES.admin, role: 'admin', token: TOKENS.admin },
];

export const env = () => ({ API_TOKENS: JSON.stringify(TOKEN_LIST) });

/** Adds `Authorization: Bearer <token>` (or nothing for undefined). */
export function as<T extends supertest.Test>(req: T, token: string | undefined): T {
  return token === undefined ? req : (req.set('Authorization', `Bearer ${token}`) as T);
}

/**
 * One text for everything a call can change: our rows, the attempts and the
 * pg-boss rows (in full), and the number of queues. Equal before and after a
 * rejected call means the call changed nothing. A job's `delayed` flag is left
 * out: the leader flips it when a backoff runs out (src/jobs/delayed.ts), so a
 * job deferred by an earlier test may become due in the middle of this one.
 */
export const DB_FINGERPRINT = `
SELECT (SELECT count(*) FROM jobs) AS jobs,
       (SELECT coalesce(md5(string_agg((to_jsonb(j) - 'delayed')::text, '|' ORDER BY id)), '') FROM jobs j) AS jobs_md5,
       (SELECT coalesce(md5(string_agg(a::text, '|' ORDER BY job_id, attempt)), '') FROM job_attempts a) AS attempts_md5,
       (SELECT coalesce(md5(string_agg(p::text, '|' ORDER BY id)), '') FROM pgboss.job p) AS boss_md5,
       (SELECT count(*) FROM pgboss.queue) AS queues`;
