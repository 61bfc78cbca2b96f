"""`callflow calls list` and `callflow calls status` exit 0 every time they succeed.

Each command runs CALLFLOW_CLI_EXIT_RUNS times (default 40, the count CI runs; 200 to check a
change to how the CLI ends) as a subprocess against the session's dev server, with a worker
answering the call's `status` query. The failure this guards against is timing dependent: a
Temporal SDK thread still calling into Python when the interpreter finalised aborted the
process (`Fatal Python error: PyGILState_Release`, exit status -6) after correct output, in
about one run in eight on a two-core machine (callflow/telemetry.py explains the mechanism).
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections import Counter
from pathlib import Path

import pytest
from temporalio.client import Client
from temporalio.worker import Worker

from callflow.local.stack.temporal import DevServer, venv_bin
from tests.operator.staged_workflow import StagedCall, StagedCallWorkflow
from workflows.messages import workflow_id_for

RUNS = int(os.environ.get("CALLFLOW_CLI_EXIT_RUNS", "40"))
TASK_QUEUE = "cli-exit"


async def _callflow(env: dict[str, str], cwd: str, *args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        str(venv_bin("callflow")),
        *args,
        env=env,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


@pytest.mark.slow
@pytest.mark.timeout(120 + 6 * RUNS)
async def test_calls_commands_exit_zero_run_after_run(
    temporal_dev_server: DevServer, temporal_client: Client, tmp_path: Path
) -> None:
    user = f"exit-user-{uuid.uuid4().hex[:6]}"
    call_id = f"exit-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "CALLFLOW_TEMPORAL_ADDRESS": temporal_dev_server.address,
        "CALLFLOW_TEMPORAL_UI_URL": temporal_dev_server.ui_url,
    }
    commands = {
        "list": ("calls", "list", "--user", user),
        "status": ("calls", "status", call_id),
    }
    async with Worker(temporal_client, task_queue=TASK_QUEUE, workflows=[StagedCallWorkflow]):
        handle = await temporal_client.start_workflow(
            "CallWorkflow",
            StagedCall(call_id=call_id, user_id=user, stage="awaiting_join"),
            id=workflow_id_for(call_id),
            task_queue=TASK_QUEUE,
        )
        try:
            # Visibility is eventually consistent: wait until the list shows the call.
            for _ in range(100):
                code, out, err = await _callflow(env, str(tmp_path), *commands["list"])
                if call_id in out:
                    break
                await asyncio.sleep(0.1)
            else:
                raise AssertionError(f"`calls list` never showed {call_id}: {out}{err}")

            codes: dict[str, Counter[int]] = {name: Counter() for name in commands}
            first_failure = ""
            for name, argv in commands.items():
                for _ in range(RUNS):
                    code, out, err = await _callflow(env, str(tmp_path), *argv)
                    codes[name][code] += 1
                    assert call_id in out, f"`calls {name}` printed: {out}{err}"
                    if code != 0 and not first_failure:
                        first_failure = f"`callflow {' '.join(argv)}` exited {code}:\n{err}"
        finally:
            # Not left running for the stuck-call checks of other tests on this server.
            await handle.signal("finish")
            await handle.result()
    assert all(counts == {0: RUNS} for counts in codes.values()), (
        f"exit codes in {RUNS} runs of each: "
        + ", ".join(f"calls {name} {dict(counts)}" for name, counts in codes.items())
        + f"; the first failure: {first_failure}"
    )
