"""A worker whose activity finishes after its timeout, so the SDK core logs a warning.

Run as `python -m tests.support.late_activity ADDRESS`; prints one line, `done <result>`, to
stdout. Used to check that the core's log lines go to Python logging (stderr), not stdout.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import uuid
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from callflow.telemetry import sdk_runtime


@activity.defn
async def finish_late() -> str:
    await asyncio.sleep(1.0)
    return "late"


@workflow.defn
class LateActivityWorkflow:
    @workflow.run
    async def run(self) -> str:
        try:
            return await workflow.execute_activity(
                finish_late,
                schedule_to_close_timeout=timedelta(milliseconds=300),
                retry_policy=RetryPolicy(maximum_attempts=1),
            )
        except ActivityError:
            return "timed out"


async def main(address: str) -> None:
    client = await Client.connect(address, runtime=sdk_runtime())
    queue = f"late-{uuid.uuid4().hex[:8]}"
    async with Worker(
        client,
        task_queue=queue,
        workflows=[LateActivityWorkflow],
        activities=[finish_late],
        workflow_runner=UnsandboxedWorkflowRunner(),
    ):
        result = await client.execute_workflow(LateActivityWorkflow.run, id=queue, task_queue=queue)
        await asyncio.sleep(1.5)  # the late completion reaches the server and is refused
    print(f"done {result}", flush=True)


if __name__ == "__main__":
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
    asyncio.run(main(sys.argv[1]))
    logging.shutdown()
    # Skip interpreter teardown: the SDK's threads can abort it under load.
    os._exit(0)
