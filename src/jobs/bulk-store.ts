// Bulk actions read the jobs a filter matches in pages of ids, in id order (keyset),
// and change each page with the single endpoints' statements (admin-store.ts).
// Filter columns are fixed names; only values are parameters.
import type { Queryable } from '../db/pool.ts';
import { idsOfOwnerRef } from './job-keys.ts';

export interface BulkFilter {
  status: string[];
  owner_service?: string;
  owner_ref?: string;
  task_type?: string;
  model_profile?: string;
  error_category?: string;
  created_after?: string;
  created_before?: string;
}

/** Up to `limit` ids after `afterId` that match the filter within `owners` (a producer's scope). */
export async function matchingIds(
  db: Queryable,
  f: BulkFilter,
  owners: string[] | undefined,
  afterId: string | null,
  limit: number,
): Promise<string[]> {
  const where: string[] = [];
  const values: unknown[] = [];
  const add = (sql: string, value: unknown) => {
    values.push(value);
    where.push(sql.replaceAll('?', `$${values.length}`));
  };
  add('status = ANY(?::text[])', f.status);
  if (owners) add('owner_service = ANY(?::text[])', owners);
  if (f.owner_service !== undefined) add('owner_service = ?::text', f.owner_service);
  if (f.owner_ref !== undefined) add(`id = ANY(${idsOfOwnerRef('?')})`, f.owner_ref);
  if (f.task_type !== undefined) add('task_type = ?::text', f.task_type);
  if (f.model_profile !== undefined) add('model_profile = ?::text', f.model_profile);
  if (f.error_category !== undefined) add(`error ->> 'category' = ?::text`, f.error_category);
  if (f.created_after !== undefined) add('created_at >= ?::timestamptz', f.created_after);
  if (f.created_before !== undefined) add('created_at < ?::timestamptz', f.created_before);
  if (afterId) add('id > ?::uuid', afterId);
  values.push(limit);
  const { rows } = await db.query(`SELECT id FROM jobs WHERE ${where.join(' AND ')} ORDER BY id LIMIT $${values.length}::int`, values);
  return rows.map((r: { id: string }) => r.id);
}
