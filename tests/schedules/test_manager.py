"""Schedules on the real Temporal dev server, intents in real embedded Postgres."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from temporalio.client import Client, WorkflowExecutionStatus

from callflow.schedules.errors import ScheduleAlreadyExists, ScheduleInvalid, ScheduleNotFound
from callflow.schedules.intents import PostgresScheduleIntentStore
from callflow.schedules.manager import OPT_OUT_NOTE, ScheduleManager, ScheduleView
from callflow.schedules.spec import CallSchedule
from callflow.settings import Settings
from tests.schedules.echo_workflow import Echo

SPEC = CallSchedule.parse(
    {
        "timezone": "Europe/Paris",
        "days": ["mon", "fri"],
        "times": ["07:30"],
        "quiet_hours": {"start": "22:00", "end": "07:00"},
        "jitter_s": 60,
    }
)


async def test_create_update_pause_resume_delete_round_trip(
    manager: ScheduleManager, intents: PostgresScheduleIntentStore, user_id: str
):
    view = await manager.create(user_id, SPEC)
    assert view.schedule_id == f"callflow-user-{user_id}"
    assert view.time_zone == "Europe/Paris"
    assert view.calendars == ["mon,fri 07:28:00"]
    assert view.overlap == "SKIP"
    assert view.jitter_s == 60 and view.lead_s == 120
    assert view.workflow_id_base == f"call-sched-{user_id}"
    assert view.schedule == SPEC and not view.paused
    # Every next call is 07:30 Paris time on a Monday or Friday.
    calls = [t.astimezone(SPEC_ZONE) for t in view.next_call_times]
    assert calls and all((c.hour, c.minute, c.strftime("%a")) in OK_CALLS for c in calls)
    assert await intents.get_schedule(user_id) == SPEC

    with pytest.raises(ScheduleAlreadyExists):
        await manager.create(user_id, SPEC)

    changed = SPEC.model_copy(update={"times": ["08:15", "18:00"], "days": ["sun"]})
    view = await manager.update(user_id, changed)
    assert view.calendars == ["sun 08:13:00", "sun 17:58:00"]
    assert view.schedule == changed
    assert await intents.get_schedule(user_id) == changed

    view = await manager.pause(user_id)
    assert view.paused and view.note == OPT_OUT_NOTE
    stored = await intents.get_schedule(user_id)
    assert stored is not None and stored.paused

    view = await manager.resume(user_id)
    assert not view.paused and view.note == "resumed"
    stored = await intents.get_schedule(user_id)
    assert stored is not None and not stored.paused

    assert user_id in [v.user_id for v in await _eventually_listed(manager, user_id)]

    await manager.delete(user_id)
    assert await intents.get_schedule(user_id) is None
    with pytest.raises(ScheduleNotFound):
        await manager.describe(user_id)
    with pytest.raises(ScheduleNotFound):
        await manager.delete(user_id)


SPEC_ZONE = ZoneInfo("Europe/Paris")
OK_CALLS = {(7, 30, "Mon"), (7, 30, "Fri")}


async def _eventually_listed(manager: ScheduleManager, user_id: str) -> list[ScheduleView]:
    for _ in range(50):
        views = await manager.list()
        if any(v.user_id == user_id for v in views):
            return views
        await asyncio.sleep(0.1)
    return []


async def test_created_paused_carries_the_opt_out_note(manager: ScheduleManager, user_id: str):
    view = await manager.create(user_id, SPEC.model_copy(update={"paused": True}))
    assert view.paused and view.note == OPT_OUT_NOTE
    await manager.delete(user_id)


async def test_jitter_must_fit_in_the_lead(manager: ScheduleManager, user_id: str):
    with pytest.raises(ScheduleInvalid) as caught:
        await manager.create(user_id, SPEC.model_copy(update={"jitter_s": 120}))
    assert caught.value.field == "jitter_s"


async def test_bad_user_id_is_rejected(manager: ScheduleManager):
    with pytest.raises(ScheduleInvalid) as caught:
        await manager.create("has space", SPEC)
    assert caught.value.field == "user_id"


async def test_missing_schedule_is_not_found(manager: ScheduleManager, user_id: str):
    for operation in (manager.pause, manager.resume, manager.describe, manager.delete):
        with pytest.raises(ScheduleNotFound):
            await operation(user_id)
    with pytest.raises(ScheduleNotFound):
        await manager.update(user_id, SPEC)


async def _result(client: Client, workflow_id: str) -> Echo:
    for _ in range(200):
        async for wf in client.list_workflows(f"WorkflowId = '{workflow_id}'"):
            if wf.status == WorkflowExecutionStatus.COMPLETED:
                return await client.get_workflow_handle(workflow_id, result_type=Echo).result()
        await asyncio.sleep(0.1)
    raise AssertionError(f"{workflow_id} never completed")


async def test_trigger_starts_call_workflow_with_its_input(
    manager: ScheduleManager, temporal_client: Client, worker: object, user_id: str
):
    await manager.create(user_id, SPEC)
    await manager.trigger(user_id)
    view = await manager.describe(user_id)
    for _ in range(50):
        if view.recent_workflow_ids:
            break
        await asyncio.sleep(0.1)
        view = await manager.describe(user_id)
    (workflow_id,) = view.recent_workflow_ids
    assert re.fullmatch(rf"call-sched-{user_id}-\d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\dZ", workflow_id)
    echo = await _result(temporal_client, workflow_id)
    assert echo.input == manager.call_input(user_id, SPEC)
    assert echo.input.quiet_hours == str(SPEC.quiet_hours) and echo.input.call_days == SPEC.days
    assert echo.input.call_id == "" and echo.input.reason == "scheduled"
    assert echo.input.ring_lead_s == 120
    assert echo.input.timings.join_timeout_s == 30.0  # from the settings
    assert echo.scheduled_start is not None
    await manager.delete(user_id)


@pytest.mark.e2e
async def test_calendar_firing_is_the_lead_before_the_call_time(
    temporal_client: Client, settings: Settings, worker: object, user_id: str
):
    """A real calendar firing (no trigger): the workflow id carries the nominal firing time and
    firing + lead is exactly the local call time."""
    now = datetime.now(UTC)
    call = (now + timedelta(minutes=2)).replace(second=0, microsecond=0)
    lead = int((call - now).total_seconds()) - 3  # fires about 3 s from now
    manager = ScheduleManager(temporal_client, settings, lead_s=lead)
    day = call.strftime("%a").lower()
    spec = CallSchedule.parse({"timezone": "UTC", "days": [day], "times": [f"{call:%H:%M}"]})
    await manager.create(user_id, spec)
    fire = call - timedelta(seconds=lead)
    workflow_id = f"call-sched-{user_id}-{fire:%Y-%m-%dT%H:%M:%SZ}"
    echo = await _result(temporal_client, workflow_id)
    assert echo.scheduled_start == fire
    assert echo.scheduled_start + timedelta(seconds=echo.input.ring_lead_s) == call
    await manager.delete(user_id)


async def test_describe_decrypts_what_an_encrypting_client_stored(
    temporal_client: Client, settings: Settings, user_id: str
) -> None:
    from pydantic import SecretStr

    from callflow.codec import data_converter
    from callflow.codec.keys import generate_key

    encrypted = settings.model_copy(
        update={
            "codec_enabled": True,
            "codec_keys": SecretStr(f"k1:{generate_key()}"),
            "codec_active_key_id": "k1",
        }
    )
    client = Client(
        temporal_client.service_client,
        namespace=temporal_client.namespace,
        data_converter=data_converter(encrypted),
    )
    manager = ScheduleManager(client, encrypted, lead_s=90)
    await manager.create(user_id, SPEC)
    try:
        view = await manager.describe(user_id)
        # Without decrypting first, the memo would not parse and the lead would silently
        # fall back to the manager's own.
        assert view.schedule == SPEC
        assert view.lead_s == 90
        assert await ScheduleManager(client, encrypted, lead_s=5).describe(user_id) == view
    finally:
        await manager.delete(user_id)
