// Scope checks that need the request body or query, called by the job routes
// after validation. Each returns the scope to pass to the service (undefined =
// unrestricted: admin, or access control off). A producer acting on a job of an
// owner service outside its scope gets 404 from the service, which is given the
// scope and so cannot find the job; naming a foreign owner service or model
// profile in a request is 403.
import type { Request } from 'express';
import type { FieldError } from '../http/problem.ts';
import { HttpError } from '../http/problem.ts';
import { forbidden } from './access.ts';

/** The owner services a producer may read and act on; undefined for anyone else. */
export function ownerScope(req: Request): string[] | undefined {
  return req.auth?.ownerServices ? [...req.auth.ownerServices] : undefined;
}

/** 403 when any job to create is for an owner service outside the producer's scope. */
export function assertMayCreate(req: Request, ownerServices: string[], pathOf = (_i: number) => '/body/owner_service'): void {
  const scope = req.auth?.ownerServices;
  if (!scope) return;
  const errors: FieldError[] = [];
  ownerServices.forEach((s, i) => {
    if (!scope.includes(s)) errors.push({ path: pathOf(i), message: `owner_service ${s} is outside this token's scope` });
  });
  if (!errors.length) return;
  const first = ownerServices.find((s) => !scope.includes(s));
  throw new HttpError(403, 'forbidden', `this token may not create jobs for owner_service ${first}`, { errors });
}

/** The owner services a list may show: the filter, checked against the scope, or the whole scope. */
export function listScope(req: Request, requested: string | undefined): string[] | undefined {
  const scope = ownerScope(req);
  if (!scope) return requested ? [requested] : undefined;
  if (requested === undefined) return scope;
  if (!scope.includes(requested)) throw forbidden(`this token may not list jobs of owner_service ${requested}`);
  return [requested];
}

/** The model profiles a claim may take: those asked for, checked, or the worker's whole scope. */
export function claimProfiles(req: Request, requested: string[] | undefined): string[] | undefined {
  const scope = req.auth?.modelProfiles;
  if (!scope) return requested;
  if (requested === undefined) return [...scope];
  const outside = requested.filter((p) => !scope.includes(p));
  if (outside.length) throw forbidden(`this token may not claim model_profile ${outside.join(', ')}`);
  return requested;
}

/**
 * The owner services a bulk action may touch. A producer acts only within its scope
 * (a filter naming another owner service is 403) and must narrow the filter beyond
 * `status`: a filter naming nothing else reaches every job, which only an admin may.
 */
export function bulkScope(req: Request, filter: { status: string[]; owner_service?: string }): string[] | undefined {
  const scope = ownerScope(req);
  if (!scope) return undefined;
  if (Object.keys(filter).every((k) => k === 'status')) throw forbidden('a bulk filter naming nothing but status is for admin tokens only');
  if (filter.owner_service !== undefined && !scope.includes(filter.owner_service))
    throw forbidden(`this token may not act on jobs of owner_service ${filter.owner_service}`);
  return scope;
}
