// Policy changes over the API: the rules openapi.yaml cannot state (a scope names
// at least one field; weight only on owner scopes) answer 422 naming the field and
// change nothing. Each change is logged with the admin token's name, and the local
// cache reloads before the answer, so this replica enforces it at once (others
// within a second, see cache.ts).
import type { Logger } from 'pino';
import type { Pool } from '../db/pool.ts';
import { HttpError } from '../http/problem.ts';
import type { PolicyCache } from './cache.ts';
import type { Policy, PolicyScope } from './policy.ts';
import { deletePolicy, listPolicies, putPolicy } from './store.ts';

export interface PolicyPut {
  scope: PolicyScope;
  weight?: number;
  max_running?: number | null;
  paused?: boolean;
}

const unprocessable = (path: string, message: string) => new HttpError(422, 'invalid_policy', message, { errors: [{ path, message }] });

export function checkPolicy(body: PolicyPut): void {
  const s = body.scope;
  if (s.owner_service === undefined && s.task_type === undefined && s.model_profile === undefined)
    throw unprocessable('/body/scope', 'a scope names at least one of owner_service, task_type, model_profile');
  if (body.weight !== undefined && (s.owner_service === undefined || s.task_type !== undefined))
    throw unprocessable('/body/weight', 'weight is allowed only on a scope of owner_service alone or with model_profile');
}

export class PolicyService {
  private readonly pool: Pool;
  private readonly cache: PolicyCache;
  private readonly logger: Logger;

  constructor(pool: Pool, cache: PolicyCache, logger: Logger) {
    this.pool = pool;
    this.cache = cache;
    this.logger = logger;
  }

  list(): Promise<Policy[]> {
    return listPolicies(this.pool);
  }

  async put(body: PolicyPut, by: string | undefined): Promise<{ policy: Policy; created: boolean }> {
    checkPolicy(body);
    const r = await putPolicy(this.pool, {
      scope: body.scope,
      weight: body.weight ?? 1,
      max_running: body.max_running ?? null,
      paused: body.paused ?? false,
      updated_by: by ?? null,
    });
    this.logger.info({ policy: r.policy, created: r.created, token: by }, r.created ? 'policy created' : 'policy replaced');
    await this.cache.reload();
    return r;
  }

  async delete(id: number, by: string | undefined): Promise<void> {
    const gone = await deletePolicy(this.pool, id);
    if (!gone) throw new HttpError(404, 'not_found', `policy ${id} not found`);
    this.logger.info({ policy: gone, token: by }, 'policy deleted');
    await this.cache.reload();
  }
}
