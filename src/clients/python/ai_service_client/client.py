"""The ai-service HTTP API, one method per operation, standard library only.

Non-2xx answers raise ApiError carrying the problem+json body; transport
failures (connection refused, timeouts) raise what urllib raises (URLError,
TimeoutError), so a caller can tell "the service said no" from "the service
is not there".
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Dict, List, Mapping, Optional

from .types import ClaimedJob, Job, JobPage

DEFAULT_TIMEOUT_SECONDS = 30.0

JsonObject = Dict[str, Any]


class ApiError(Exception):
    """The service answered with a non-2xx status (RFC 9457 problem+json)."""

    def __init__(self, status: int, problem: Optional[JsonObject], operation: str) -> None:
        self.status = status
        self.problem = problem
        # The problem's stable code (e.g. lease_lost), or http_<status> when the body was not a problem.
        self.code: str = str(problem["code"]) if problem and "code" in problem else f"http_{status}"
        detail = (problem or {}).get("detail") or (problem or {}).get("title") or ""
        super().__init__(f"{operation}: {status} {self.code} {detail}".strip())


class Client:
    def __init__(self, base_url: str, token: Optional[str] = None, timeout: float = DEFAULT_TIMEOUT_SECONDS) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._headers = {"accept": "application/json"}
        if token:
            self._headers["authorization"] = f"Bearer {token}"

    # Producers
    def create_job(self, job: Mapping[str, Any]) -> Job:
        return self._call("createJob", "POST", "/api/v1/jobs", job)

    def create_jobs(self, jobs: List[Mapping[str, Any]], defaults: Optional[Mapping[str, Any]] = None) -> List[Job]:
        body: JsonObject = {"jobs": list(jobs)}
        if defaults is not None:
            body["defaults"] = dict(defaults)
        return self._call("createJobBatch", "POST", "/api/v1/jobs/batch", body)["jobs"]

    def get_job(self, job_id: str) -> Job:
        return self._call("getJob", "GET", f"/api/v1/jobs/{_quote(job_id)}")

    def list_jobs(self, **filters: Any) -> JobPage:
        """Filters: owner_service, owner_ref, task_type, model_profile, status, error_category, limit, cursor."""
        query = {k: v for k, v in filters.items() if v is not None}
        suffix = f"?{urllib.parse.urlencode(query)}" if query else ""
        return self._call("listJobs", "GET", f"/api/v1/jobs{suffix}")

    def retry_job(self, job_id: str, reset_attempts: Optional[bool] = None, delay_seconds: Optional[int] = None) -> Job:
        body = _drop_none({"reset_attempts": reset_attempts, "delay_seconds": delay_seconds})
        return self._call("retryJob", "POST", f"/api/v1/jobs/{_quote(job_id)}/retry", body)

    def cancel_job(self, job_id: str) -> Job:
        return self._call("cancelJob", "POST", f"/api/v1/jobs/{_quote(job_id)}/cancel")

    # Workers
    def claim_jobs(
        self,
        worker_id: str,
        model_profiles: Optional[List[str]] = None,
        task_types: Optional[List[str]] = None,
        limit: int = 1,
        lease_seconds: Optional[int] = None,
        wait_seconds: float = 0,
    ) -> List[ClaimedJob]:
        """With wait_seconds > 0 this long-polls; the socket timeout is extended by the wait."""
        body = _drop_none(
            {
                "worker_id": worker_id,
                "model_profiles": model_profiles,
                "task_types": task_types,
                "limit": limit,
                "lease_seconds": lease_seconds,
                "wait_seconds": wait_seconds,
            }
        )
        return self._call("claimJobs", "POST", "/api/v1/jobs/claim", body, extra_timeout=wait_seconds)["jobs"]

    def heartbeat_job(self, job_id: str, lease_token: str, lease_seconds: Optional[int] = None) -> JsonObject:
        body = _drop_none({"lease_token": lease_token, "lease_seconds": lease_seconds})
        return self._call("heartbeatJob", "POST", f"/api/v1/jobs/{_quote(job_id)}/heartbeat", body)

    def report_progress(
        self,
        job_id: str,
        lease_token: str,
        fraction: Optional[float] = None,
        message: Optional[str] = None,
        output: Optional[Mapping[str, Any]] = None,
    ) -> JsonObject:
        """Progress for callers (coalesced by the service; neither extends the lease nor counts an attempt)."""
        body = _drop_none(
            {"lease_token": lease_token, "fraction": fraction, "message": message, "output": None if output is None else dict(output)}
        )
        return self._call("reportProgress", "POST", f"/api/v1/jobs/{_quote(job_id)}/progress", body)

    def complete_job(self, job_id: str, lease_token: str, result: Mapping[str, Any]) -> Job:
        body = {"lease_token": lease_token, "result": dict(result)}
        return self._call("completeJob", "POST", f"/api/v1/jobs/{_quote(job_id)}/complete", body)

    def fail_job(
        self,
        job_id: str,
        lease_token: str,
        category: str,
        message: str,
        retryable: Optional[bool] = None,
        retry_after_seconds: Optional[int] = None,
    ) -> Job:
        body = _drop_none(
            {
                "lease_token": lease_token,
                "category": category,
                "message": message,
                "retryable": retryable,
                "retry_after_seconds": retry_after_seconds,
            }
        )
        return self._call("failJob", "POST", f"/api/v1/jobs/{_quote(job_id)}/fail", body)

    def _call(self, operation: str, method: str, path: str, body: Any = None, extra_timeout: float = 0) -> Any:
        headers = dict(self._headers)
        data = None
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            headers["content-type"] = "application/json"
        request = urllib.request.Request(self.base_url + path, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout + extra_timeout) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as err:
            raise ApiError(err.code, _problem(err.read()), operation) from None


def _quote(job_id: str) -> str:
    return urllib.parse.quote(job_id, safe="")


def _drop_none(body: JsonObject) -> JsonObject:
    return {k: v for k, v in body.items() if v is not None}


def _problem(raw: bytes) -> Optional[JsonObject]:
    try:
        parsed = json.loads(raw)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) and isinstance(parsed.get("code"), str) else None
