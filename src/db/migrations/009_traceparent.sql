-- The W3C traceparent of the request that created a job (or of the service's span
-- for it), handed to the worker with each claim and sent with the job's webhooks,
-- so one trace runs from the caller through the worker to the callback.
-- Nullable: most callers send none. At most 55 characters (version 00), checked by the service.
ALTER TABLE jobs ADD COLUMN IF NOT EXISTS traceparent text;
