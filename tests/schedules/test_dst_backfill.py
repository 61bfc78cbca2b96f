"""Daylight saving on the dev server, end to end: `temporal schedule backfill` over
America/New_York's fall-back day (2026-11-01) and spring-forward day (2027-03-14) fires the
real CallWorkflow, and each local call time gets exactly one call per local day, due at its
documented local time (README, "Daylight-saving time"), none early, whatever the 300 s lead
does across the change."""

from __future__ import annotations

import asyncio
import subprocess
import uuid
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from temporalio.client import Client, WorkflowExecutionStatus

from callflow.local.stack.temporal import DevServer, venv_bin
from callflow.models import User
from callflow.runtime import Ports, create_worker
from callflow.schedules.manager import ScheduleManager, schedule_id_for
from callflow.schedules.spec import DAYS, CallSchedule
from callflow.settings import Settings
from tests.workflows.fakes import (
    FakePhone,
    FakeRooms,
    MemoryMemory,
    MemoryRecords,
    RecordingNotifier,
    ScriptedAnalyzer,
)
from workflows.call import CallWorkflow

pytestmark = pytest.mark.slow
NY = ZoneInfo("America/New_York")
LEAD_S = 300
FALL_BACK, SPRING_FORWARD = date(2026, 11, 1), date(2027, 3, 14)
# Local call time -> the instant each day's one call is due (UTC), as the README documents it:
# a repeated time rings at its first occurrence (EDT), a time in the gap as far past it.
EXPECTED = {
    "01:30": {FALL_BACK: "05:30", SPRING_FORWARD: "06:30"},  # 01:30 EDT / 01:30 EST
    "02:01": {FALL_BACK: "07:01", SPRING_FORWARD: "07:01"},  # 02:01 EST / 03:01 EDT
    "02:30": {FALL_BACK: "07:30", SPRING_FORWARD: "07:30"},  # 02:30 EST / 03:30 EDT
    "03:02": {FALL_BACK: "08:02", SPRING_FORWARD: "07:02"},  # 03:02 EST / 03:02 EDT
}


def _utc(day: date, hhmm: str) -> datetime:
    h, m = (int(x) for x in hhmm.split(":"))
    return datetime(day.year, day.month, day.day, h, m, tzinfo=UTC)


def _local_midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=NY).astimezone(UTC)


def _backfill(server: DevServer, schedule_id: str, day: date) -> None:
    subprocess.run(
        [
            str(venv_bin("temporal")),
            "schedule",
            "backfill",
            "--address",
            server.address,
            "--schedule-id",
            schedule_id,
            "--start-time",
            _local_midnight(day).isoformat().replace("+00:00", "Z"),
            "--end-time",
            _local_midnight(day + timedelta(days=1)).isoformat().replace("+00:00", "Z"),
            "--overlap-policy",
            "AllowAll",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )


async def _firings(client: Client, user_id: str, want: int) -> list[str]:
    """The ids of the workflows the schedule started (visibility is eventually consistent)."""
    query = f"WorkflowId STARTS_WITH 'call-sched-{user_id}-'"
    ids: list[str] = []
    for _ in range(150):
        ids = [wf.id async for wf in client.list_workflows(query)]
        if len(ids) >= want:
            await asyncio.sleep(1.0)  # any stragglers
            return sorted({wf.id async for wf in client.list_workflows(query)})
        await asyncio.sleep(0.2)
    return sorted(ids)


async def _due_or_dropped(client: Client, workflow_id: str) -> datetime | None:
    """The due time a firing settled on, or None for a firing dropped as a duplicate."""
    handle = client.get_workflow_handle(workflow_id)
    for _ in range(150):
        described = await handle.describe()
        if described.status == WorkflowExecutionStatus.COMPLETED:
            result = await handle.result()
            if result["attempts"] == 0:
                assert result["outcome"] == "skipped", result
                assert "duplicate schedule firing" in result["failure_reason"]
                return None
        status = await handle.query(CallWorkflow.status)
        if status.stage not in ("scheduled", "loading_user") and status.due_at:
            return datetime.fromisoformat(status.due_at)
        await asyncio.sleep(0.2)
    raise AssertionError(f"{workflow_id} settled on neither a due time nor a drop")


@pytest.mark.parametrize("call_time", sorted(EXPECTED))
async def test_each_local_call_time_is_called_once_a_day_across_both_changes(
    call_time: str, temporal_client: Client, temporal_dev_server: DevServer
) -> None:
    user_id = f"dst-{call_time.replace(':', '')}-{uuid.uuid4().hex[:6]}"
    task_queue = f"dst-{uuid.uuid4().hex[:8]}"
    records = MemoryRecords()
    await records.upsert_user(User(user_id, "Ada", "ab" * 32, timezone="America/New_York"))
    phone = FakePhone(temporal_client, ["answer"], user_id)
    ports = Ports(
        records, MemoryMemory(), phone, FakeRooms(), ScriptedAnalyzer(), RecordingNotifier()
    )
    settings = Settings(temporal_address=temporal_dev_server.address, task_queue=task_queue)
    manager = ScheduleManager(temporal_client, settings, lead_s=LEAD_S)
    daily = CallSchedule.parse(
        {"timezone": "America/New_York", "days": list(DAYS), "times": [call_time]}
    )
    await manager.create(user_id, daily)
    started: list[str] = []
    try:
        async with create_worker(temporal_client, ports, settings):
            for day in (FALL_BACK, SPRING_FORWARD):
                _backfill(temporal_dev_server, schedule_id_for(user_id), day)
            # At least one firing a day; a repeated wall time fires twice.
            started = await _firings(temporal_client, user_id, want=2)
            dues = [await _due_or_dropped(temporal_client, wf) for wf in started]
            # The fall-back day is past: its one call rang at once (due already), once.
            past = [wf for wf, d in zip(started, dues, strict=True) if d and d.year == 2026]
            results = [await temporal_client.get_workflow_handle(wf).result() for wf in past]
    finally:
        await manager.delete(user_id)
        for wf in started:
            handle = temporal_client.get_workflow_handle(wf)
            if (await handle.describe()).status == WorkflowExecutionStatus.RUNNING:
                await handle.terminate("test over")

    calls = sorted(d for d in dues if d is not None)
    expected = sorted(_utc(day, hhmm) for day, hhmm in EXPECTED[call_time].items())
    assert calls == expected, (started, dues)
    # Every firing was the lead before its call, so none rang (or prepared) early.
    by_local_day = {c.astimezone(NY).date() for c in calls}
    assert by_local_day == {FALL_BACK, SPRING_FORWARD}
    assert [(r["outcome"], r["pushes_sent"]) for r in results] == [("completed", 1)]
    assert len(phone.pushes) == 1  # no dropped firing rang
