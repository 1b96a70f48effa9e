// HTTP routes for jobs: read validated input, call one method of one part of the
// job service, pick the status. Request shapes are already checked by the OpenAPI
// validator, which also fills in openapi.yaml's defaults.
import { type Response, Router } from 'express';
import { assertMayCreate, bulkScope, claimProfiles, listScope, ownerScope } from '../auth/scope.ts';
import { linkJobTraces, requestTraceparent } from '../tracing/http.ts';
import type { BulkRequest } from './bulk.ts';
import { TERMINAL_STATUSES } from './event-stream.ts';
import { preferredWait } from './job-wait.ts';
import { decodeCursor } from './read.ts';
import type { JobService } from './service.ts';
import { assertUuid, type JobCreateBody, mergeBatch, specDefaults } from './validate.ts';

/** A retry's body is optional; without one it is a retry with the spec's defaults. */
const RETRY_DEFAULTS = specDefaults('RetryRequest');

/** Aborted when the client goes away before the response is finished. */
function clientGone(res: Response): AbortSignal {
  const abort = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) abort.abort();
  });
  return abort.signal;
}

/** A Last-Event-ID is one of our event ids (digits); anything else starts afresh. */
function lastEventId(header: string | undefined): string | undefined {
  return header && /^\d{1,18}$/.test(header.trim()) ? header.trim() : undefined;
}

export function jobRoutes(service: JobService): Router {
  const r = Router();

  r.post('/api/v1/jobs', async (req, res) => {
    const body = req.body as JobCreateBody;
    assertMayCreate(req, [body.owner_service]);
    const [{ job, created }] = await service.creator.create([body], false, requestTraceparent(req, res));
    const wait = preferredWait(req.get('prefer'));
    let answer = job;
    if (wait !== undefined) {
      // An idempotent replay waits the same way; the answer is the job as it stands then.
      await service.waitForStatus(job.id, (s) => TERMINAL_STATUSES.has(s), wait * 1000, clientGone(res));
      answer = (await service.reader.get(job.id, false)) as typeof job;
      res.set('Preference-Applied', `wait=${wait}`);
    }
    if (res.writableEnded || res.destroyed) return;
    res
      .status(created ? 201 : 200)
      .location(`/api/v1/jobs/${job.id}`)
      .json(answer);
  });

  r.post('/api/v1/jobs/batch', async (req, res) => {
    const bodies = mergeBatch(req.body.defaults, req.body.jobs);
    assertMayCreate(
      req,
      bodies.map((b) => b.owner_service),
      (i) => `/body/jobs/${i}/owner_service`,
    );
    const results = await service.creator.create(bodies, true, requestTraceparent(req, res));
    res.status(201).json({ jobs: results.map((x) => x.job) });
  });

  r.post('/api/v1/jobs/bulk', async (req, res) => {
    const body = req.body as BulkRequest;
    const owners = bulkScope(req, body.filter);
    const result = await service.bulk.run(body, owners);
    req.log.info(
      { caller: req.auth?.name ?? 'anonymous', action: body.action, filter: body.filter, dry_run: body.dry_run, ...result },
      'bulk action',
    );
    res.json(result);
  });

  r.post('/api/v1/jobs/claim', async (req, res) => {
    const gone = clientGone(res);
    const jobs = await service.claimer.claim({ ...req.body, model_profiles: claimProfiles(req, req.body.model_profiles) }, gone);
    if (gone.aborted) return void (await service.handBackUnanswered(jobs));
    linkJobTraces(res, jobs);
    res.json({ jobs });
  });

  r.get('/api/v1/jobs', async (req, res) => {
    const q = req.query as Record<string, string | undefined>;
    const page = await service.reader.list({
      owner_service: listScope(req, q.owner_service),
      owner_ref: q.owner_ref,
      task_type: q.task_type,
      model_profile: q.model_profile,
      status: q.status,
      error_category: q.error_category,
      before_id: q.cursor ? decodeCursor(q.cursor) : undefined,
      limit: Number(q.limit),
    });
    res.json(page);
  });

  r.get('/api/v1/jobs/:id', async (req, res) => {
    assertUuid(req.params.id);
    const owners = ownerScope(req);
    const wait = req.query.wait === undefined ? 0 : Number(req.query.wait);
    if (wait > 0) {
      // A finished job answers at once: only an operator's retry could still change it.
      const { status } = await service.reader.get(req.params.id, false, owners);
      if (!TERMINAL_STATUSES.has(status)) await service.waitForStatus(req.params.id, (s) => s !== status, wait * 1000, clientGone(res));
    }
    if (res.destroyed) return;
    res.json(await service.reader.get(req.params.id, true, owners));
  });

  r.post('/api/v1/jobs/:id/progress', async (req, res) => {
    const { lease_token, fraction, message, output } = req.body;
    const outcome = await service.progress.report(req.params.id, { lease_token, fraction, message, output });
    res.status(202).json({ id: req.params.id, stored: outcome === 'stored' });
  });

  r.get('/api/v1/jobs/:id/events', async (req, res) => {
    assertUuid(req.params.id);
    const job = await service.reader.get(req.params.id, false, ownerScope(req));
    await service.streams.start(res, {
      scope: { jobId: job.id },
      afterId: lastEventId(req.get('last-event-id')),
      finished: TERMINAL_STATUSES.has(job.status),
    });
  });

  r.get('/api/v1/events', async (req, res) => {
    const q = req.query as Record<string, string>;
    listScope(req, q.owner_service); // 403 for an owner service outside the token's scope
    await service.streams.start(res, {
      scope: { owner_service: q.owner_service, owner_ref: q.owner_ref },
      afterId: lastEventId(req.get('last-event-id')),
    });
  });

  r.post('/api/v1/jobs/:id/heartbeat', async (req, res) => {
    res.json(await service.settler.heartbeat(req.params.id, req.body.lease_token, req.body.lease_seconds));
  });

  r.post('/api/v1/jobs/complete', async (req, res) => {
    res.json({ results: await service.settler.completeMany(req.body.completions) });
  });

  r.post('/api/v1/jobs/:id/complete', async (req, res) => {
    res.json(await service.settler.complete(req.params.id, req.body.lease_token, req.body.result));
  });

  r.post('/api/v1/jobs/:id/fail', async (req, res) => {
    res.json(await service.settler.fail(req.params.id, req.body));
  });

  r.post('/api/v1/jobs/:id/retry', async (req, res) => {
    res.json(await service.admin.retry(req.params.id, req.body ?? RETRY_DEFAULTS, ownerScope(req)));
  });

  r.post('/api/v1/jobs/:id/cancel', async (req, res) => {
    res.json(await service.admin.cancel(req.params.id, ownerScope(req)));
  });

  return r;
}
