"""A consenting user's call: the job tells the agent to record, and the `recording_finished`
signal lands in the call record; without consent nothing waits and nothing is recorded."""

from __future__ import annotations

import json
import uuid

from temporalio.testing import WorkflowEnvironment

from callflow.models import User
from callflow.runtime import Ports, create_worker
from callflow.settings import Settings
from tests.workflows.fakes import (
    FakePhone,
    FakeRooms,
    MemoryMemory,
    MemoryRecords,
    RecordingNotifier,
    ScriptedAnalyzer,
    turn,
)
from workflows.call import RECORDING_PATCH, CallWorkflow
from workflows.messages import (
    AgentReady,
    AgentReport,
    CallInput,
    CallResult,
    CallTimings,
    RecordingFinished,
    workflow_id_for,
)

TIMINGS = CallTimings(join_timeout_s=45, max_attempts=1, ring_arm_s=0)


async def _call(
    env: WorkflowEnvironment, *, consent: bool, send_recording: bool
) -> tuple[CallResult, MemoryRecords, FakeRooms, str]:
    user = f"u-{uuid.uuid4().hex[:6]}"
    records = MemoryRecords()
    await records.upsert_user(User(user, "Ada", voip_token="ab" * 32, recording_consent=consent))
    rooms = FakeRooms()
    phone = FakePhone(env.client, ["answer"], user)

    async def agent(call_id: str, room: str) -> None:
        handle = env.client.get_workflow_handle(workflow_id_for(call_id))
        await handle.signal("agent_ready", AgentReady(f"ready-{room}", room, 400.0))
        await handle.signal("transcript_turn", turn(1, "agent", "This call is recorded. Hi!"))
        await handle.signal("transcript_turn", turn(2, "user", "Yes, twice."))
        if send_recording:
            finished = RecordingFinished(
                f"{room}:recording_finished", f"calls/{call_id}.ogg", 42.5, 700_000, 2, 1.8e9
            )
            await handle.signal("recording_finished", finished)
            await handle.signal("recording_finished", finished)  # a duplicate changes nothing
        await handle.signal("agent_report", AgentReport(f"{room}:agent_report"))

    phone.on_answer = agent
    queue = f"tq-{uuid.uuid4().hex[:8]}"
    ports = Ports(records, MemoryMemory(), phone, rooms, ScriptedAnalyzer(), RecordingNotifier())
    call_id = f"c-{uuid.uuid4().hex[:10]}"
    async with create_worker(env.client, ports, Settings(task_queue=queue)):
        handle = await env.client.start_workflow(
            CallWorkflow.run,
            CallInput(call_id=call_id, user_id=user, timings=TIMINGS),
            id=workflow_id_for(call_id),
            task_queue=queue,
        )
        result = await handle.result()
        history = await handle.fetch_history()
    # Patch markers carry the patch id in their payload.
    markers = " ".join(
        p.data.decode(errors="replace")
        for e in history.events
        if e.HasField("marker_recorded_event_attributes")
        for payloads in e.marker_recorded_event_attributes.details.values()
        for p in payloads.payloads
    )
    return result, records, rooms, markers


async def test_a_consenting_users_recording_lands_in_the_record(
    time_env: WorkflowEnvironment,
) -> None:
    result, records, rooms, history = await _call(time_env, consent=True, send_recording=True)

    assert result.outcome == "completed"
    job = json.loads(next(iter(rooms.job_metadata.values())))
    assert job.get("recording_consent") is True  # the agent is told to record and say so
    record = await records.get_call(result.call_id)
    assert record is not None and record.recording is not None
    assert record.recording.key == f"calls/{result.call_id}.ogg"
    assert record.recording.duration_s == 42.5 and record.recording.size_bytes == 700_000
    assert record.recording.channels == 2
    assert record.recording.started_at is not None and record.recording.started_at.startswith(
        "2027"
    )
    # It came before the agent's report, so the record did not wait for it (no patch marker).
    assert RECORDING_PATCH not in history


async def test_without_consent_the_job_says_no_and_the_record_has_no_recording(
    time_env: WorkflowEnvironment,
) -> None:
    result, records, rooms, _ = await _call(time_env, consent=False, send_recording=False)

    assert result.outcome == "completed"
    job = json.loads(next(iter(rooms.job_metadata.values())))
    assert job.get("recording_consent") is False
    record = await records.get_call(result.call_id)
    assert record is not None and record.recording is None


async def test_a_consented_call_whose_agent_never_sends_it_is_saved_after_the_grace(
    time_env: WorkflowEnvironment,
) -> None:
    # On the time-skipping server the 60 s grace passes at once; the record is still saved.
    result, records, _, history = await _call(time_env, consent=True, send_recording=False)

    assert result.outcome == "completed" and result.record_saved
    record = await records.get_call(result.call_id)
    assert record is not None and record.recording is None
    assert RECORDING_PATCH in history  # the wait is the patched command
