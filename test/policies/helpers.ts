// Policy calls for the policy tests (admin access; access control is off in useService).
import type { Client, TestService } from '../support/service.ts';

export function policyClient(t: TestService) {
  return {
    put: async (body: object, status?: number) => {
      const res = await t.api.put('/api/v1/policies').send(body);
      if (status !== undefined && res.status !== status) throw new Error(`PUT policy: ${res.status} ${JSON.stringify(res.body)}`);
      return res;
    },
    list: async () => (await t.api.get('/api/v1/policies').expect(200)).body.policies,
    delete: (id: number, status = 204) => t.api.delete(`/api/v1/policies/${id}`).expect(status),
  };
}

/** Claims `limit` jobs and completes them at once; the ids in claim order. */
export async function claimAndComplete(
  api: Client,
  profile: string,
  limit: number,
  worker = 'w',
): Promise<{ id: string; owner_service: string }[]> {
  const { jobs } = await api.claim({ worker_id: worker, model_profiles: [profile], limit });
  await Promise.all(jobs.map((j: { id: string; lease_token: string }) => api.complete(j.id, { lease_token: j.lease_token, result: {} })));
  return jobs;
}
