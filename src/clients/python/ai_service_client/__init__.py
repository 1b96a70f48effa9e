"""Python client and worker SDK for ai-service (standard library only, Python 3.9+)."""

from .client import ApiError, Client
from .types import ClaimedJob, Job, JobError, JobPage
from .worker import JobContext, JobFailure, Worker

__all__ = ["ApiError", "ClaimedJob", "Client", "Job", "JobContext", "JobError", "JobFailure", "JobPage", "Worker"]
