"""A worker process for the SIGTERM test: prints "started <job id>" when its
handler begins, then blocks until the worker gives up on the job."""

import os
import sys

from ai_service_client import Client, Worker


def handle(job, context):
    print(f"started {job['id']}", flush=True)
    context.cancelled.wait()
    return {"late": True}


if __name__ == "__main__":
    worker = Worker(
        Client(os.environ["AI_SERVICE_URL"]),
        handle,
        worker_id="py-sigterm",
        model_profiles=[os.environ["MODEL_PROFILE"]],
        wait_seconds=1,
        shutdown_grace_seconds=0.5,
    )
    worker.run()
    print("stopped", flush=True)
    sys.exit(0)
