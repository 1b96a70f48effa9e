import { Router } from 'express';
import type { ProviderStatusService } from './status.ts';

export function providerRoutes(providers: ProviderStatusService): Router {
  const r = Router();
  r.get('/api/v1/providers/status', async (_req, res) => {
    res.json(await providers.status());
  });
  return r;
}
