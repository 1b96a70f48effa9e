import { Router } from 'express';
import type { StatsService } from './service.ts';

export function statsRoutes(stats: StatsService): Router {
  const r = Router();
  r.get('/api/v1/stats', async (_req, res) => {
    res.json(await stats.stats());
  });
  return r;
}
