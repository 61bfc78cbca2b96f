"""What the agent receives: the job the workflow puts on the agent dispatch, parsed the way the
agent parses it, on the time-skipping server."""

from __future__ import annotations

import dataclasses
import json
import uuid
from datetime import date

from temporalio.testing import WorkflowEnvironment

from agent.instructions import build_instructions
from agent.metadata import parse_call_context
from callflow.models import CallRecord, CheckIn, Commitment, CommitmentChanges, User
from callflow.runtime import Ports, create_worker
from callflow.settings import Settings
from tests.workflows.fakes import (
    FakePhone,
    FakeRooms,
    MemoryMemory,
    MemoryRecords,
    RecordingNotifier,
    ScriptedAnalyzer,
)
from workflows.agent_job import (
    AgentJob,
    JobCheckIn,
    JobCommitment,
    JobUser,
    room_metadata_for,
)
from workflows.call import CallWorkflow
from workflows.messages import CallInput, CallTimings, room_name_for, workflow_id_for

USER = "user-job"
TIMINGS = CallTimings(
    join_timeout_s=40,
    max_attempts=1,
    retry_backoff_s=[],
    max_call_s=600,
    room_probe_interval_s=30,
    memory_budget_ms=400,
)


async def _dispatched_job(
    env: WorkflowEnvironment,
    memory: MemoryMemory,
    records: MemoryRecords | None = None,
    **input_fields: object,
) -> tuple[str, AgentJob]:
    records = records or MemoryRecords()
    await records.upsert_user(User(USER, "Ada", voip_token="ab" * 32, timezone="Europe/London"))
    await records.upsert_commitments(
        [
            Commitment("cm-run", USER, "run 5k", "2020-01-01"),
            Commitment("cm-read", USER, "read a chapter", "2020-01-02"),
        ]
    )
    rooms = FakeRooms()
    phone = FakePhone(env.client, ["answer"], USER)
    ports = Ports(records, memory, phone, rooms, ScriptedAnalyzer(), RecordingNotifier())
    call_id = f"c-{uuid.uuid4().hex[:10]}"
    task_queue = f"tq-{uuid.uuid4().hex[:8]}"
    async with create_worker(env.client, ports, Settings(task_queue=task_queue)):
        result = await env.client.execute_workflow(
            CallWorkflow.run,
            CallInput(call_id=call_id, user_id=USER, timings=TIMINGS, **input_fields),  # type: ignore[arg-type]
            id=workflow_id_for(call_id),
            task_queue=task_queue,
        )
    assert result.outcome == "completed"
    return call_id, parse_call_context(rooms.job_metadata[room_name_for(call_id, 1)])


async def test_the_agent_receives_the_call_its_caller_name_and_its_timings(
    time_env: WorkflowEnvironment,
) -> None:
    memory = MemoryMemory()
    memory.items["earlier-call"] = (USER, "Ada trains for a half marathon")

    call_id, job = await _dispatched_job(
        time_env, memory, caller_name="Coach Bea", conversation_script="checkin"
    )

    # The user's date at the call (the test server's clock may have been skipped ahead).
    assert date.fromisoformat(job.local_date)
    assert dataclasses.replace(job, local_date="") == AgentJob(
        call_id=call_id,
        workflow_id=workflow_id_for(call_id),
        user=JobUser(USER, "Ada", "Europe/London"),
        memory=["Ada trains for a half marathon"],
        memory_degraded=False,
        due_commitments=[
            JobCommitment("cm-run", "run 5k", "2020-01-01"),
            JobCommitment("cm-read", "read a chapter", "2020-01-02"),
        ],
        script="checkin",
        caller_name="Coach Bea",
        join_timeout_s=40.0,
        max_call_s=600.0,
    )
    # The agent introduces itself with the name the VoIP push showed.
    assert build_instructions(job).startswith("You are Coach Bea, ")


async def test_a_failed_memory_fetch_reaches_the_agent_as_degraded_memory(
    time_env: WorkflowEnvironment,
) -> None:
    memory = MemoryMemory()
    memory.items["earlier-call"] = (USER, "never read: the fetch fails")
    memory.fail_search = True

    _, job = await _dispatched_job(time_env, memory)

    assert job.memory == [] and job.memory_degraded is True
    assert job.caller_name == CallInput(call_id="x", user_id="y").caller_name
    assert "do not pretend to remember" in build_instructions(job)


async def test_the_agent_is_told_each_commitments_history_and_the_last_call(
    time_env: WorkflowEnvironment,
) -> None:
    records = MemoryRecords()
    records.calls["before"] = CallRecord(
        call_id="before",
        user_id=USER,
        outcome="completed",
        attempts=1,
        started_at="2020-01-01T07:30:00+00:00",
        ended_at="2020-01-01T07:35:00+00:00",
        summary="Ada ran once and wants to sleep earlier.",
        topics_next_time=["sleep before eleven"],
    )
    await records.upsert_commitments([Commitment("cm-run", USER, "run 5k", "2020-01-01")])
    await records.apply_commitment_changes(
        CommitmentChanges(
            user_id=USER,
            call_id="before",
            check_ins=[CheckIn("ci-1", "cm-run", "before", "broken", "I skipped it", "2019-12-31")],
        )
    )

    _, job = await _dispatched_job(time_env, MemoryMemory(), records)

    run = next(c for c in job.due_commitments if c.commitment_id == "cm-run")
    assert run.history == [JobCheckIn("broken", "2019-12-31", "I skipped it")]
    assert job.last_call_summary == "Ada ran once and wants to sleep earlier."
    assert job.topics == ["sleep before eleven"]
    instructions = build_instructions(job)
    assert "run 5k" in instructions and "Ada ran once" in instructions
    assert "sleep before eleven" in instructions


def test_the_room_metadata_participants_read_holds_nothing_private() -> None:
    job = AgentJob(
        call_id="c-1",
        workflow_id="call-c-1",
        user=JobUser(USER, "Ada", "Europe/London"),
        memory=["Ada's sister is in hospital"],
        due_commitments=[JobCommitment("k-1", "stop drinking on weekdays")],
        script="followup",
        last_call_summary="Ada was low.",
    )
    public = json.loads(room_metadata_for("c-1", job.to_json()))
    assert public == {"call_id": "c-1", "script": "followup"}
    assert json.loads(room_metadata_for("c-2", "not json")) == {"call_id": "c-2"}
