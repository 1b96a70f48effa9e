// Mocha root hooks: start PostgreSQL once for the whole run.
import { startTestPostgres, stopTestPostgres } from './database.ts';

export const mochaHooks = {
  async beforeAll(this: Mocha.Context) {
    this.timeout(120_000);
    await startTestPostgres();
  },
  async afterAll(this: Mocha.Context) {
    this.timeout(30_000);
    await stopTestPostgres();
  },
};
