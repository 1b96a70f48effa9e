// owner_ref has no index on `jobs`: the jobs of one owner_ref are found through
// job_owner_refs, written once when the job is created (migration 015 says why).

/**
 * The ids of the jobs of the owner_ref in parameter `param` (e.g. `$2`), for
 * `id = ANY(...)`: as an array the lookup is one probe of job_owner_refs_ref_idx,
 * then the jobs primary key, whatever the planner thinks of the other filters.
 */
export const idsOfOwnerRef = (param: string) => `ARRAY(SELECT job_id FROM job_owner_refs WHERE owner_ref = ${param}::text)`;
