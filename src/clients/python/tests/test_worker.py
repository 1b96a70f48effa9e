import os
import signal
import subprocess
import sys
import threading
import unittest
from pathlib import Path

from ai_service_client import Client, JobFailure, Worker

from .service import fresh_profile, job_body, service

PACKAGE_ROOT = Path(__file__).resolve().parents[1]
WAIT_SECONDS = 30


def run_in_thread(worker: Worker) -> threading.Thread:
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    return thread


class WorkerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.client = Client(service().url)

    def test_completes_and_fails_jobs_at_most_concurrency_at_a_time(self) -> None:
        profile = fresh_profile("loop")
        ok = [self.client.create_job(job_body(profile, f"ok{i}")) for i in range(2)]
        refused = self.client.create_job(job_body(profile, "refused", input={"refuse": True}))
        crashed = self.client.create_job(job_body(profile, "crashed", input={"crash": True}, max_attempts=1))
        pair = threading.Barrier(2, timeout=WAIT_SECONDS)  # passes only when two handlers run at once
        lock = threading.Lock()
        active, most, handled = [0], [0], [0]

        def handle(job, context):
            with lock:
                active[0] += 1
                most[0] = max(most[0], active[0])
            pair.wait()
            with lock:
                active[0] -= 1
                handled[0] += 1
                if handled[0] == 4:
                    worker.stop()
            if job["input"].get("refuse"):
                raise JobFailure("bad_input", "refused on purpose", retryable=False)
            if job["input"].get("crash"):
                raise RuntimeError("handler bug")
            return {"echo": job["input"]["text"]}

        worker = Worker(self.client, handle, worker_id="py-loop", model_profiles=[profile], concurrency=2, wait_seconds=1)
        with self.assertLogs("ai_service_client.worker", "ERROR") as logs:
            thread = run_in_thread(worker)
            thread.join(WAIT_SECONDS)
        self.assertFalse(thread.is_alive())
        self.assertIn(f"handler failed on job {crashed['id']}", logs.output[0])
        self.assertEqual(most[0], 2)
        for job in ok:
            self.assertEqual(self.client.get_job(job["id"])["result"], {"echo": "hi"})
        self.assertEqual(self.client.get_job(refused["id"])["error"], {"category": "bad_input", "message": "refused on purpose"})
        crash = self.client.get_job(crashed["id"])
        self.assertEqual((crash["status"], crash["error"]), ("failed", {"category": "worker_error", "message": "handler bug"}))

    def test_heartbeats_keep_a_job_past_its_lease(self) -> None:
        profile = fresh_profile("beat")
        job = self.client.create_job(job_body(profile, "long"))
        lease_seconds = 2

        def handle(claimed, context):
            worker.stop()
            # Outlive the lease by half; only the heartbeats (every lease/3) keep it.
            self.assertFalse(context.cancelled.wait(lease_seconds * 1.5))
            return {"done": True}

        worker = Worker(self.client, handle, worker_id="py-beat", model_profiles=[profile], lease_seconds=lease_seconds, wait_seconds=1)
        run_in_thread(worker).join(WAIT_SECONDS)
        done = self.client.get_job(job["id"])
        self.assertEqual((done["status"], done["attempts"]), ("completed", 1))

    def test_tells_the_handler_when_the_lease_is_lost_and_reports_nothing(self) -> None:
        profile = fresh_profile("lost")
        job = self.client.create_job(job_body(profile, "lost"))
        told = []

        def handle(claimed, context):
            worker.stop()
            self.client.cancel_job(claimed["id"])
            told.append(context.cancelled.wait(WAIT_SECONDS))
            return {"ignored": True}

        worker = Worker(self.client, handle, worker_id="py-lost", model_profiles=[profile], lease_seconds=3, wait_seconds=1)
        with self.assertLogs("ai_service_client.worker", "WARNING") as logs:
            run_in_thread(worker).join(WAIT_SECONDS)
        self.assertEqual(told, [True])
        self.assertIn(f"lease lost on job {job['id']}", "\n".join(logs.output))
        after = self.client.get_job(job["id"])
        self.assertEqual((after["status"], after["result"]), ("cancelled", None))

    def test_hands_running_jobs_back_on_sigterm(self) -> None:
        profile = fresh_profile("sigterm")
        job = self.client.create_job(job_body(profile, "term"))
        env = {**os.environ, "AI_SERVICE_URL": service().url, "MODEL_PROFILE": profile, "PYTHONPATH": str(PACKAGE_ROOT)}
        command = [sys.executable, "-m", "tests.sigterm_worker"]
        with subprocess.Popen(command, cwd=PACKAGE_ROOT, env=env, stdout=subprocess.PIPE, text=True) as proc:
            try:
                assert proc.stdout is not None
                self.assertEqual(proc.stdout.readline().strip(), f"started {job['id']}")
                proc.send_signal(signal.SIGTERM)
                self.assertEqual(proc.wait(WAIT_SECONDS), 0)
                self.assertEqual(proc.stdout.read().strip(), "stopped")
            finally:
                if proc.poll() is None:
                    proc.kill()
        handed_back = self.client.get_job(job["id"])
        self.assertEqual(handed_back["status"], "pending")
        self.assertEqual(handed_back["error"]["category"], "worker_shutdown")
        # worker_shutdown is deferred: the hand-back gives its attempt back.
        self.assertEqual((handed_back["attempts"], handed_back["deferrals"]), (0, 1))
        # retry_after_seconds 0: another worker can take it at once, still as attempt 1.
        [again] = self.client.claim_jobs("py-next", model_profiles=[profile])
        self.assertEqual((again["id"], again["attempt"]), (job["id"], 1))


if __name__ == "__main__":
    unittest.main()
