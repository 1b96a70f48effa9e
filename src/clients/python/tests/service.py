"""One real ai-service for the test run: `node src/main.ts` on 127.0.0.1 (a free
port) with an embedded PostgreSQL in a temp DATA_DIR, started on first use and
stopped at exit. Startup is awaited on its "ai-service listening" log line."""

from __future__ import annotations

import atexit
import json
import os
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import List, Optional

ROOT = Path(__file__).resolve().parents[4]
NODE = ROOT / "node_modules" / ".bin" / "node"
START_TIMEOUT_SECONDS = 120
STOP_TIMEOUT_SECONDS = 30


class Service:
    def __init__(self) -> None:
        self.data_dir = tempfile.mkdtemp(prefix="ai-service-python-")
        os.chmod(self.data_dir, 0o755)  # under root the embedded server runs as the postgres user
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HTTP_HOST": "127.0.0.1",
            "HTTP_PORT": "0",
            "DATA_DIR": self.data_dir,
            "REAPER_INTERVAL": "200ms",
            "LONG_POLL_RECHECK": "1s",
        }
        self.proc = subprocess.Popen(
            [str(NODE), "src/main.ts"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        self.lines: List[str] = []
        self.url: Optional[str] = None
        self._listening = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()
        if not self._listening.wait(START_TIMEOUT_SECONDS) or self.url is None:
            self.stop()
            raise RuntimeError("ai-service did not start:\n" + "\n".join(self.lines[-20:]))

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))
            if self.url is None and "ai-service listening" in line:
                try:
                    self.url = str(json.loads(line)["url"])
                except (ValueError, KeyError):
                    continue
                self._listening.set()
        self._listening.set()  # exited: wake the waiter, which then sees no url

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        shutil.rmtree(self.data_dir, ignore_errors=True)


_service: Optional[Service] = None


def service() -> Service:
    global _service
    if _service is None:
        _service = Service()
        atexit.register(_service.stop)
    return _service


_profiles = 0


def fresh_profile(prefix: str) -> str:
    """A model profile no other test uses, so claims see only this test's jobs."""
    global _profiles
    _profiles += 1
    return f"py-{prefix}-{os.getpid()}-{_profiles}"


def job_body(profile: str, owner_ref: str, **overrides: object) -> dict:
    body = {"owner_service": "python-sdk", "owner_ref": owner_ref, "task_type": "summary", "model_profile": profile, "input": {"text": "hi"}}
    body.update(overrides)
    return body
