"""`calls list|status|stuck` over the dev server's visibility, with a stand-in CallWorkflow."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner, Result
from temporalio.client import Client, WorkflowHandle

from callflow.operator.calls import call_status, list_calls, stuck_calls
from callflow.operator.cli import calls
from callflow.operator.errors import CallNotFound
from callflow.operator.queries import calls_query
from callflow.settings import Settings, get_settings
from tests.operator.conftest import TASK_QUEUE
from tests.operator.staged_workflow import StagedCall
from workflows.messages import temporal_ui_link, workflow_id_for


async def _start(
    client: Client, user_id: str, stage: str, due_at: datetime | None = None
) -> WorkflowHandle:
    call_id = f"op-{uuid.uuid4().hex[:8]}"
    return await client.start_workflow(
        "CallWorkflow",
        StagedCall(
            call_id=call_id,
            user_id=user_id,
            stage=stage,
            due_at=due_at.isoformat() if due_at else None,
        ),
        id=workflow_id_for(call_id),
        task_queue=TASK_QUEUE,
    )


async def _eventually(check: Callable[[], Awaitable[bool]], what: str) -> None:
    # Visibility is eventually consistent: poll briefly.
    for _ in range(100):
        if await check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"visibility never showed {what}")


@pytest.fixture
def cli_env(operator_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("CALLFLOW_TEMPORAL_ADDRESS", operator_settings.temporal_address)
    monkeypatch.setenv("CALLFLOW_TEMPORAL_UI_URL", operator_settings.temporal_ui_url)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


async def _cli(*args: str) -> Result:
    # In a thread: the CLI runs its own event loop while this one keeps the worker going.
    return await asyncio.to_thread(CliRunner().invoke, calls, list(args), catch_exceptions=False)


async def test_list_status_and_stuck(
    temporal_client: Client,
    operator_worker: object,
    operator_settings: Settings,
    cli_env: None,
):
    client = temporal_client
    user = f"user-{uuid.uuid4().hex[:6]}"
    waiting = await _start(client, user, "awaiting_join")
    moving = await _start(client, user, "pushing")
    finished = await _start(client, user, "in_call")
    # Sleeping until it is due in an hour: however long it has waited, it is not stuck.
    sleeping = await _start(client, user, "waiting_due", datetime.now(UTC) + timedelta(hours=1))
    # Was due a while ago and still waits: stuck.
    overdue = await _start(client, user, "waiting_due", datetime.now(UTC) - timedelta(minutes=9))
    await finished.signal("finish")
    assert await finished.result() == "completed"

    async def all_visible() -> bool:
        rows = await list_calls(client, calls_query(user_id=user))
        stages = {r.workflow_id: r.stage for r in rows}
        return stages == {
            waiting.id: "awaiting_join",
            moving.id: "pushing",
            finished.id: "done",
            sleeping.id: "waiting_due",
            overdue.id: "waiting_due",
        }

    await _eventually(all_visible, "the three calls with their stages")

    rows = await list_calls(client, calls_query(user_id=user, stage="awaiting_join"))
    assert [r.workflow_id for r in rows] == [waiting.id]
    assert rows[0].status == "RUNNING" and rows[0].attempt == 1 and rows[0].user_id == user
    done = await list_calls(client, calls_query(user_id=user, outcome="completed"))
    assert [(r.workflow_id, r.status) for r in done] == [(finished.id, "COMPLETED")]
    running = await list_calls(client, calls_query(user_id=user, running_only=True))
    assert {r.workflow_id for r in running} == {waiting.id, moving.id, sleeping.id, overdue.id}

    out = await _cli("list", "--user", user, "--stage", "awaiting_join")
    assert out.exit_code == 0, out.output
    link = temporal_ui_link(operator_settings.temporal_ui_url, "default", waiting.id)
    assert out.output.strip().endswith(link)
    assert "stage=awaiting_join" in out.output and "running" in out.output

    detail = await call_status(client, waiting.id.removeprefix("call-"))
    assert detail.status is not None and detail.status.stage == "awaiting_join"
    out = await _cli("status", waiting.id.removeprefix("call-"))
    assert out.exit_code == 0, out.output
    assert link in out.output and "awaiting_join" in out.output

    # Let both stages age past the threshold, then move one call on: only the other is stuck
    # (its workflow is as old as the other's, so the stage's own start time decides).
    await asyncio.sleep(2.5)
    await moving.signal("advance", "awaiting_join")

    async def advanced() -> bool:
        status = await call_status(client, moving.id)
        return status.status is not None and len(status.status.stages) == 2

    await _eventually(advanced, "the advanced stage")
    stuck = [s for s in await stuck_calls(client, timedelta(seconds=2)) if s.row.user_id == user]
    assert [s.row.workflow_id for s in stuck] == [waiting.id, overdue.id]  # oldest first
    assert stuck[0].stage_age_known and stuck[0].age >= timedelta(seconds=2)
    assert stuck[0].row.stage == "awaiting_join" and stuck[1].row.stage == "waiting_due"

    out = await _cli("stuck", "--older-than", "2s")
    assert out.exit_code == 0, out.output
    assert link in out.output and moving.id not in out.output and finished.id not in out.output

    for handle in (waiting, moving, sleeping, overdue):
        await handle.signal("finish")


async def test_unknown_call_and_bad_threshold(
    temporal_client: Client, operator_worker: object, cli_env: None
):
    with pytest.raises(CallNotFound):
        await call_status(temporal_client, "no-such-call")
    out = await _cli("status", "no-such-call")
    assert out.exit_code == 1 and "no call 'no-such-call'" in out.output
    out = await _cli("stuck", "--older-than", "soon")
    assert out.exit_code == 1 and "invalid --older-than" in out.output
