// Policies in PostgreSQL. The scope is unique (an expression index over the three
// fields), so a PUT is one upsert that also says whether the row is new.
import type { Queryable } from '../db/pool.ts';
import type { Policy, PolicyScope } from './policy.ts';

const COLUMNS = `id::int AS id, owner_service, task_type, model_profile, weight, max_running, paused, updated_at`;

interface PolicyRow {
  id: number;
  owner_service: string | null;
  task_type: string | null;
  model_profile: string | null;
  weight: number;
  max_running: number | null;
  paused: boolean;
  updated_at: string;
}

function toPolicy(r: PolicyRow): Policy {
  const scope: PolicyScope = {};
  if (r.owner_service !== null) scope.owner_service = r.owner_service;
  if (r.task_type !== null) scope.task_type = r.task_type;
  if (r.model_profile !== null) scope.model_profile = r.model_profile;
  return { id: r.id, scope, weight: r.weight, max_running: r.max_running, paused: r.paused, updated_at: r.updated_at };
}

export async function listPolicies(db: Queryable): Promise<Policy[]> {
  const { rows } = await db.query(`SELECT ${COLUMNS} FROM policies ORDER BY id`);
  return rows.map(toPolicy);
}

export interface PolicyWrite {
  scope: PolicyScope;
  weight: number;
  max_running: number | null;
  paused: boolean;
  updated_by: string | null;
}

/** Creates or replaces the policy of exactly this scope; `created` tells which. */
export async function putPolicy(db: Queryable, w: PolicyWrite): Promise<{ policy: Policy; created: boolean }> {
  const { rows } = await db.query(
    `INSERT INTO policies (owner_service, task_type, model_profile, weight, max_running, paused, updated_by)
     VALUES ($1::text, $2::text, $3::text, $4::int, $5::int, $6::bool, $7::text)
     ON CONFLICT ((COALESCE(owner_service, '')), (COALESCE(task_type, '')), (COALESCE(model_profile, '')))
     DO UPDATE SET weight = EXCLUDED.weight, max_running = EXCLUDED.max_running, paused = EXCLUDED.paused,
                   updated_by = EXCLUDED.updated_by, updated_at = now()
     RETURNING ${COLUMNS}, (xmax = 0) AS created`,
    [
      w.scope.owner_service ?? null,
      w.scope.task_type ?? null,
      w.scope.model_profile ?? null,
      w.weight,
      w.max_running,
      w.paused,
      w.updated_by,
    ],
  );
  return { policy: toPolicy(rows[0]), created: rows[0].created };
}

/** The deleted policy, or undefined when there was none with this id. */
export async function deletePolicy(db: Queryable, id: number): Promise<Policy | undefined> {
  const { rows } = await db.query(`DELETE FROM policies WHERE id = $1::bigint RETURNING ${COLUMNS}`, [id]);
  return rows[0] ? toPolicy(rows[0]) : undefined;
}
