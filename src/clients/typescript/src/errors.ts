import type { components } from './api-types.js';

export type Problem = components['schemas']['Problem'];

/** The service answered with a non-2xx status; `problem` is its problem+json body. */
export class ApiError extends Error {
  readonly status: number;
  /** The problem's stable `code` (e.g. lease_lost), or `http_<status>` if the body was not a problem. */
  readonly code: string;
  readonly problem: Problem | undefined;

  constructor(status: number, body: unknown, operation: string) {
    const problem = isProblem(body) ? body : undefined;
    super(`${operation}: ${status} ${problem?.code ?? ''} ${problem?.detail ?? problem?.title ?? ''}`.trim());
    this.name = 'ApiError';
    this.status = status;
    this.problem = problem;
    this.code = problem?.code ?? `http_${status}`;
  }
}

function isProblem(body: unknown): body is Problem {
  return typeof body === 'object' && body !== null && typeof (body as { code?: unknown }).code === 'string';
}
