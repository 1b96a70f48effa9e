// Which roles may call which operation, by method and path (so a route that lands
// later is covered by its path alone). Admin may call everything. A request that
// matches no rule is admin-only: new endpoints are closed until given a rule here.
// Paths match case-insensitively and with an optional trailing slash, as Express
// routes them, so `/API/v1/stats/` cannot slip past.
import type { Role } from './principal.ts';

export interface Rule {
  operationId: string;
  method: string;
  /** The OpenAPI path template, e.g. /api/v1/jobs/{id}. */
  template: string;
  path: RegExp;
  /** Roles besides admin. */
  roles: readonly Role[];
}

function rule(operationId: string, method: string, template: string, roles: Role[]): Rule {
  const pattern = template.replace(/[.+?^$()[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '[^/]+');
  return { operationId, method, template, path: new RegExp(`^${pattern}/?$`, 'i'), roles };
}

export const RULES: readonly Rule[] = [
  rule('createJob', 'POST', '/api/v1/jobs', ['producer']),
  rule('listJobs', 'GET', '/api/v1/jobs', ['producer']),
  rule('createJobBatch', 'POST', '/api/v1/jobs/batch', ['producer']),
  rule('bulkJobs', 'POST', '/api/v1/jobs/bulk', ['producer']),
  rule('claimJobs', 'POST', '/api/v1/jobs/claim', ['worker']),
  rule('getJob', 'GET', '/api/v1/jobs/{id}', ['producer']),
  rule('streamJobEvents', 'GET', '/api/v1/jobs/{id}/events', ['producer']),
  rule('streamOwnerEvents', 'GET', '/api/v1/events', ['producer']),
  rule('retryJob', 'POST', '/api/v1/jobs/{id}/retry', ['producer']),
  rule('cancelJob', 'POST', '/api/v1/jobs/{id}/cancel', ['producer']),
  // A worker's lease token is what ties it to one job; the role only says it is a worker.
  rule('heartbeatJob', 'POST', '/api/v1/jobs/{id}/heartbeat', ['worker']),
  rule('completeJob', 'POST', '/api/v1/jobs/{id}/complete', ['worker']),
  rule('completeJobs', 'POST', '/api/v1/jobs/complete', ['worker']),
  rule('failJob', 'POST', '/api/v1/jobs/{id}/fail', ['worker']),
  rule('reportProgress', 'POST', '/api/v1/jobs/{id}/progress', ['worker']),
  rule('getStats', 'GET', '/api/v1/stats', []),
  rule('getProviderStatus', 'GET', '/api/v1/providers/status', []),
  rule('listPolicies', 'GET', '/api/v1/policies', []),
  rule('putPolicy', 'PUT', '/api/v1/policies', []),
  rule('deletePolicy', 'DELETE', '/api/v1/policies/{id}', []),
];

export function ruleFor(method: string, path: string): Rule | undefined {
  const m = method === 'HEAD' ? 'GET' : method;
  return RULES.find((r) => r.method === m && r.path.test(path));
}

export function allowed(role: Role, method: string, path: string): boolean {
  return role === 'admin' || (ruleFor(method, path)?.roles.includes(role) ?? false);
}
