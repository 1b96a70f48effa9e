// HTTP routes for policies (admin only: src/auth/policy.ts has no rule for them).
import { Router } from 'express';
import type { PolicyService } from './service.ts';

export function policyRoutes(policies: PolicyService): Router {
  const r = Router();
  r.get('/api/v1/policies', async (_req, res) => {
    res.json({ policies: await policies.list() });
  });
  r.put('/api/v1/policies', async (req, res) => {
    const { policy, created } = await policies.put(req.body, req.auth?.name);
    res.status(created ? 201 : 200).json(policy);
  });
  r.delete('/api/v1/policies/:id', async (req, res) => {
    await policies.delete(Number(req.params.id), req.auth?.name);
    res.status(204).end();
  });
  return r;
}
