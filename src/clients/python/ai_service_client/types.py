"""Shapes of the service's JSON answers (see openapi.yaml: Job, ClaimedJob)."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, TypedDict


class JobError(TypedDict):
    category: str
    message: str


class Job(TypedDict, total=False):
    id: str
    owner_service: str
    owner_ref: str
    task_type: str
    model_profile: str
    status: str  # pending | running | completed | failed | cancelled
    priority: int
    input: Dict[str, Any]
    result: Optional[Dict[str, Any]]
    error: Optional[JobError]
    attempts: int
    max_attempts: int
    idempotency_key: Optional[str]
    worker_id: Optional[str]
    lease_expires_at: Optional[str]
    run_after: str
    created_at: str
    updated_at: str
    started_at: Optional[str]
    finished_at: Optional[str]


class ClaimedJob(Job, total=False):
    attempt: int
    lease_token: str
    # W3C trace context the job continues (None when its create carried none).
    traceparent: Optional[str]


class JobPage(TypedDict, total=False):
    jobs: List[Job]
    next_cursor: Optional[str]
