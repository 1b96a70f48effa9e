"""A worker loop: claim with long-poll, heartbeat, complete or fail, hand back on SIGTERM.

Worker.run() claims as many jobs as it has free slots (at most `concurrency`
run at once, each in its own thread), heartbeats each every third of its lease
(so two beats can be lost before it runs out), and reports the handler's
answer: the returned dict completes the job; a raised JobFailure fails it with
its category and retry policy; any other exception fails it as `worker_error`
(retryable). A heartbeat answered 409/404 means the lease is gone (cancelled,
expired, retried): the job's `cancelled` event is set and nothing is reported.

stop() (SIGTERM and SIGINT call it while run() is in the main thread) stops
claiming; a claim already waiting returns within `wait_seconds`, and jobs it
brings are handed back at once. Running jobs get `shutdown_grace_seconds` to
finish; the rest are handed back: failed as `worker_shutdown`, retryable, with
retry_after_seconds 0, so another worker can claim them immediately.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from typing import Any, Callable, Dict, List, Mapping, Optional

from .client import ApiError, Client
from .types import ClaimedJob

HEARTBEATS_PER_LEASE = 3
CLAIM_RETRY_SECONDS = 1.0
SHUTDOWN_CATEGORY = "worker_shutdown"

log = logging.getLogger("ai_service_client.worker")


class JobFailure(Exception):
    """Raise from a handler to fail the job with a category and retry policy of your choice."""

    def __init__(self, category: str, message: str, retryable: bool = True, retry_after_seconds: Optional[int] = None) -> None:
        super().__init__(message)
        self.category = category
        self.message = message
        self.retryable = retryable
        self.retry_after_seconds = retry_after_seconds


class JobContext:
    """What a handler gets besides the job: `cancelled` is set when its result will not be used."""

    def __init__(self, job: ClaimedJob) -> None:
        self.job = job
        self.cancelled = threading.Event()


Handler = Callable[[ClaimedJob, JobContext], Mapping[str, Any]]


class _Running:
    def __init__(self, job: ClaimedJob) -> None:
        self.context = JobContext(job)
        self.done = threading.Event()  # the handler returned or raised
        self.stop_beats = threading.Event()
        self.lock = threading.Lock()
        self.settled = False  # reported, handed back, or given up: exactly one of them happens


class Worker:
    def __init__(
        self,
        client: Client,
        handler: Handler,
        *,
        worker_id: str,
        model_profiles: Optional[List[str]] = None,
        task_types: Optional[List[str]] = None,
        concurrency: int = 1,
        lease_seconds: int = 300,
        wait_seconds: float = 20,
        shutdown_grace_seconds: float = 30,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.client = client
        self.handler = handler
        self.worker_id = worker_id
        self.model_profiles = model_profiles
        self.task_types = task_types
        self.concurrency = concurrency
        self.lease_seconds = lease_seconds
        self.wait_seconds = wait_seconds
        self.shutdown_grace_seconds = shutdown_grace_seconds
        self._stop = threading.Event()
        self._running: Dict[str, _Running] = {}
        self._lock = threading.Lock()
        self._slot_free = threading.Condition(self._lock)

    def stop(self) -> None:
        """Stop claiming; run() then finishes or hands back the jobs in hand and returns."""
        self._stop.set()
        with self._slot_free:
            self._slot_free.notify_all()

    def run(self) -> None:
        restore = self._install_signal_handlers()
        try:
            while not self._stop.is_set():
                free = self._wait_for_free_slot()
                if free == 0:
                    continue
                for job in self._claim(free):
                    if self._stop.is_set():
                        self._hand_back(_Running(job))
                    else:
                        self._start(job)
            self._drain()
        finally:
            restore()

    def _wait_for_free_slot(self) -> int:
        with self._slot_free:
            while len(self._running) >= self.concurrency and not self._stop.is_set():
                self._slot_free.wait()
            return 0 if self._stop.is_set() else self.concurrency - len(self._running)

    def _claim(self, limit: int) -> List[ClaimedJob]:
        try:
            return self.client.claim_jobs(
                self.worker_id,
                model_profiles=self.model_profiles,
                task_types=self.task_types,
                limit=limit,
                lease_seconds=self.lease_seconds,
                wait_seconds=self.wait_seconds,
            )
        except Exception as err:  # the service is down or refused: wait a little, then claim again
            log.warning("claim failed: %s", err)
            self._stop.wait(CLAIM_RETRY_SECONDS)
            return []

    def _start(self, job: ClaimedJob) -> None:
        running = _Running(job)
        with self._lock:
            self._running[job["id"]] = running
        threading.Thread(target=self._run_job, args=(running,), name=f"job-{job['id']}", daemon=True).start()
        threading.Thread(target=self._heartbeat, args=(running,), name=f"heartbeat-{job['id']}", daemon=True).start()

    def _run_job(self, running: _Running) -> None:
        job = running.context.job
        try:
            try:
                result = self.handler(job, running.context)
            except JobFailure as failure:
                self._settle(running, lambda: self._fail(job, failure.category, failure.message, failure.retryable, failure.retry_after_seconds))
            except Exception as err:
                log.exception("handler failed on job %s", job["id"])
                self._settle(running, lambda: self._fail(job, "worker_error", str(err) or type(err).__name__, True, None))
            else:
                self._settle(running, lambda: self.client.complete_job(job["id"], job["lease_token"], dict(result)))
        finally:
            running.done.set()
            with self._slot_free:
                self._running.pop(job["id"], None)
                self._slot_free.notify_all()

    def _heartbeat(self, running: _Running) -> None:
        job = running.context.job
        every = self.lease_seconds / HEARTBEATS_PER_LEASE
        while not running.stop_beats.wait(every):
            try:
                self.client.heartbeat_job(job["id"], job["lease_token"], lease_seconds=self.lease_seconds)
            except ApiError as err:
                if err.status in (404, 409):
                    log.warning("lease lost on job %s (%s): abandoning it", job["id"], err.code)
                    with running.lock:
                        running.settled = True
                    running.stop_beats.set()
                    running.context.cancelled.set()
                    return
                log.warning("heartbeat failed on job %s: %s", job["id"], err)
            except Exception as err:
                log.warning("heartbeat failed on job %s: %s", job["id"], err)

    def _settle(self, running: _Running, report: Callable[[], Any]) -> None:
        """Reports once: the handler's answer, or the hand-back, whichever comes first."""
        with running.lock:
            if running.settled:
                return
            running.settled = True
        running.stop_beats.set()
        try:
            report()
        except ApiError as err:
            if err.status in (404, 409):
                log.warning("job %s was no longer ours to report (%s)", running.context.job["id"], err.code)
            else:
                log.error("could not report job %s: %s", running.context.job["id"], err)
        except Exception as err:
            log.error("could not report job %s: %s", running.context.job["id"], err)

    def _fail(self, job: ClaimedJob, category: str, message: str, retryable: bool, retry_after: Optional[int]) -> Any:
        return self.client.fail_job(job["id"], job["lease_token"], category, message, retryable=retryable, retry_after_seconds=retry_after)

    def _hand_back(self, running: _Running) -> None:
        running.context.cancelled.set()
        message = "the worker shut down before the job finished"
        self._settle(running, lambda: self._fail(running.context.job, SHUTDOWN_CATEGORY, message, True, 0))

    def _drain(self) -> None:
        with self._lock:
            in_hand = list(self._running.values())
        deadline = time.monotonic() + self.shutdown_grace_seconds
        for running in in_hand:
            running.done.wait(max(0.0, deadline - time.monotonic()))
        for running in in_hand:
            if not running.done.is_set():
                self._hand_back(running)

    def _install_signal_handlers(self) -> Callable[[], None]:
        if threading.current_thread() is not threading.main_thread():
            return lambda: None
        # A signal handler runs in the main thread between two bytecodes, possibly while that
        # thread holds one of the locks stop() takes; a thread of its own cannot deadlock on it.
        def on_signal(_signum: int, _frame: Any) -> None:
            threading.Thread(target=self.stop, name="worker-stop", daemon=True).start()

        previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}

        def restore() -> None:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

        return restore
