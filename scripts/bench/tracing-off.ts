// What tracing costs a request when it is off (no OTLP endpoint): the work every
// create, claim and webhook attempt still does to pass the trace context on.
// `./node_modules/.bin/node scripts/bench/tracing-off.ts` prints nanoseconds per call.
import type { Request, Response } from 'express';
import { linkJobTraces, requestTraceparent } from '../../src/tracing/http.ts';
import { noTracing } from '../../src/tracing/tracing.ts';

const CALLS = 2_000_000;
const TP = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

function measure(name: string, fn: () => unknown): void {
  for (let i = 0; i < CALLS / 10; i++) fn(); // warm up
  const started = process.hrtime.bigint();
  for (let i = 0; i < CALLS; i++) fn();
  const ns = Number(process.hrtime.bigint() - started) / CALLS;
  console.log(`${name.padEnd(52)} ${ns.toFixed(1)} ns/call`);
}

const withHeader = { get: () => TP } as unknown as Request;
const without = { get: () => undefined } as unknown as Request;
const res = {} as Response;
const jobs = [{ traceparent: TP }];

measure('create: requestTraceparent, header present', () => requestTraceparent(withHeader, res));
measure('create: requestTraceparent, no header', () => requestTraceparent(without, res));
measure('claim: linkJobTraces (one job)', () => linkJobTraces(res, jobs));
measure('webhook attempt: noTracing span start + end', () => noTracing.start('webhook delivery', { parent: TP }).end());
