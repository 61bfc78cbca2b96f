"""The error contract on the time-skipping server: an adapter error whose class says
`retryable = False` ends its activity after one attempt, whatever the step's retry policy; a
retryable one is retried. Counted twice: the adapter's calls, and the attempt Temporal recorded.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
import pytest_asyncio
from temporalio.api.enums.v1 import EventType
from temporalio.api.failure.v1 import Failure
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from callflow.analysis.errors import AnalysisInvalid, AnalysisRejected, AnalysisUnavailable
from callflow.memory.errors import InvalidMemory, MemoryAuthError, MemoryUnavailable
from callflow.models import CallRecord, Commitment, MemoryItem, User
from callflow.ports import CallAnalysis
from callflow.records.errors import InvalidRecord, RecordsAuthError, RecordsUnavailable
from callflow.rooms.errors import RoomsRejected
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
from workflows.call import CallWorkflow
from workflows.messages import CallInput, CallResult, CallTimings, workflow_id_for

USER = "user-errors"
TIMINGS = CallTimings(
    join_timeout_s=45,
    max_attempts=1,
    retry_backoff_s=[],
    max_call_s=900,
    room_probe_interval_s=30,
    memory_budget_ms=400,
    ring_arm_s=1.0,
)


class Script:
    """Which adapter methods fail, with what, how many times; and how often each was called."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self._failures: dict[str, tuple[type[Exception], int | None]] = {}

    def fail(self, method: str, error: type[Exception], times: int | None = None) -> None:
        """`method` raises `error` on its first `times` calls (None: on every call)."""
        self._failures[method] = (error, times)

    def call(self, method: str) -> None:
        self.calls[method] += 1
        if method in self._failures:
            error, times = self._failures[method]
            if times is None or self.calls[method] <= times:
                raise error(f"scripted {error.__name__} from {method}")


class ScriptedRecords(MemoryRecords):
    def __init__(self, script: Script) -> None:
        super().__init__()
        self.script = script

    async def get_user(self, user_id: str) -> User | None:
        self.script.call("get_user")
        return await super().get_user(user_id)

    async def save_call(self, record: CallRecord) -> None:
        self.script.call("save_call")
        await super().save_call(record)


class ScriptedMemory(MemoryMemory):
    def __init__(self, script: Script) -> None:
        super().__init__()
        self.script = script

    async def search(self, user_id: str, query: str, limit: int = 5) -> list[MemoryItem]:
        self.script.call("search")
        return await super().search(user_id, query, limit)

    async def write(
        self, user_id: str, call_id: str, content: str, metadata: dict[str, str]
    ) -> None:
        self.script.call("write")
        await super().write(user_id, call_id, content, metadata)


class ScriptedAnalysis(ScriptedAnalyzer):
    def __init__(self, script: Script) -> None:
        super().__init__()
        self.script = script

    async def analyze(
        self,
        transcript: list[dict[str, str]],
        due_commitments: list[Commitment],
        *,
        local_date: str | None = None,
        timezone: str = "UTC",
        default_due_date: str | None = None,
    ) -> CallAnalysis:
        self.script.call("analyze")
        return await super().analyze(transcript, due_commitments)


@dataclass
class ScriptedRooms(FakeRooms):
    script: Script = field(default_factory=Script)

    async def create_room(self, room: str, metadata: str, empty_timeout_s: int) -> None:
        self.script.call("create_room")
        await super().create_room(room, metadata, empty_timeout_s)


@dataclass
class Attempts:
    """What Temporal recorded about one activity: its last attempt and how it ended."""

    attempt: int
    failure: Failure | None


@dataclass
class Call:
    env: WorkflowEnvironment
    script: Script
    records: ScriptedRecords
    task_queue: str

    async def run(
        self, *, prepared_ahead: bool = False, phone: str = "answer"
    ) -> tuple[CallResult, WorkflowHandle[CallWorkflow, CallResult]]:
        ports = Ports(
            self.records,
            ScriptedMemory(self.script),
            FakePhone(self.env.client, [phone], USER),
            ScriptedRooms(script=self.script),
            ScriptedAnalysis(self.script),
            RecordingNotifier(),
        )
        call_id = f"c-{uuid.uuid4().hex[:10]}"
        extra: dict[str, object] = {}
        if prepared_ahead:  # the memory fetch may retry within its prep window
            due = await self.env.get_current_time() + timedelta(hours=1)
            extra["scheduled_for"] = due.isoformat()
        async with create_worker(self.env.client, ports, Settings(task_queue=self.task_queue)):
            handle = await self.env.client.start_workflow(
                CallWorkflow.run,
                CallInput(call_id=call_id, user_id=USER, timings=TIMINGS, **extra),  # type: ignore[arg-type]
                id=workflow_id_for(call_id),
                task_queue=self.task_queue,
            )
            return await handle.result(), handle


async def attempts_of(handle: WorkflowHandle[CallWorkflow, CallResult], activity: str) -> Attempts:
    """The attempt count and failure Temporal recorded for the one run of `activity`."""
    scheduled: int | None = None
    attempt = 0
    failure: Failure | None = None
    async for event in handle.fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            attrs = event.activity_task_scheduled_event_attributes
            if attrs.activity_type.name == activity:
                assert scheduled is None, f"{activity} was scheduled twice"
                scheduled = event.event_id
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            started = event.activity_task_started_event_attributes
            if started.scheduled_event_id == scheduled:
                attempt = started.attempt
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED:
            failed = event.activity_task_failed_event_attributes
            if failed.scheduled_event_id == scheduled:
                failure = failed.failure
    assert scheduled is not None, f"{activity} was never scheduled"
    return Attempts(attempt, failure)


@pytest_asyncio.fixture(loop_scope="session")
async def call(time_env: WorkflowEnvironment) -> AsyncIterator[Call]:
    script = Script()
    records = ScriptedRecords(script)
    await records.upsert_user(User(USER, "Ada", voip_token="ab" * 32))
    await records.upsert_commitments([Commitment("cm-1", USER, "walk daily", "2020-01-01")])
    yield Call(time_env, script, records, task_queue=f"tq-{uuid.uuid4().hex[:8]}")


@dataclass(frozen=True)
class Step:
    """One activity and the adapter method behind it."""

    activity: str
    method: str
    prepared_ahead: bool = False  # the memory fetch only retries when the call is not due yet


LOAD = Step("load_call_context", "get_user")
FETCH = Step("fetch_memory", "search", prepared_ahead=True)
ANALYZE = Step("analyze_call", "analyze")
WRITE = Step("write_memory", "write")
SAVE = Step("save_call_record", "save_call")
RING = Step("ring", "create_room")

NON_RETRYABLE = [
    pytest.param(SAVE, InvalidRecord, id="invalid-record"),
    pytest.param(SAVE, RecordsAuthError, id="records-auth-on-save"),
    pytest.param(LOAD, RecordsAuthError, id="records-auth-on-load"),
    pytest.param(WRITE, InvalidMemory, id="invalid-memory"),
    pytest.param(WRITE, MemoryAuthError, id="memory-auth-on-write"),
    pytest.param(FETCH, MemoryAuthError, id="memory-auth-on-fetch"),
    pytest.param(ANALYZE, AnalysisRejected, id="analysis-rejected"),
]


@pytest.mark.parametrize(("step", "error"), NON_RETRYABLE)
async def test_a_non_retryable_adapter_error_ends_its_activity_after_one_attempt(
    call: Call, step: Step, error: type[Exception]
) -> None:
    call.script.fail(step.method, error)

    result, handle = await call.run(prepared_ahead=step.prepared_ahead)

    assert call.script.calls[step.method] == 1
    recorded = await attempts_of(handle, step.activity)
    assert recorded.attempt == 1
    assert recorded.failure is not None
    info = recorded.failure.application_failure_info
    assert info.type == error.__name__ and info.non_retryable
    assert recorded.failure.message == f"scripted {error.__name__} from {step.method}"
    assert recorded.failure.cause.application_failure_info.type == error.__name__  # chained
    if step is LOAD:
        assert result.outcome == "failed"
    else:
        assert result.outcome == "completed"  # a post-call step failing does not fail the call


RETRYABLE = [
    pytest.param(SAVE, RecordsUnavailable, id="records-unavailable-on-save"),
    pytest.param(LOAD, RecordsUnavailable, id="records-unavailable-on-load"),
    pytest.param(WRITE, MemoryUnavailable, id="memory-unavailable-on-write"),
    pytest.param(FETCH, MemoryUnavailable, id="memory-unavailable-on-fetch"),
    pytest.param(ANALYZE, AnalysisUnavailable, id="analysis-unavailable"),
    pytest.param(ANALYZE, AnalysisInvalid, id="analysis-invalid"),
]


@pytest.mark.parametrize(("step", "error"), RETRYABLE)
async def test_a_retryable_adapter_error_is_retried(
    call: Call, step: Step, error: type[Exception]
) -> None:
    call.script.fail(step.method, error, times=2)

    result, handle = await call.run(prepared_ahead=step.prepared_ahead)

    # Two failures, then the retry that works; a saved record is written once more with the
    # post-call webhook's result.
    assert call.script.calls[step.method] == 3 + (1 if step is SAVE else 0)
    recorded = await attempts_of(handle, step.activity)
    assert recorded.attempt == 3 and recorded.failure is None
    assert result.outcome == "completed"
    assert result.record_saved and result.memory_written and not result.memory_degraded


async def test_livekit_refusing_a_room_keeps_the_type_the_workflow_has_always_seen(
    call: Call,
) -> None:
    call.script.fail("create_room", RoomsRejected)

    result, handle = await call.run()

    assert result.outcome == "failed"
    assert call.script.calls["create_room"] == 1
    recorded = await attempts_of(handle, RING.activity)
    assert recorded.attempt == 1 and recorded.failure is not None
    info = recorded.failure.application_failure_info
    assert info.type == "RoomRejected" and info.non_retryable


async def test_an_unreachable_device_is_one_attempt_and_the_unreachable_outcome(
    call: Call,
) -> None:
    result, handle = await call.run(phone="unreachable")

    assert result.outcome == "unreachable"
    recorded = await attempts_of(handle, RING.activity)
    assert recorded.attempt == 1 and recorded.failure is not None
    info = recorded.failure.application_failure_info
    assert info.type == "DeviceUnreachable" and info.non_retryable
