// A job's lookup keys (owner_ref, idempotency key) are not indexed on `jobs`: they
// live in job_keys, written once when the job is created (migration 015 says why).

/**
 * The ids of the jobs of the owner_ref in parameter `param` (e.g. `$2`), for
 * `id = ANY(...)`: as an array the lookup is one probe of job_keys_owner_ref_idx,
 * then the jobs primary key, whatever the planner thinks of the other filters.
 */
export const idsOfOwnerRef = (param: string) => `ARRAY(SELECT job_id FROM job_keys WHERE owner_ref = ${param}::text)`;
