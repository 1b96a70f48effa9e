// Validation the OpenAPI middleware cannot do by itself: batch items merged over
// defaults (validated against the same JobCreate schema from openapi.yaml), and
// limits on the free-form JSON (`input`, `result`): size, nesting depth, U+0000.
import { readFileSync } from 'node:fs';
import { Ajv, type ErrorObject } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { parse } from 'yaml';
import { SPEC_PATH } from '../http/app.ts';
import { badRequest, type FieldError, HttpError, tooLarge } from '../http/problem.ts';
import { isUuid } from '../lib/ids.ts';
import { findJsonProblem } from '../lib/json.ts';

export interface JobCreateBody {
  owner_service: string;
  owner_ref: string;
  task_type: string;
  model_profile: string;
  input: Record<string, unknown>;
  priority?: number;
  max_attempts?: number;
  max_deferrals?: number;
  start_before?: string;
  idempotency_key?: string;
  run_after?: string;
  callback_url?: string;
  callback_events?: string[];
}

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;
const spec = parse(readFileSync(SPEC_PATH, 'utf8'));
const ajv = new Ajv({ strict: false, allErrors: true });
addFormats(ajv);
ajv.addSchema({ $id: 'spec', components: spec.components });
const validateJobCreate = ajv.getSchema('spec#/components/schemas/JobCreate')!;

/**
 * The defaults openapi.yaml gives the fields of a component schema, as the request
 * validator fills them. Used where a body is optional and absent: the validator
 * then has no object to fill, and the defaults must still come from the spec.
 */
export function specDefaults(schema: string): Record<string, unknown> {
  const withDefaults = new Ajv({ strict: false, useDefaults: true });
  withDefaults.addSchema({ $id: 'spec', components: spec.components });
  const filled = {};
  withDefaults.getSchema(`spec#/components/schemas/${schema}`)!(filled);
  return filled;
}

/** The default openapi.yaml gives a scalar component schema (e.g. MaxDeferrals). */
export function specDefault(schema: string): unknown {
  return spec.components.schemas[schema].default;
}

function fieldErrors(errors: ErrorObject[] | null | undefined, prefix: string): FieldError[] {
  return (errors ?? [])
    .filter((e) => e.keyword !== 'allOf')
    .map((e) => {
      const missing = (e.params as { missingProperty?: string }).missingProperty;
      const extra = (e.params as { additionalProperty?: string }).additionalProperty;
      const leaf = missing ?? extra;
      return { path: `${prefix}${e.instancePath}${leaf ? `/${leaf}` : ''}`, message: e.message ?? 'invalid' };
    });
}

/** Merges each item over the defaults; 400 naming every bad item's index and field. */
export function mergeBatch(defaults: Partial<JobCreateBody> | undefined, items: Partial<JobCreateBody>[]): JobCreateBody[] {
  const merged: JobCreateBody[] = [];
  const errors: FieldError[] = [];
  items.forEach((item, i) => {
    const job = { ...defaults, ...item };
    if (!validateJobCreate(job)) errors.push(...fieldErrors(validateJobCreate.errors, `/body/jobs/${i}`));
    merged.push(job as JobCreateBody);
  });
  if (errors.length) throw badRequest(`${new Set(errors.map((e) => e.path.split('/')[3])).size} batch item(s) invalid`, errors);
  return merged;
}

export interface PayloadLimits {
  maxBytes: number;
  maxDepth: number;
}

/** Size in bytes of the JSON text; 413 above the limit, 400 on depth or U+0000. */
export function checkPayload(value: unknown, field: string, limits: PayloadLimits): void {
  const bytes = Buffer.byteLength(JSON.stringify(value));
  if (bytes > limits.maxBytes) throw tooLarge(`${field} is ${bytes} bytes; the limit is ${limits.maxBytes}`);
  const problem = findJsonProblem(value, limits.maxDepth);
  if (problem?.kind === 'depth')
    throw badRequest(`${field} is nested deeper than ${limits.maxDepth} levels`, [
      { path: `${field}${problem.path}`, message: `nesting deeper than ${limits.maxDepth}` },
    ]);
  if (problem?.kind === 'nul')
    throw badRequest(`${field} contains the character U+0000, which cannot be stored`, [
      { path: `${field}${problem.path}`, message: 'must not contain U+0000' },
    ]);
}

/**
 * checkPayload for every item of a batch, naming each item's index: 413 if any
 * input is too large, else 400 listing every item whose input cannot be stored.
 */
export function checkBatchPayloads(inputs: unknown[], limits: PayloadLimits): void {
  const errors: FieldError[] = [];
  inputs.forEach((input, i) => {
    try {
      checkPayload(input, `/body/jobs/${i}/input`, limits);
    } catch (err) {
      if (!(err instanceof HttpError) || err.status !== 400) throw err;
      errors.push(...(err.errors ?? []));
    }
  });
  if (errors.length) throw badRequest(`${errors.length} batch item(s) invalid`, errors);
}

export function assertUuid(id: string): void {
  if (!isUuid(id))
    throw new HttpError(400, 'validation_failed', 'id must be a UUID', { errors: [{ path: '/params/id', message: 'must be a UUID' }] });
}
