"""Every outcome and branch of CallWorkflow on the time-skipping server."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import pytest
import pytest_asyncio
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from callflow.models import Commitment, User
from callflow.ports import AgentWorkerReport, SlotRequest
from callflow.runtime import Ports, create_worker
from callflow.settings import Settings
from tests.workflows.fakes import (
    FakePhone,
    FakeRooms,
    MemoryAgentSlots,
    MemoryMemory,
    MemoryRecords,
    RecordingNotifier,
    ScriptedAnalyzer,
    turn,
)
from workflows.call import CallWorkflow
from workflows.messages import (
    AgentReady,
    AgentReport,
    CallInput,
    CallResult,
    CallStatus,
    CallTimings,
    CancelRequest,
    Declined,
    ParticipantEvent,
    PriceTable,
    RoomFinished,
    call_id_from_room,
    workflow_id_for,
)

USER = "user-1"
TIMINGS = CallTimings(
    join_timeout_s=45,
    max_attempts=3,
    retry_backoff_s=[120, 300],
    max_call_s=900,
    room_probe_interval_s=30,
    memory_budget_ms=400,
    ring_arm_s=1.0,  # an armed ring waits in real time, even on the time-skipping server
)


@dataclass
class Harness:
    env: WorkflowEnvironment
    records: MemoryRecords
    memory: MemoryMemory
    rooms: FakeRooms
    analyzer: ScriptedAnalyzer
    notifier: RecordingNotifier
    task_queue: str
    phone: FakePhone | None = None
    slots: MemoryAgentSlots | None = None

    async def run(
        self,
        actions: list[str],
        *,
        timings: CallTimings = TIMINGS,
        during: Callable[[WorkflowHandle[CallWorkflow, CallResult]], Awaitable[None]] | None = None,
        on_answer: Callable[[str, str], Awaitable[None]] | None = None,
        **input_fields: object,
    ) -> tuple[CallResult, CallStatus]:
        self.phone = FakePhone(self.env.client, actions, USER)
        self.phone.on_answer = on_answer
        ports = Ports(
            self.records,
            self.memory,
            self.phone,
            self.rooms,
            self.analyzer,
            self.notifier,
            slots=self.slots,
        )
        call_id = f"c-{uuid.uuid4().hex[:10]}"
        async with create_worker(self.env.client, ports, Settings(task_queue=self.task_queue)):
            handle = await self.env.client.start_workflow(
                CallWorkflow.run,
                CallInput(call_id=call_id, user_id=USER, timings=timings, **input_fields),  # type: ignore[arg-type]
                id=workflow_id_for(call_id),
                task_queue=self.task_queue,
            )
            if during is not None:
                await during(handle)
            result = await handle.result()
            # A query needs a worker, even on a finished workflow: ask before it stops.
            return result, await handle.query(CallWorkflow.status)


@pytest_asyncio.fixture(loop_scope="session")
async def h(time_env: WorkflowEnvironment) -> AsyncIterator[Harness]:
    records = MemoryRecords()
    await records.upsert_user(User(USER, "Ada", voip_token="ab" * 32))
    await records.upsert_commitments(
        [Commitment("cm-1", USER, "walk 10k steps daily", "2020-01-01")]
    )
    yield Harness(
        time_env,
        records,
        MemoryMemory(),
        FakeRooms(),
        ScriptedAnalyzer(),
        RecordingNotifier(),
        task_queue=f"tq-{uuid.uuid4().hex[:8]}",
    )


def stage_names(result: CallResult) -> list[str]:
    return [s.stage for s in result.stages]


async def test_join_on_first_attempt_completes_the_whole_pipeline(h: Harness) -> None:
    result, status = await h.run(["answer"])

    assert result.outcome == "completed"
    assert result.attempts == 1 and result.pushes_sent == 1
    assert result.ended_by == "room_finished"
    assert stage_names(result) == [
        "scheduled",
        "loading_user",
        "fetching_memory",
        "ringing",
        "awaiting_join",
        "in_call",
        "analyzing",
        "writing_memory",
        "saving_record",
        "notifying",
        "done",
    ]
    assert result.memory_written and result.record_saved and result.post_call_webhook_delivered
    push = h.phone.pushes[0]  # type: ignore[union-attr]
    assert push.payload["provider"] == "livekit"
    assert push.payload["room"] == f"callflow-{result.call_id}-a1"
    assert set(push.payload) >= {
        "call_id",
        "livekit_url",
        "room",
        "token",
        "caller_name",
        "expires_at",
    }
    record = h.records.calls[result.call_id]
    assert record.outcome == "completed" and record.summary == "2 turns"
    assert h.records.commitments["cm-1"].status == "kept"
    assert any(
        c.text == "run 5k" and c.source_call_id == result.call_id
        for c in h.records.commitments.values()
    )
    assert h.memory.items[result.call_id][0] == USER
    assert [e.outcome for e in h.notifier.events] == ["completed"]
    assert h.rooms.dispatched == [f"callflow-{result.call_id}-a1"]
    assert status.stage == "done" and status.outcome == "completed"


@pytest.mark.parametrize(
    ("action", "outcome", "reason"),
    [
        ("answer_no_agent", "no_agent", "no agent greeted"),
        ("answer_silent", "no_conversation", "the user said nothing"),
    ],
)
async def test_an_answered_call_without_a_conversation_is_not_completed(
    h: Harness, action: str, outcome: str, reason: str
) -> None:
    result, status = await h.run([action])

    assert result.outcome == outcome and status.outcome == outcome
    assert reason in (result.failure_reason or "")
    assert result.attempts == 1 and result.pushes_sent == 1
    # Nothing to analyse: no analysis, no memory, and the due commitment stays open and due.
    assert "analyzing" not in stage_names(result) and "writing_memory" not in stage_names(result)
    assert h.analyzer.seen_transcripts == []
    assert h.records.commitments["cm-1"].status == "open"
    record = h.records.calls[result.call_id]
    assert record.outcome == outcome and reason in (record.failure_reason or "")
    assert [e.outcome for e in h.notifier.events] == [outcome]


async def test_join_on_third_attempt_after_two_timeouts_uses_the_backoff(h: Harness) -> None:
    result, _ = await h.run(["ignore", "ignore", "answer"])

    assert result.outcome == "completed" and result.attempts == 3
    assert len(h.phone.pushes) == 3  # type: ignore[union-attr]
    rooms = [p.payload["room"] for p in h.phone.pushes]  # type: ignore[union-attr]
    assert rooms == [f"callflow-{result.call_id}-a{n}" for n in (1, 2, 3)]
    # the unanswered rooms were closed
    assert set(rooms[:2]) <= set(h.rooms.deleted)
    at = {(m.stage, i): datetime.fromisoformat(m.at) for i, m in enumerate(result.stages)}
    rings = sorted(t for (stage, _), t in at.items() if stage == "ringing")
    # join timeout + back-off between rings: 45 s + 120 s, then 45 s + 300 s
    assert (rings[1] - rings[0]) >= timedelta(seconds=165)
    assert (rings[1] - rings[0]) < timedelta(seconds=175)
    assert (rings[2] - rings[1]) >= timedelta(seconds=345)
    assert (rings[2] - rings[1]) < timedelta(seconds=355)


async def test_missed_after_n_attempts_sends_exactly_n_pushes(h: Harness) -> None:
    result, _ = await h.run(["ignore"])

    assert result.outcome == "missed"
    assert result.pushes_sent == 3 and len(h.phone.pushes) == 3  # type: ignore[union-attr]
    assert h.records.calls[result.call_id].outcome == "missed"
    assert "analyzing" not in stage_names(result)
    assert h.memory.writes == 0
    assert [e.outcome for e in h.notifier.events] == ["missed"]


async def test_declined_stops_ringing(h: Harness) -> None:
    result, _ = await h.run(["decline", "answer"])

    assert result.outcome == "declined"
    assert len(h.phone.pushes) == 1  # type: ignore[union-attr]
    assert result.failure_reason == "declined on CallKit"
    assert h.rooms.deleted == [f"callflow-{result.call_id}-a1"]
    assert h.records.calls[result.call_id].outcome == "declined"


async def test_unreachable_on_apns_410_pushes_once_and_never_retries(h: Harness) -> None:
    result, _ = await h.run(["unreachable"])

    assert result.outcome == "unreachable"
    assert result.pushes_sent == 0 and result.attempts == 1
    assert "device unreachable" in (result.failure_reason or "")
    assert h.records.calls[result.call_id].outcome == "unreachable"


async def test_apns_throttling_is_retried_and_rings_once(h: Harness) -> None:
    result, _ = await h.run(["busy", "answer"])

    assert result.outcome == "completed"
    assert len(h.phone.pushes) == 1  # type: ignore[union-attr]


async def test_user_without_push_token_is_unreachable(h: Harness) -> None:
    await h.records.upsert_user(User(USER, "Ada", voip_token=None))
    result, _ = await h.run(["answer"])
    assert result.outcome == "unreachable" and result.pushes_sent == 0


async def test_unknown_user_fails_with_reason(h: Harness) -> None:
    h.records.users.clear()
    result, _ = await h.run(["answer"])
    assert result.outcome == "failed"
    assert "user_id='user-1'" in (result.failure_reason or "")
    assert h.records.calls[result.call_id].outcome == "failed"


async def test_cancel_via_update_while_awaiting_join(h: Harness) -> None:
    async def cancel(handle: WorkflowHandle[CallWorkflow, CallResult]) -> None:
        while (await handle.query(CallWorkflow.status)).stage != "awaiting_join":
            await asyncio.sleep(0.02)
        with pytest.raises(WorkflowUpdateFailedError):
            await handle.execute_update(CallWorkflow.cancel, CancelRequest(reason="  "))
        accepted = await handle.execute_update(
            CallWorkflow.cancel, CancelRequest(reason="user asked to stop")
        )
        assert accepted.call_id in handle.id

    result, status = await h.run(["ignore"], during=cancel)

    assert result.outcome == "cancelled"
    assert result.failure_reason == "cancelled: user asked to stop"
    assert status.outcome == "cancelled"
    assert h.records.calls[result.call_id].outcome == "cancelled"
    # the room of the ringing attempt was closed so the agent leaves
    assert h.rooms.deleted == [f"callflow-{result.call_id}-a1"]


async def test_memory_outage_goes_on_and_the_record_says_degraded(h: Harness) -> None:
    h.memory.fail_search = True
    result, _ = await h.run(["answer"])

    assert result.outcome == "completed"
    assert result.memory_degraded
    assert h.records.calls[result.call_id].memory_degraded is True


async def test_slow_memory_beyond_the_budget_degrades(h: Harness) -> None:
    h.memory.search_delay_s = 1.0
    result, _ = await h.run(["answer"])
    assert result.outcome == "completed" and result.memory_degraded


async def test_a_call_prepared_ahead_waits_for_slow_memory(h: Harness) -> None:
    # Nobody waits on a call that is not due yet: its fetch may take longer than the budget.
    h.memory.search_delay_s = 1.0
    due = await h.env.get_current_time() + timedelta(hours=1)
    result, _ = await h.run(["answer"], scheduled_for=due.isoformat())
    assert result.outcome == "completed" and not result.memory_degraded


async def test_a_prepared_ahead_fetch_is_one_try_that_may_take_its_window(h: Harness) -> None:
    # In a start burst a fetch waits behind the others; one try may take the prep window
    # (min(due - 5 s, 30 s)) rather than being timed out and redone.
    h.memory.search_delay_s = 6.0
    due = await h.env.get_current_time() + timedelta(hours=1)
    result, _ = await h.run(["answer"], scheduled_for=due.isoformat())
    assert result.outcome == "completed" and not result.memory_degraded
    assert h.memory.searches == 1  # one try, not redone


async def test_missing_room_finished_is_ended_by_the_room_probe(h: Harness) -> None:
    probes = 0

    def gone_after_two(room: str) -> bool:
        nonlocal probes
        probes += 1
        return probes < 3

    h.rooms.probe_exists = gone_after_two
    result, _ = await h.run(["answer_no_finish"])

    assert result.outcome == "completed" and result.ended_by == "probe"
    assert len(h.rooms.probes) == 3


async def test_missing_room_finished_with_a_live_room_hits_the_hard_cap(h: Harness) -> None:
    result, _ = await h.run(["answer_no_finish"])

    assert result.outcome == "completed" and result.ended_by == "hard_cap"
    in_call = next(m for m in result.stages if m.stage == "in_call")
    analyzing = next(m for m in result.stages if m.stage == "analyzing")
    took = datetime.fromisoformat(analyzing.at) - datetime.fromisoformat(in_call.at)
    assert timedelta(seconds=900) <= took < timedelta(seconds=960)
    assert f"callflow-{result.call_id}-a1" in h.rooms.deleted


async def test_duplicate_and_out_of_order_messages_change_nothing(h: Harness) -> None:
    async def noisy_phone(call_id: str, room: str) -> None:
        handle = h.env.client.get_workflow_handle(workflow_id_for(call_id))
        # turns arrive out of order and twice; a stale room's join is ignored
        for t in (turn(2, "user", "I did walk."), turn(1, "agent", "Did you walk?")):
            await handle.signal("transcript_turn", t)
            await handle.signal("transcript_turn", t)
        await handle.signal("participant_joined", ParticipantEvent(f"join-{room}", room, USER))
        await handle.signal("declined", Declined("late-decline-from-old-push"))
        await handle.signal("agent_ready", AgentReady("ready", room, 420.0))
        await handle.signal("agent_ready", AgentReady("ready-2", room, 9999.0))
        report = AgentReport(
            "report", stt_seconds=60, llm_prompt_tokens=1000, tools_called=["battery_level"]
        )
        await handle.signal("agent_report", report)
        await handle.signal("agent_report", report)
        await handle.signal("room_finished", RoomFinished("fin-early", room))

    result, _ = await h.run(
        ["answer"],
        on_answer=noisy_phone,
        prices=PriceTable(stt_per_minute=0.01, llm_per_1k_prompt_tokens=0.001),
    )

    # a decline after the phone joined does not undo the join
    assert result.outcome == "completed"
    assert result.transcript_turns == 2
    assert h.analyzer.seen_transcripts[-1] == [
        {"role": "agent", "text": "Did you walk?"},
        {"role": "user", "text": "I did walk."},
    ]
    assert result.agent_first_audio_ms == 420.0
    assert result.tools_called == ["battery_level"]
    assert result.cost_usd == pytest.approx(0.011, abs=1e-6)
    record = h.records.calls[result.call_id]
    assert [t.text for t in record.transcript] == ["Did you walk?", "I did walk."]
    assert record.latency["first_audio_ms"] == 420.0
    # Saved once, then once more with the webhook's result; the duplicates wrote nothing.
    assert record.webhook_delivered is True
    assert h.records.save_count == 2 and h.memory.writes == 1


async def test_scheduled_call_prepares_then_sleeps_until_due(h: Harness) -> None:
    due = await h.env.get_current_time() + timedelta(hours=2)
    result, _ = await h.run(["answer"], scheduled_for=due.isoformat())

    stages = {m.stage: datetime.fromisoformat(m.at) for m in result.stages}
    assert "waiting_due" in stages
    assert stages["fetching_memory"] < stages["waiting_due"] < stages["ringing"]
    assert stages["ringing"] >= due - timedelta(seconds=1)


async def test_an_armed_ring_is_started_ahead_and_needs_no_timer_at_the_due_time(
    h: Harness,
) -> None:
    due = await h.env.get_current_time() + timedelta(hours=2)
    handles: list[WorkflowHandle[CallWorkflow, CallResult]] = []

    async def keep(handle: WorkflowHandle[CallWorkflow, CallResult]) -> None:
        handles.append(handle)

    result, _ = await h.run(["answer"], scheduled_for=due.isoformat(), during=keep)

    events = list((await handles[0].fetch_history()).events)
    ring = next(
        e
        for e in events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
        and e.activity_task_scheduled_event_attributes.activity_type.name == "ring"
    )
    done = next(
        e
        for e in events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED
        and e.activity_task_completed_event_attributes.scheduled_event_id == ring.event_id
    )
    assert ring.event_time.ToDatetime(tzinfo=UTC) < due  # armed ahead of the due time
    # Until the push (the phone's join signal is its echo) the history has no new event: the
    # due second needed no timer and no workflow task.
    answered = next(
        e.event_id
        for e in events
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED
        and e.event_id > ring.event_id
    )
    assert answered < done.event_id
    between = [e.event_type for e in events if ring.event_id < e.event_id < answered]
    assert EventType.EVENT_TYPE_TIMER_FIRED not in between
    assert EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED not in between
    rang = {m.stage: datetime.fromisoformat(m.at) for m in result.stages}["ringing"]
    assert rang >= due - timedelta(milliseconds=100)
    assert result.outcome == "completed" and result.pushes_sent == 1


async def test_cancel_while_armed_withholds_the_push(h: Harness) -> None:
    # Due within the arming window: the ring is armed as soon as the call is prepared (time is
    # not skipped while the test waits for that, so the due time is seconds away).
    due = await h.env.get_current_time() + timedelta(seconds=6)

    async def cancel_once_armed(handle: WorkflowHandle[CallWorkflow, CallResult]) -> None:
        while True:
            pending = (await handle.describe()).raw_description.pending_activities
            if any(a.activity_type.name == "ring" for a in pending):
                break
            await asyncio.sleep(0.05)
        await handle.execute_update(CallWorkflow.cancel, CancelRequest("user paused calls"))

    result, status = await h.run(
        ["answer"],
        timings=replace(TIMINGS, ring_arm_s=10.0),
        scheduled_for=due.isoformat(),
        during=cancel_once_armed,
    )

    assert result.outcome == "cancelled"
    assert "user paused calls" in (result.failure_reason or "")
    assert h.phone is not None and h.phone.pushes == []  # the phone never rang
    assert result.pushes_sent == 0
    assert h.records.pushes[(result.call_id, 1)] == "withheld"
    room = f"callflow-{result.call_id}-a1"
    assert room in h.rooms.created and room in h.rooms.deleted  # the armed room is closed
    assert h.records.calls[result.call_id].outcome == "cancelled"
    assert status.stage == "done"


async def test_cancel_from_temporal_still_closes_records_and_notifies(h: Harness) -> None:
    async def cancel(handle: WorkflowHandle[CallWorkflow, CallResult]) -> None:
        while (await handle.query(CallWorkflow.status)).stage != "awaiting_join":
            await asyncio.sleep(0.02)
        await handle.cancel()

    result, _ = await h.run(["ignore"], during=cancel)

    assert result.outcome == "cancelled"
    assert "Temporal" in (result.failure_reason or "")
    assert h.rooms.deleted == [f"callflow-{result.call_id}-a1"]
    assert h.records.calls[result.call_id].outcome == "cancelled"
    assert [e.outcome for e in h.notifier.events] == ["cancelled"]


async def _quiet_now(h: Harness, *, starts_ago_min: int, ends_in_min: int) -> datetime:
    """Give the user quiet hours around the test server's current time; return their end."""
    now = await h.env.get_current_time()
    start, end = now - timedelta(minutes=starts_ago_min), now + timedelta(minutes=ends_in_min)
    user = h.records.users[USER]
    h.records.users[USER] = replace(user, timezone="UTC", quiet_hours=f"{start:%H:%M}-{end:%H:%M}")
    return end.replace(second=0, microsecond=0)


async def test_an_on_demand_call_in_quiet_hours_waits_for_their_end(h: Harness) -> None:
    end = await _quiet_now(h, starts_ago_min=30, ends_in_min=90)

    result, status = await h.run(["answer"])

    assert result.outcome == "completed" and result.pushes_sent == 1
    waited = next(m for m in result.stages if m.stage == "waiting_quiet_hours")
    ringing = next(m for m in result.stages if m.stage == "ringing")
    assert datetime.fromisoformat(waited.at) < end <= datetime.fromisoformat(ringing.at)
    assert "waiting_quiet_hours" in [s["stage"] for s in h.records.calls[result.call_id].stages]
    assert status.quiet_hours_until is None  # no longer waiting


async def test_with_the_skip_policy_a_call_in_quiet_hours_never_rings(h: Harness) -> None:
    await _quiet_now(h, starts_ago_min=30, ends_in_min=90)

    result, _ = await h.run(["answer"], quiet_hours_policy="skip")

    assert result.outcome == "skipped" and result.pushes_sent == 0
    assert "quiet hours" in (result.failure_reason or "")
    assert h.phone is not None and h.phone.pushes == []
    assert h.records.calls[result.call_id].outcome == "skipped"
    assert [e.outcome for e in h.notifier.events] == ["skipped"]


async def test_a_redial_that_would_fall_in_quiet_hours_waits_for_their_end(h: Harness) -> None:
    # Quiet hours start a minute from now: the first ring goes out, and the redial (after the
    # 45 s join timeout and the 120 s back-off) would fall inside them.
    now = await h.env.get_current_time()
    start, end = now + timedelta(seconds=60), now + timedelta(minutes=60)
    user = h.records.users[USER]
    h.records.users[USER] = replace(user, timezone="UTC", quiet_hours=f"{start:%H:%M}-{end:%H:%M}")

    result, _ = await h.run(["ignore", "answer"])

    assert result.outcome == "completed" and result.attempts == 2
    names = stage_names(result)
    assert names.index("backing_off") < names.index("waiting_quiet_hours")
    second_ring = [m for m in result.stages if m.stage == "ringing"][1]
    assert datetime.fromisoformat(second_ring.at) >= end.replace(second=0, microsecond=0)


# Agent slots off (a stack without agents): the push goes out with the dispatch, and the
# workflow watches for the agent afterwards.
WATCHED = replace(TIMINGS, agent_join_timeout_s=5.0)


async def test_slots_off_an_agent_that_never_joins_is_dispatched_again_then_the_call_ends(
    h: Harness,
) -> None:
    async def no_agent_comes(call_id: str, room: str) -> None:
        pass  # the phone is in the room; nobody else ever joins

    result, _ = await h.run(["answer_no_finish"], timings=WATCHED, on_answer=no_agent_comes)

    room = f"callflow-{result.call_id}-a1"
    assert result.outcome == "no_agent" and result.agent_redispatches == 1
    assert "no agent joined" in (result.failure_reason or "")
    assert h.rooms.dispatches == [room, room]  # the ring's dispatch and one more
    assert room in h.rooms.deleted  # the user is not left in a silent room
    record = h.records.calls[result.call_id]
    assert record.outcome == "no_agent" and record.agent_redispatches == 1


async def test_slots_off_an_agent_on_the_second_dispatch_takes_the_call(h: Harness) -> None:
    async def agent_on_second_dispatch(room: str, nth: int) -> None:
        if nth < 2:
            return  # the first dispatched agent never shows up
        call_id = call_id_from_room(room)
        assert call_id is not None
        handle = h.env.client.get_workflow_handle(workflow_id_for(call_id))
        await handle.signal("agent_ready", AgentReady("ready", room, 350.0))
        await handle.signal("transcript_turn", turn(1, "agent", "Hi, did you run?"))
        await handle.signal("transcript_turn", turn(2, "user", "I did."))
        await handle.signal("room_finished", RoomFinished("fin", room))

    async def phone_only(call_id: str, room: str) -> None:
        pass

    h.rooms.on_dispatch = agent_on_second_dispatch
    result, _ = await h.run(["answer_no_finish"], timings=WATCHED, on_answer=phone_only)

    assert result.outcome == "completed" and result.agent_redispatches == 1
    assert h.records.calls[result.call_id].agent_redispatches == 1


async def test_slots_off_an_agent_in_the_room_in_time_is_not_dispatched_again(h: Harness) -> None:
    result, _ = await h.run(["answer"], timings=WATCHED)

    assert result.outcome == "completed" and result.agent_redispatches == 0
    assert h.rooms.dispatches == [f"callflow-{result.call_id}-a1"]


# The ring waits for the agent in real time (an activity), even on the time-skipping server.
PRESENCE = replace(TIMINGS, agent_join_timeout_s=1.0)


async def _agent_first(
    h: Harness,
    actions: list[str],
    during: Callable[[WorkflowHandle[CallWorkflow, CallResult]], Awaitable[None]] | None = None,
) -> CallResult:
    """A call with agent slots on (production): its ring waits for the agent."""
    h.slots = await _pool(capacity=2)
    result, _ = await h.run(actions, timings=PRESENCE, during=during, agent_slots=True)
    return result


async def test_an_agent_that_never_joins_is_dispatched_again_and_the_phone_is_never_rung(
    h: Harness,
) -> None:
    h.rooms.agent_in_room = lambda room, dispatches: False  # no agent ever comes

    result = await _agent_first(h, ["answer"])

    room = f"callflow-{result.call_id}-a1"
    assert result.outcome == "no_agent" and result.agent_redispatches == 1
    assert "no agent joined" in (result.failure_reason or "")
    assert "the phone was not rung" in (result.failure_reason or "")
    assert h.phone is not None and h.phone.pushes == [] and result.pushes_sent == 0
    assert h.rooms.dispatches == [room, room] and h.rooms.redispatches == [room]
    assert room in h.rooms.deleted  # the agent, should it come late, finds no room
    record = h.records.calls[result.call_id]
    assert record.outcome == "no_agent" and record.agent_redispatches == 1
    assert [e.outcome for e in h.notifier.events] == ["no_agent"]


async def test_an_agent_that_joins_on_the_second_dispatch_takes_the_call(h: Harness) -> None:
    h.rooms.agent_in_room = lambda room, dispatches: dispatches >= 2

    result = await _agent_first(h, ["answer"])

    assert result.outcome == "completed" and result.agent_redispatches == 1
    assert h.phone is not None and len(h.phone.pushes) == 1
    assert h.records.calls[result.call_id].agent_redispatches == 1


async def test_an_agent_in_the_room_in_time_is_not_dispatched_again(h: Harness) -> None:
    result = await _agent_first(h, ["answer"])

    room = f"callflow-{result.call_id}-a1"
    assert result.outcome == "completed" and result.agent_redispatches == 0
    assert h.rooms.dispatches == [room]
    # The ring looked for the agent before it pushed.
    assert h.rooms.agent_looks and h.rooms.agent_looks[0] == room


async def test_a_call_cancelled_while_its_ring_waits_for_the_agent_rings_no_phone(
    h: Harness,
) -> None:
    h.rooms.agent_in_room = lambda room, dispatches: False

    async def cancel_while_waiting(handle: WorkflowHandle[CallWorkflow, CallResult]) -> None:
        while not h.rooms.agent_looks:
            await asyncio.sleep(0.05)
        await handle.execute_update(CallWorkflow.cancel, CancelRequest(reason="user asked"))

    result = await _agent_first(h, ["answer"], during=cancel_while_waiting)

    assert result.outcome == "cancelled"
    assert h.phone is not None and h.phone.pushes == []
    assert f"callflow-{result.call_id}-a1" in h.rooms.deleted


SLOTTED = replace(TIMINGS, max_attempts=1, agent_max_wait_s=3.0)


async def _pool(capacity: int) -> MemoryAgentSlots:
    slots = MemoryAgentSlots()
    if capacity:
        await slots.report_worker(AgentWorkerReport("agent-1", capacity), ttl_s=3600)
    return slots


@pytest.mark.parametrize(
    ("actions", "outcome"),
    [
        (["answer"], "completed"),
        (["answer_no_agent"], "no_agent"),
        (["decline"], "declined"),
        (["ignore"], "missed"),
        (["unreachable"], "unreachable"),
    ],
)
async def test_a_slot_is_held_for_the_ring_and_freed_on_every_outcome(
    h: Harness, actions: list[str], outcome: str
) -> None:
    h.slots = await _pool(capacity=2)

    result, _ = await h.run(actions, timings=SLOTTED, agent_slots=True)

    assert result.outcome == outcome
    assert [r.call_id for r in h.slots.acquires][:1] == [result.call_id]
    assert result.call_id in h.slots.releases
    assert h.slots.held() == [] and h.slots.waiting() == []


async def test_a_slot_held_for_an_agent_that_never_comes_is_freed_and_no_phone_rung(
    h: Harness,
) -> None:
    h.slots = await _pool(capacity=1)
    h.rooms.agent_in_room = lambda room, dispatches: False

    result, _ = await h.run(
        ["answer"], timings=replace(SLOTTED, agent_join_timeout_s=0.5), agent_slots=True
    )

    assert result.outcome == "no_agent" and result.agent_redispatches == 1
    assert h.phone is not None and h.phone.pushes == []
    assert [r.call_id for r in h.slots.acquires] == [result.call_id]
    assert result.call_id in h.slots.releases and h.slots.held() == []


async def test_no_phone_is_rung_without_a_slot_and_the_call_ends_no_capacity(h: Harness) -> None:
    h.slots = await _pool(capacity=0)  # no agent worker has reported

    result, _ = await h.run(["answer"], timings=SLOTTED, agent_slots=True)

    assert result.outcome == "no_capacity"
    assert "no agent slot came free within 3 s" in (result.failure_reason or "")
    assert h.phone is not None and h.phone.pushes == []  # never rung
    assert h.rooms.created == []
    assert h.records.calls[result.call_id].outcome == "no_capacity"
    assert h.slots.waiting() == []  # its place is given up


async def test_a_call_beyond_capacity_waits_and_rings_once_a_slot_frees(h: Harness) -> None:
    h.slots = await _pool(capacity=1)
    busy = SlotRequest("other-call", "other-user", "2020-01-01T00:00:00+00:00", 600.0)
    assert (await h.slots.acquire(busy)).granted

    async def free_the_slot_soon(handle: WorkflowHandle[CallWorkflow, CallResult]) -> None:
        await asyncio.sleep(1.2)
        await h.slots.release("other-call")

    result, _ = await h.run(
        ["answer"], timings=SLOTTED, agent_slots=True, during=free_the_slot_soon
    )

    assert result.outcome == "completed" and result.pushes_sent == 1
    assert result.wait_for_agent_ms is not None and result.wait_for_agent_ms >= 1000
    assert h.records.calls[result.call_id].latency["wait_for_agent_ms"] >= 1000
    names = stage_names(result)
    assert names.index("waiting_for_agent") < names.index("ringing")
