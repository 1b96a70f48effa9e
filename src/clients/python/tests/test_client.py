import threading
import time
import unittest

from ai_service_client import ApiError, Client

from .service import fresh_profile, job_body, service


class ClientTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.client = Client(service().url)

    def test_creates_gets_and_lists_jobs(self) -> None:
        profile = fresh_profile("read")
        job = self.client.create_job(job_body(profile, "a", input={"text": "hi", "n": [1, 2]}))
        self.assertEqual(job["status"], "pending")
        self.assertEqual(self.client.get_job(job["id"])["input"], {"text": "hi", "n": [1, 2]})
        page = self.client.list_jobs(model_profile=profile)
        self.assertEqual([j["id"] for j in page["jobs"]], [job["id"]])

    def test_creates_a_batch_with_defaults(self) -> None:
        profile = fresh_profile("batch")
        defaults = {"owner_service": "python-sdk", "task_type": "summary", "model_profile": profile}
        jobs = self.client.create_jobs([{"owner_ref": "b1", "input": {}}, {"owner_ref": "b2", "input": {}}], defaults=defaults)
        self.assertEqual([j["owner_ref"] for j in jobs], ["b1", "b2"])
        self.assertEqual({j["model_profile"] for j in jobs}, {profile})

    def test_claims_heartbeats_and_completes(self) -> None:
        profile = fresh_profile("settle")
        job = self.client.create_job(job_body(profile, "c"))
        [claimed] = self.client.claim_jobs("py-w", model_profiles=[profile], lease_seconds=60)
        self.assertEqual((claimed["id"], claimed["attempt"]), (job["id"], 1))
        beat = self.client.heartbeat_job(claimed["id"], claimed["lease_token"], lease_seconds=120)
        self.assertIn("lease_expires_at", beat)
        self.client.report_progress(claimed["id"], claimed["lease_token"], fraction=0.5, message="halfway", output={"partial": "o"})
        progress = self.client.get_job(job["id"])["progress"]
        self.assertEqual((progress["fraction"], progress["message"], progress["output"]), (0.5, "halfway", {"partial": "o"}))
        done = self.client.complete_job(claimed["id"], claimed["lease_token"], {"summary": "ok"})
        self.assertEqual((done["status"], done["result"]), ("completed", {"summary": "ok"}))

    def test_fails_retries_and_cancels(self) -> None:
        profile = fresh_profile("fail")
        job = self.client.create_job(job_body(profile, "f", max_attempts=1))
        [claimed] = self.client.claim_jobs("py-w", model_profiles=[profile])
        failed = self.client.fail_job(claimed["id"], claimed["lease_token"], "bad_input", "no text", retryable=False)
        self.assertEqual((failed["status"], failed["error"]), ("failed", {"category": "bad_input", "message": "no text"}))
        self.assertEqual(self.client.retry_job(job["id"], reset_attempts=True)["status"], "pending")
        self.assertEqual(self.client.cancel_job(job["id"])["status"], "cancelled")

    def test_raises_problems_as_api_error(self) -> None:
        profile = fresh_profile("problem")
        job = self.client.cancel_job(self.client.create_job(job_body(profile, "p"))["id"])
        with self.assertRaises(ApiError) as conflict:
            self.client.cancel_job(job["id"])
        self.assertEqual((conflict.exception.status, conflict.exception.code), (409, "invalid_state"))
        with self.assertRaises(ApiError) as invalid:
            self.client.create_job({"owner_service": "python-sdk", "task_type": "summary", "model_profile": profile, "input": {}})
        self.assertEqual(invalid.exception.status, 400)
        self.assertIn("owner_ref", str(invalid.exception.problem))
        with self.assertRaises(ApiError) as missing:
            self.client.get_job("0193a000-0000-7000-8000-000000000000")
        self.assertEqual((missing.exception.status, missing.exception.code), (404, "not_found"))

    def test_long_poll_claim_returns_when_a_job_arrives(self) -> None:
        profile = fresh_profile("poll")
        claimed: list = []
        waiting = threading.Thread(target=lambda: claimed.extend(self.client.claim_jobs("py-w", model_profiles=[profile], wait_seconds=20)))
        started = time.monotonic()
        waiting.start()
        job = self.client.create_job(job_body(profile, "lp"))
        waiting.join(25)
        self.assertEqual([j["id"] for j in claimed], [job["id"]])
        self.assertLess(time.monotonic() - started, 15)


if __name__ == "__main__":
    unittest.main()
