// A worker that claims one job, reports it on stdout, and then hangs mid-job
// until it is killed. Used to play a GPU box that dies with a lease held.
const [base, profile, leaseSeconds] = process.argv.slice(2);
const res = await fetch(`${base}/api/v1/jobs/claim`, {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({
    worker_id: `stall-${process.pid}`,
    model_profiles: [profile],
    lease_seconds: Number(leaseSeconds),
    wait_seconds: 10,
  }),
});
const { jobs } = (await res.json()) as { jobs: unknown[] };
process.stdout.write(`${JSON.stringify(jobs[0] ?? null)}\n`);
setInterval(() => {}, 60_000);
