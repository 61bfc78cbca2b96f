"""`CallWorkflow`: one accountability call as one durable workflow (docs/architecture.md).

Signal handlers only record what arrived (deduplicated by `event_id`); `run()` waits on
conditions over that state, so the order in which messages arrive never matters.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeUpdate
from temporalio.exceptions import ActivityError, ApplicationError, CancelledError, RetryState
from temporalio.exceptions import TimeoutError as ActivityTimeout
from temporalio.workflow import ActivityCancellationType

with workflow.unsafe.imports_passed_through():
    from activities.analysis import AnalysisActivities, AnalyzeInput, NotifyActivities
    from activities.errors import DEVICE_UNREACHABLE
    from activities.memory import FetchMemoryInput, MemoryActivities, WriteMemoryInput
    from activities.records import (
        CallContext,
        LoadContextInput,
        RecordsActivities,
        SaveRecordInput,
        WebhookResultInput,
    )
    from activities.ring import RingActivities, RingInput, RingOutput, WithholdInput
    from activities.rooms import DispatchInput, RoomActivities, RoomRef
    from activities.slots import HoldSlotInput, ReleaseSlotInput, SlotActivities
    from callflow.models import CallRecord, MemoryItem, Outcome, Recording, User
    from callflow.ports import CallAnalysis
    from callflow.records.errors import RecordsUnavailable
    from callflow.schedules.dst import SCHEDULE_MEMO_KEY, due_for_firing, is_calendar_firing
    from workflows.agent_job import AgentJob, agent_job_for
    from workflows.call_record import (
        analysis_transcript,
        build_call_record,
        memory_note,
        post_call_event,
        with_stages,
    )
    from workflows.call_windows import next_call_date, quiet_hours_end
    from workflows.messages import (
        CALL_ATTEMPT,
        CALL_OUTCOME,
        CALL_STAGE,
        CALL_USER_ID,
        CANCEL_UPDATE,
        SCHEDULED_START,
        STATUS_QUERY,
        WORKFLOW_ID_PREFIX,
        WORKFLOW_TYPE,
        AgentReady,
        AgentReport,
        CallInput,
        CallResult,
        CallStatus,
        CancelAccepted,
        CancelRequest,
        Declined,
        ParticipantEvent,
        RecordingFinished,
        RoomFinished,
        SignalName,
        Stage,
        StageMark,
        TranscriptTurnSignal,
        room_name_for,
    )

InT = TypeVar("InT")
OutT = TypeVar("OutT")

# No policy names error types: a permanent failure reaches Temporal marked non-retryable
# (activities/error_edge.py), so it ends its activity after one attempt under any policy.
# Quick steps on the ring path: short timeouts, a few fast retries.
QUICK_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=5),
    maximum_attempts=5,
)
# After the call: keep trying for long, so no record, memory or webhook is lost to an outage.
DURABLE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=1),
)
# The post-call phase survives an outage of up to this long before giving up on a step.
DURABLE_WINDOW = timedelta(hours=1)
# The analysis is worth a few tries only: the call is recorded without it.
ANALYSIS_RETRY = RetryPolicy(maximum_attempts=3)
# Calls already sleeping when armed rings were deployed replay their old path: timer, then ring.
ARMED_RING_PATCH = "armed-ring"
# Answered calls without a conversation end `no_agent` / `no_conversation` (and skip analysis).
CONVERSATION_OUTCOME_PATCH = "conversation-outcome"
# After the post-call webhook, its result is written to the call record (`callflow report`).
WEBHOOK_RESULT_PATCH = "webhook-result-in-record"
# A schedule firing's due time is the local call time it is for, derived from the schedule's
# local spec in the memo; a firing that is no call's (the second of a repeated wall time on a
# fall-back day) ends at once without a call (callflow/schedules/dst.py).
LOCAL_DUE_PATCH = "dst-local-due"
# The ring path's records-store steps (loading the user, claiming the push) retry until the
# call's ring window ends, not for ~3 s: a short store outage makes the call late, not failed.
STORE_OUTAGE_PATCH = "ring-through-store-outage"
RING_PATH_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=5),
)
# Every outcome but an answered call closes its room at once, so the agent leaves (before,
# only cancelled and declined calls did; an unreachable one kept its agent ~107 s).
CLOSE_ROOM_ON_END_PATCH = "close-room-on-end"
# The phone's token lives the join window plus a margin from the ring (not 10 minutes), and the
# push's `expires_at` is the end of the join window (docs/ios-contract.md): a phone answering
# after the attempt was abandoned cannot join its room.
RING_WINDOW_PATCH = "ring-window-token"
PHONE_TOKEN_MARGIN_S = 30
# Before abandoning an unanswered attempt, ask LiveKit whether the phone is in the room: a
# lost participant_joined webhook must not turn an answered call into `missed`.
ANSWER_PROBE_PATCH = "answer-probe"
# With agent slots on and presence required (`agent_join_timeout_s`), the ring pushes only
# once the agent is in the room, re-dispatching it once itself; an agent that never comes ends
# the call `no_agent` without ringing the phone. Before (and with slots off), the push went out
# with the dispatch and the workflow watched for the agent afterwards, the user on the line.
AGENT_FIRST_PATCH = "agent-before-ring"
# The ring itself (room, dispatch, push, and up to 10 s letting the rings queued behind it
# push first: activities/ring_gate.py) must finish within this, after any armed wait.
RING_TIMEOUT = timedelta(seconds=30)
# A call prepared at least this long ahead lets its memory fetch queue and retry until then.
MEMORY_PREP_MARGIN = timedelta(seconds=5)
MEMORY_PREP_MAX = timedelta(seconds=30)
# An agent slot is held for the join window and the longest call, plus this margin; it lapses
# by itself after that if the call never releases it (a workflow that was terminated).
SLOT_HOLD_MARGIN_S = 120.0
SLOT_HEARTBEAT_TIMEOUT = timedelta(seconds=30)
# How long to wait after the room closed for the agent's final report.
AGENT_REPORT_GRACE = timedelta(seconds=10)
# A consented call's record waits (at most this, after the analysis) for `recording_finished`;
# the agent sends it before its report, so it is usually there already (docs/recordings.md).
RECORDING_PATCH = "call-recording"
RECORDING_GRACE = timedelta(seconds=60)
CANCELLABLE_STAGES = frozenset(
    {
        Stage.SCHEDULED,
        Stage.LOADING_USER,
        Stage.FETCHING_MEMORY,
        Stage.WAITING_DUE,
        Stage.RINGING,
        Stage.AWAITING_JOIN,
        Stage.BACKING_OFF,
        Stage.WAITING_QUIET_HOURS,
        Stage.WAITING_FOR_AGENT,
        Stage.IN_CALL,
    }
)
MAX_CANCEL_REASON = 500
# Quick steps with bounded retries (seconds) are kept in the `status` query but not written to
# visibility: each upsert is a history event and a visibility write, and at the morning peak
# the due minute should cost one of each per call (awaiting_join), not two.
UNINDEXED_STAGES = frozenset(
    {Stage.LOADING_USER, Stage.FETCHING_MEMORY, Stage.RINGING, Stage.WAITING_FOR_AGENT}
)


class _CallEnded(Exception):
    """Raised inside run() to stop the pre-call phase with an outcome."""

    def __init__(self, outcome: Outcome, reason: str | None = None) -> None:
        super().__init__(reason or outcome.value)
        self.outcome = outcome
        self.reason = reason


@workflow.defn(name=WORKFLOW_TYPE)
class CallWorkflow:
    @workflow.init
    def __init__(self, input: CallInput) -> None:
        info = workflow.info()
        self._call_id = input.call_id or info.workflow_id.removeprefix(WORKFLOW_ID_PREFIX)
        self._input = input
        self._stage = Stage.SCHEDULED
        self._stages: list[StageMark] = [StageMark(Stage.SCHEDULED, workflow.now().isoformat())]
        self._attempt = 0
        self._room: str | None = None
        self._seen: set[str] = set()
        self._joined_rooms: set[str] = set()
        self._agent_rooms: set[str] = set()  # rooms an agent joined (or greeted in)
        self._redispatches = 0
        self._slot_held = False
        self._wait_for_agent_ms: float | None = None
        self._left_rooms: set[str] = set()
        self._finished_rooms: set[str] = set()
        self._declined: Declined | None = None
        self._cancel: CancelRequest | None = None
        self._agent_ready: AgentReady | None = None
        self._agent_report: AgentReport | None = None
        self._recording: RecordingFinished | None = None
        self._turns: list[TranscriptTurnSignal] = []
        self._outcome: Outcome | None = None
        self._failure_reason: str | None = None
        self._memory_degraded = False
        self._memory_fetch_ms: float | None = None
        self._pushes_sent = 0
        self._quiet_hours_until: datetime | None = None
        self._local_due: datetime | None = None  # set in run() for schedule firings
        self._ring_rooms: set[str] = set()  # rooms a ring activity may have created
        self._closed_rooms: set[str] = set()
        self._ring_late_ms: float | None = None

    # --- messages in: record only ---------------------------------------------------------

    def _first_time(self, event_id: str) -> bool:
        if event_id in self._seen:
            return False
        self._seen.add(event_id)
        return True

    @workflow.signal(name=SignalName.PARTICIPANT_JOINED)
    def participant_joined(self, event: ParticipantEvent) -> None:
        if not self._first_time(event.event_id):
            return
        if self._is_phone(event):
            self._joined_rooms.add(event.room)
        elif event.kind == "agent":
            self._agent_rooms.add(event.room)

    @workflow.signal(name=SignalName.PARTICIPANT_LEFT)
    def participant_left(self, event: ParticipantEvent) -> None:
        if self._first_time(event.event_id) and self._is_phone(event):
            self._left_rooms.add(event.room)

    @workflow.signal(name=SignalName.ROOM_FINISHED)
    def room_finished(self, event: RoomFinished) -> None:
        if self._first_time(event.event_id):
            self._finished_rooms.add(event.room)

    @workflow.signal(name=SignalName.AGENT_READY)
    def agent_ready(self, event: AgentReady) -> None:
        if self._first_time(event.event_id):
            self._agent_rooms.add(event.room)
            if self._agent_ready is None:
                self._agent_ready = event

    @workflow.signal(name=SignalName.TRANSCRIPT_TURN)
    def transcript_turn(self, event: TranscriptTurnSignal) -> None:
        if self._first_time(event.event_id):
            self._turns.append(event)

    @workflow.signal(name=SignalName.AGENT_REPORT)
    def agent_report(self, event: AgentReport) -> None:
        if self._first_time(event.event_id):
            self._agent_report = event

    @workflow.signal(name=SignalName.RECORDING_FINISHED)
    def recording_finished(self, event: RecordingFinished) -> None:
        if self._first_time(event.event_id) and self._recording is None:
            self._recording = event

    @workflow.signal(name=SignalName.DECLINED)
    def declined(self, event: Declined) -> None:
        if self._first_time(event.event_id) and self._declined is None:
            self._declined = event

    @workflow.update(name=CANCEL_UPDATE)
    def cancel(self, request: CancelRequest) -> CancelAccepted:
        if self._cancel is None:
            self._cancel = request
        return CancelAccepted(call_id=self._call_id, stage=self._stage)

    @cancel.validator
    def _validate_cancel(self, request: CancelRequest) -> None:
        reason = (request.reason or "").strip()
        if not reason:
            raise ValueError("reason: give the reason for cancelling (a non-empty string)")
        if len(reason) > MAX_CANCEL_REASON:
            raise ValueError(f"reason: keep it under {MAX_CANCEL_REASON} characters")
        if self._stage not in CANCELLABLE_STAGES or self._outcome is not None:
            raise ValueError(
                f"call {self._call_id} can no longer be cancelled: it is at stage "
                f"{self._stage!r} with outcome {self._outcome and self._outcome.value!r}"
            )

    @workflow.query(name=STATUS_QUERY)
    def status(self) -> CallStatus:
        return CallStatus(
            call_id=self._call_id,
            user_id=self._input.user_id,
            stage=self._stage,
            attempt=self._attempt,
            outcome=self._outcome.value if self._outcome else None,
            stages=list(self._stages),
            room=self._room,
            phone_joined=self._room in self._joined_rooms if self._room else False,
            memory_degraded=self._memory_degraded,
            transcript_turns=len(self._turns),
            failure_reason=self._failure_reason,
            due_at=due.isoformat() if (due := self._due_time()) else None,
            quiet_hours_until=(
                self._quiet_hours_until.isoformat() if self._quiet_hours_until else None
            ),
        )

    def _is_phone(self, event: ParticipantEvent) -> bool:
        return event.identity == self._input.user_id and event.kind != "agent"

    # --- the call -------------------------------------------------------------------------

    @workflow.run
    async def run(self, input: CallInput) -> CallResult:
        self._set_search_attributes(user=True)
        ended_by: str | None = None
        context: CallContext | None = None
        memory: list[MemoryItem] = []
        if self._no_call_for_this_firing():
            return self._dropped_firing()
        try:
            context = await self._load_context()
            memory = await self._fetch_memory(context)
            ring_at = await self._wait_until_armed()
            await self._ring_until_joined(context, memory, ring_at)
            ended_by = await self._await_room_finished()
            self._outcome, self._failure_reason = self._conversation_outcome()
        except _CallEnded as ended:
            self._outcome, self._failure_reason = ended.outcome, ended.reason
            if self._room and ended.outcome in (Outcome.CANCELLED, Outcome.DECLINED):
                await self._close_room(self._room)
            elif self._room_left_open() and workflow.patched(CLOSE_ROOM_ON_END_PATCH):
                assert self._room is not None
                await self._close_room(self._room)
        except asyncio.CancelledError:
            # Cancelled from the Temporal UI/CLI: still close the room, record and notify.
            self._outcome = Outcome.CANCELLED
            self._failure_reason = "cancelled: workflow cancellation requested in Temporal"
            if self._room:
                await self._close_room(self._room)
        return await self._finish(context, ended_by)

    async def _load_context(self) -> CallContext:
        self._enter(Stage.LOADING_USER)
        timeouts: dict[str, Any] = {"retry_policy": QUICK_RETRY}
        if workflow.patched(STORE_OUTAGE_PATCH):
            now = workflow.now()
            window_end = self._ring_window_end(max(self._due_time() or now, now))
            timeouts = {
                "retry_policy": RING_PATH_RETRY,
                "schedule_to_close_timeout": window_end - now,
            }
        try:
            return await workflow.execute_activity_method(
                RecordsActivities.load_call_context,
                LoadContextInput(
                    self._input.user_id,
                    workflow.now().date().isoformat(),
                    # The due set is the user's local date at the call's time, not at its prep.
                    at=(self._due_time() or workflow.now()).isoformat(),
                ),
                start_to_close_timeout=timedelta(seconds=10),
                **timeouts,
            )
        except ActivityError as e:
            raise _CallEnded(Outcome.FAILED, _ring_path_reason(e, "loading the user")) from e

    def _ring_window_end(self, reference: datetime) -> datetime:
        """The last moment a ring meant for `reference` may still go out and be answered: a
        call may ring as late as it may wait for an agent, then gets its join window."""
        timings = self._input.timings
        return reference + timedelta(seconds=timings.agent_max_wait_s + timings.join_timeout_s)

    async def _fetch_memory(self, context: CallContext) -> list[MemoryItem]:
        self._enter(Stage.FETCHING_MEMORY)
        self._check_interrupts()
        budget = timedelta(milliseconds=self._input.timings.memory_budget_ms)
        query = " ".join(c.text for c in context.due_commitments) or "recent goals and progress"
        due = self._due_time()
        ahead = due - workflow.now() if due is not None else timedelta(0)
        if ahead >= MEMORY_PREP_MARGIN:
            # Prepared ahead, nobody waits: the 400 ms budget would only throw memory away
            # when a burst of starts queues the fetches. One try may take the whole window (a
            # try that times out while queued behind a burst's fetches is wasted work: 589 of
            # them in a 2,000-call start burst with 5 s tries); errors are retried within it.
            window = max(budget, min(ahead - MEMORY_PREP_MARGIN, MEMORY_PREP_MAX))
            timeouts: dict[str, Any] = {
                "start_to_close_timeout": window,
                "schedule_to_close_timeout": window,
                "retry_policy": RetryPolicy(
                    initial_interval=timedelta(milliseconds=200), maximum_attempts=3
                ),
            }
        else:
            # Ringing now: the budget is for the whole fetch, one try; the call goes on without.
            timeouts = {
                "schedule_to_close_timeout": budget,
                "retry_policy": RetryPolicy(maximum_attempts=1),
            }
        fetch_started = workflow.now()
        try:
            fetched = await workflow.execute_activity_method(
                MemoryActivities.fetch_memory,
                FetchMemoryInput(self._input.user_id, query),
                **timeouts,
            )
            self._memory_fetch_ms = fetched.elapsed_ms
            return fetched.items
        except ActivityError as e:
            workflow.logger.warning("memory fetch failed, calling without memory: %s", e)
            self._memory_degraded = True
            # No store time to report: how long the call waited for it stands in.
            waited = workflow.now() - fetch_started
            self._memory_fetch_ms = round(waited.total_seconds() * 1000, 1)
            return []

    async def _wait_until_armed(self) -> datetime | None:
        """Sleep until `ring_arm_s` before the due time; return the due time for an armed
        ring, or None to ring at once."""
        due = self._due_time()
        if due is None or due <= workflow.now():
            return None
        self._enter(Stage.WAITING_DUE)
        # A call that began sleeping before armed rings existed replays its old path: no
        # arming, and a cancel waited for the due time (tests/workflows/test_replay.py).
        armed = workflow.patched(ARMED_RING_PATCH)
        arm = timedelta(seconds=self._input.timings.ring_arm_s if armed else 0)
        sleep_s = (due - arm - workflow.now()).total_seconds()
        if sleep_s > 0:
            await self._wait(sleep_s, lambda: armed and self._cancel is not None)
        self._check_interrupts()
        return due if arm > timedelta(0) and due > workflow.now() else None

    def _due_time(self) -> datetime | None:
        if self._input.scheduled_for:
            return datetime.fromisoformat(self._input.scheduled_for)
        if self._local_due is not None:
            return self._local_due
        scheduled = workflow.info().typed_search_attributes.get(SCHEDULED_START)
        if scheduled is not None:
            return scheduled + timedelta(seconds=self._input.ring_lead_s)
        return None

    def _no_call_for_this_firing(self) -> bool:
        """For a schedule firing: take the due time from the schedule's local spec (memo), so
        a lead across a clock change still rings at the local call time; True when this firing
        is no call's (the duplicate of a repeated wall time), which then ends at once."""
        scheduled = workflow.info().typed_search_attributes.get(SCHEDULED_START)
        if self._input.scheduled_for or scheduled is None:
            return False
        spec = workflow.memo_value(SCHEDULE_MEMO_KEY, None)
        if not isinstance(spec, dict) or not workflow.patched(LOCAL_DUE_PATCH):
            return False
        try:
            due = due_for_firing(
                scheduled,
                str(spec["timezone"]),
                [str(t) for t in spec["times"]],
                [str(d) for d in spec["days"]],
                self._input.ring_lead_s,
                float(spec.get("jitter_s") or 0),
            )
            duplicate = due is None and is_calendar_firing(
                scheduled,
                str(spec["timezone"]),
                [str(t) for t in spec["times"]],
                self._input.ring_lead_s,
                float(spec.get("jitter_s") or 0),
            )
        except (KeyError, TypeError, ValueError) as e:
            workflow.logger.warning("schedule memo unreadable, due = firing + lead: %s", e)
            return False
        self._local_due = due  # None (a trigger): due = firing + lead, as before
        return duplicate

    def _dropped_firing(self) -> CallResult:
        """A firing with no call of its own: no record, no ring, no webhook."""
        self._outcome = Outcome.SKIPPED
        self._failure_reason = (
            "duplicate schedule firing: its local call time already had its firing "
            "(a clock change repeated the wall time)"
        )
        self._enter(Stage.DONE)
        self._set_search_attributes(outcome=True)
        return CallResult(
            call_id=self._call_id,
            outcome=self._outcome.value,
            attempts=0,
            stages=list(self._stages),
            failure_reason=self._failure_reason,
        )

    async def _ring_until_joined(
        self, context: CallContext, memory: list[MemoryItem], ring_at: datetime | None
    ) -> None:
        timings = self._input.timings
        user = context.user
        if not user.voip_token:
            raise _CallEnded(Outcome.UNREACHABLE, "the user has no VoIP push token registered")
        metadata = self._agent_job(context, memory).to_json()
        for attempt in range(1, timings.max_attempts + 1):
            self._check_interrupts()
            self._attempt = attempt
            self._room = room = room_name_for(self._call_id, attempt)
            armed_for = ring_at if attempt == 1 else None
            if await self._waited_out_quiet_hours(user, armed_for):
                armed_for = None  # the due time passed during quiet hours: ring now
            if await self._hold_agent_slot(armed_for):
                # The slot came only after the due time had passed: ring now. If the wait ran
                # into the user's quiet hours, give the slot back and wait those out first.
                armed_for = None
                quiet = self._input.quiet_hours or user.quiet_hours
                if quiet_hours_end(workflow.now(), user.timezone, quiet) is not None:
                    await self._release_agent_slot()
                    await self._waited_out_quiet_hours(user, None)
                    await self._hold_agent_slot(None)
            if armed_for is None:
                self._enter(Stage.RINGING)
            token_ttl_s, ring_window_s = self._input.phone_token_ttl_s, None
            if workflow.patched(RING_WINDOW_PATCH):
                ring_window_s = timings.join_timeout_s
                token_ttl_s = math.ceil(timings.join_timeout_s) + PHONE_TOKEN_MARGIN_S
            # Only where agent capacity is held (slots on): a stack without agents rings as before.
            agent_first = (
                self._input.agent_slots
                and timings.agent_join_timeout_s is not None
                and workflow.patched(AGENT_FIRST_PATCH)
            )
            ring = await self._ring(
                RingInput(
                    call_id=self._call_id,
                    attempt=attempt,
                    room=room,
                    user_id=user.user_id,
                    display_name=user.display_name,
                    device_token=user.voip_token,
                    caller_name=self._input.caller_name,
                    agent_name=self._input.agent_name,
                    agent_metadata=metadata,
                    token_ttl_s=token_ttl_s,
                    empty_timeout_s=int(timings.join_timeout_s) + 60,
                    ring_at=armed_for.isoformat() if armed_for else None,
                    ring_window_s=ring_window_s,
                    agent_ready_s=timings.agent_join_timeout_s if agent_first else None,
                )
            )
            self._redispatches += ring.agent_redispatches
            if ring.no_agent:
                await self._close_room(room)
                raise _CallEnded(
                    Outcome.NO_AGENT,
                    f"no agent joined room {room} within {timings.agent_join_timeout_s:.0f} s "
                    "of its dispatch, nor of a second dispatch; the phone was not rung",
                )
            if armed_for is not None:
                # The armed ring began in the worker at the due time: mark it when it happened.
                self._stages.append(StageMark(Stage.RINGING, ring.rang_at))
            self._enter(Stage.AWAITING_JOIN)
            rang = workflow.now()
            if not agent_first:
                await self._ensure_agent(room, metadata)
            left = timings.join_timeout_s - (workflow.now() - rang).total_seconds()
            await self._wait(max(0.0, left), partial(self._answered_or_over, room))
            if not self._answered_or_over(room):
                await self._probe_for_phone(room)
            if room in self._joined_rooms:
                return  # answered: a late decline from this push changes nothing
            self._check_interrupts()
            # Not answered: close the room so the agent leaves, then back off and ring again.
            await self._close_room(room)
            await self._release_agent_slot()
            if attempt < timings.max_attempts:
                self._enter(Stage.BACKING_OFF)
                backoff = _backoff(timings.retry_backoff_s, attempt)
                await self._wait(backoff, self._interrupted)
        raise _CallEnded(Outcome.MISSED, f"no answer after {timings.max_attempts} attempt(s)")

    async def _probe_for_phone(self, room: str) -> None:
        """The join window ended with no word of the phone: look in the room before giving
        the attempt up (the webhook may have been lost; the agent's own signal too)."""
        if not workflow.patched(ANSWER_PROBE_PATCH):
            return
        try:
            probe = await workflow.execute_activity_method(
                RoomActivities.probe_room,
                RoomRef(room),
                start_to_close_timeout=timedelta(seconds=10),
                retry_policy=QUICK_RETRY,
            )
        except ActivityError as e:
            workflow.logger.warning("could not probe %s for the phone: %s", room, e)
            return
        if self._input.user_id in probe.participant_identities:
            workflow.logger.info("phone found in %s by the probe (no join signal came)", room)
            self._joined_rooms.add(room)

    async def _ensure_agent(self, room: str, metadata: str) -> None:
        """The agent must be in the room soon after its dispatch: if it is not, dispatch once
        more; if still none, close the room and end the attempt `no_agent` rather than leave
        the user in silence. A room that closed meanwhile needs no agent (the phone hung up)."""
        wait_s = self._input.timings.agent_join_timeout_s
        if wait_s is None:
            return

        def settled() -> bool:
            return room in self._agent_rooms or room in self._finished_rooms or self._interrupted()

        if await self._wait(wait_s, settled) or self._interrupted():
            return
        self._redispatches += 1
        await workflow.execute_activity_method(
            RoomActivities.dispatch_agent,
            DispatchInput(room, self._input.agent_name, metadata),
            start_to_close_timeout=timedelta(seconds=10),
            retry_policy=QUICK_RETRY,
        )
        if await self._wait(wait_s, settled) or self._interrupted():
            return
        await self._close_room(room)
        raise _CallEnded(
            Outcome.NO_AGENT,
            f"no agent joined room {room} within {wait_s:.0f} s of its dispatch, nor of a "
            "second dispatch",
        )

    async def _hold_agent_slot(self, ring_at: datetime | None) -> bool:
        """With agent slots on, the phone is rung only once a slot is held for the call:
        calls beyond the agents' capacity wait here in due-time order, each at most
        `agent_max_wait_s`, then end `no_capacity`. True when the slot came only after the due
        time (an armed ring is then rung at once, not at a due time already past)."""
        if not self._input.agent_slots or self._slot_held:
            return False
        timings = self._input.timings
        due = ring_at or workflow.now()
        max_wait = timedelta(seconds=timings.agent_max_wait_s)
        self._enter(Stage.WAITING_FOR_AGENT)
        handle = workflow.start_activity_method(
            SlotActivities.hold_agent_slot,
            HoldSlotInput(
                call_id=self._call_id,
                user_id=self._input.user_id,
                due_at=due.isoformat(),
                hold_s=timings.join_timeout_s + timings.max_call_s + SLOT_HOLD_MARGIN_S,
                max_wait_s=max_wait.total_seconds(),
            ),
            start_to_close_timeout=max(timedelta(0), due - workflow.now())
            + max_wait
            + RING_TIMEOUT,
            heartbeat_timeout=SLOT_HEARTBEAT_TIMEOUT,
            retry_policy=QUICK_RETRY,
            cancellation_type=ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
        )
        await workflow.wait_condition(lambda: handle.done() or self._interrupted())
        if not handle.done():
            handle.cancel()
        try:
            held = await handle
        except ActivityError as e:
            if isinstance(e.cause, CancelledError):
                await self._release_agent_slot(force=True)
                self._check_interrupts()
            raise _CallEnded(Outcome.FAILED, _reason(e)) from e
        self._slot_held = held.granted
        # Due time -> slot held, on the workflow's clock (an armed call asks before it is due).
        late = max(timedelta(0), workflow.now() - due)
        self._wait_for_agent_ms = round(late.total_seconds() * 1000, 1)
        if self._interrupted():
            await self._release_agent_slot()
            self._check_interrupts()
        if not held.granted:
            raise _CallEnded(
                Outcome.NO_CAPACITY,
                f"no agent slot came free within {max_wait.total_seconds():.0f} s of the due "
                f"time (capacity {held.capacity}, {held.held} in use, "
                f"{held.waiting_ahead} call(s) ahead)",
            )
        return workflow.now() > due

    async def _release_agent_slot(self, *, force: bool = False) -> None:
        if not (self._slot_held or force):
            return
        await workflow.execute_activity_method(
            SlotActivities.release_agent_slot,
            ReleaseSlotInput(self._call_id),
            start_to_close_timeout=timedelta(seconds=10),
            schedule_to_close_timeout=timedelta(minutes=5),
            retry_policy=DURABLE_RETRY,
        )
        self._slot_held = False

    async def _waited_out_quiet_hours(self, user: User, ring_at: datetime | None) -> bool:
        """Every ring (scheduled, on demand, each redial) first checks the user's quiet hours
        at the moment it would ring: inside them it waits for their end (True), or the call
        is skipped, as the policy says. False: the ring may go ahead as planned."""
        quiet = self._input.quiet_hours or user.quiet_hours
        end = quiet_hours_end(ring_at or workflow.now(), user.timezone, quiet)
        if end is None:
            return False
        if self._input.quiet_hours_policy == "skip":
            raise _CallEnded(
                Outcome.SKIPPED,
                f"skipped: the ring fell in the user's quiet hours {quiet} ({user.timezone})",
            )
        self._quiet_hours_until = end
        self._enter(Stage.WAITING_QUIET_HOURS)
        await self._wait((end - workflow.now()).total_seconds(), self._interrupted)
        self._quiet_hours_until = None
        self._check_interrupts()
        return True

    async def _ring(self, input: RingInput) -> RingOutput:
        """Run one ring activity; a cancel meanwhile withholds the push of an armed ring that
        has not rung yet. Waits for the activity to end, so a push that went out is known.
        (A decline can only answer a push: the join wait handles it.)"""
        wait = timedelta(0)
        if input.ring_at:
            wait = max(timedelta(0), datetime.fromisoformat(input.ring_at) - workflow.now())
        meant_at = workflow.now() + wait
        if input.agent_ready_s is not None:
            # The agent's two chances to come before the push (activities/ring.py).
            wait += timedelta(seconds=2 * input.agent_ready_s)
        retry: dict[str, Any] = {"retry_policy": QUICK_RETRY}
        if workflow.patched(STORE_OUTAGE_PATCH):
            window = self._ring_window_end(meant_at) - workflow.now()
            retry = {
                "retry_policy": RING_PATH_RETRY,
                "schedule_to_close_timeout": max(window, wait + RING_TIMEOUT),
            }
        self._ring_rooms.add(input.room)
        handle = workflow.start_activity_method(
            RingActivities.ring,
            input,
            start_to_close_timeout=wait + RING_TIMEOUT,
            heartbeat_timeout=(
                timedelta(seconds=self._input.timings.ring_heartbeat_timeout_s)
                if input.ring_at or input.agent_ready_s is not None
                else None
            ),
            cancellation_type=ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
            **retry,
        )
        await workflow.wait_condition(lambda: handle.done() or self._cancel is not None)
        if not handle.done():
            if input.ring_at or input.agent_ready_s is not None:
                # A ring still waiting (for its time, for its agent) learns of a cancellation
                # only with a heartbeat: the withheld claim stops its push at once.
                await self._withhold_push(input)
            handle.cancel()
        try:
            ring = await handle
        except ActivityError as e:
            if isinstance(e.cause, CancelledError):
                self._check_interrupts()  # raises: the call was cancelled before it rang
            if _error_type(e) == DEVICE_UNREACHABLE:
                raise _CallEnded(Outcome.UNREACHABLE, _reason(e)) from e
            raise _CallEnded(Outcome.FAILED, _ring_path_reason(e, "ringing")) from e
        if ring.push_sent:
            self._pushes_sent += 1
            if self._ring_late_ms is None and ring.rang_at:
                # How late the first push went out (a store outage, a slow step): the record says.
                late = datetime.fromisoformat(ring.rang_at) - meant_at
                self._ring_late_ms = round(max(0.0, late.total_seconds()) * 1000, 1)
        if self._cancel is not None:
            self._check_interrupts()  # raises: cancelled while ringing
        return ring

    async def _withhold_push(self, input: RingInput) -> None:
        try:
            await workflow.execute_activity_method(
                RingActivities.withhold_push,
                WithholdInput(input.call_id, input.attempt),
                start_to_close_timeout=timedelta(seconds=10),
                retry_policy=QUICK_RETRY,
            )
        except ActivityError as e:
            # The cancellation still reaches the ring with its next heartbeat.
            workflow.logger.warning("could not withhold the armed push: %s", e)

    async def _await_room_finished(self) -> str:
        """Wait for LiveKit's room_finished; probe the room meanwhile; close it at the cap."""
        assert self._room is not None
        room = self._room
        timings = self._input.timings
        self._enter(Stage.IN_CALL)
        started = workflow.now()
        while True:
            elapsed = (workflow.now() - started).total_seconds()
            remaining = timings.max_call_s - elapsed
            if remaining <= 0:
                await self._close_room(room)
                return "hard_cap"
            finished = await self._wait(
                min(timings.room_probe_interval_s, remaining),
                lambda: room in self._finished_rooms or self._cancel is not None,
            )
            if self._cancel is not None:
                self._check_interrupts()
            if finished:
                await self._await_agent_report()
                return "room_finished"
            probe = await workflow.execute_activity_method(
                RoomActivities.probe_room,
                RoomRef(room),
                start_to_close_timeout=timedelta(seconds=10),
                retry_policy=QUICK_RETRY,
            )
            if not probe.exists:
                await self._await_agent_report()
                return "probe"
            if room in self._left_rooms and self._input.user_id not in probe.participant_identities:
                # The phone hung up but the room lingers (agent still in it): end it ourselves.
                await self._close_room(room)
                await self._await_agent_report()
                return "phone_left"

    async def _await_agent_report(self) -> None:
        if self._agent_ready is not None and self._agent_report is None:
            await self._wait(
                AGENT_REPORT_GRACE.total_seconds(), lambda: self._agent_report is not None
            )

    async def _finish(self, context: CallContext | None, ended_by: str | None) -> CallResult:
        assert self._outcome is not None
        outcome = self._outcome
        await self._release_agent_slot()  # the conversation is over: the agent is free
        self._set_search_attributes(outcome=True)
        analysis: CallAnalysis | None = None
        memory_written = False
        if outcome == Outcome.COMPLETED and context is not None:
            analysis = await self._post_call_step(
                Stage.ANALYZING,
                AnalysisActivities.analyze_call,
                lambda: AnalyzeInput(
                    call_id=self._call_id,
                    transcript=analysis_transcript(self._turns),
                    due_commitments=context.due_commitments,
                    local_date=context.local_date or None,
                    timezone=context.user.timezone,
                ),
                # The call itself happened; a failed analysis is recorded, not a failed call.
                failed="analysis failed",
                records_failure=True,
                start_to_close=timedelta(seconds=60),
                retry_policy=ANALYSIS_RETRY,
                window=None,
            )
            if analysis is not None:
                written = await self._post_call_step(
                    Stage.WRITING_MEMORY,
                    MemoryActivities.write_memory,
                    partial(self._memory_input, analysis),
                    failed="memory write failed for good",
                    start_to_close=timedelta(seconds=30),
                )
                memory_written = written is not None and written.written
        await self._await_recording(context)
        record = self._record(analysis)
        saved = await self._post_call_step(
            Stage.SAVING_RECORD,
            RecordsActivities.save_call_record,
            # Built once the stage is entered, so the record lists its own saving stage.
            lambda: SaveRecordInput(
                record=with_stages(record, self._stages),
                analysis=analysis,
                due_commitments=context.due_commitments if context else [],
                local_date=(context.local_date or None) if context else None,
                next_call_date=(
                    next_call_date(context.local_date, self._input.call_days)
                    if context and context.local_date
                    else None
                ),
            ),
            failed="call record could not be saved",
            start_to_close=timedelta(seconds=30),
        )
        notified = await self._post_call_step(
            Stage.NOTIFYING,
            NotifyActivities.notify_app_backend,
            lambda: post_call_event(
                record,
                analysis=analysis,
                due_commitments=context.due_commitments if context else [],
                pushes_sent=self._pushes_sent,
                created_commitment_ids=saved.new_commitment_ids if saved else (),
            ),
            failed="post-call webhook not delivered",
            start_to_close=timedelta(seconds=60),
        )
        # A call with no app backend configured had no webhook to deliver: it stays out of the
        # delivery rate rather than counting as a failure.
        if (
            saved is not None
            and (notified is None or notified.configured)
            and workflow.patched(WEBHOOK_RESULT_PATCH)
        ):
            await self._record_webhook_result(notified is not None and notified.delivered)
        self._enter(Stage.DONE)
        return CallResult(
            call_id=self._call_id,
            outcome=outcome.value,
            attempts=self._attempt,
            stages=list(self._stages),
            failure_reason=self._failure_reason,
            memory_degraded=self._memory_degraded,
            memory_written=memory_written,
            record_saved=saved is not None,
            post_call_webhook_delivered=notified is not None and notified.delivered,
            pushes_sent=self._pushes_sent,
            ended_by=ended_by if outcome == Outcome.COMPLETED else None,
            transcript_turns=len(self._turns),
            tools_called=record.tools_called,
            agent_first_audio_ms=self._agent_ready.first_audio_ms if self._agent_ready else None,
            cost_usd=record.cost_usd,
            agent_redispatches=self._redispatches,
            wait_for_agent_ms=self._wait_for_agent_ms,
        )

    async def _post_call_step(
        self,
        stage: Stage,
        activity: Callable[[Any, InT], Awaitable[OutT]],
        make_input: Callable[[], InT],
        *,
        failed: str,
        start_to_close: timedelta,
        retry_policy: RetryPolicy = DURABLE_RETRY,
        window: timedelta | None = DURABLE_WINDOW,
        records_failure: bool = False,
    ) -> OutT | None:
        """One step after the call: enter its stage, run its activity (input built then), and
        return the activity's output, or None once it failed for good. A failed step never
        fails the call: it is logged (`failed`), and with `records_failure` it becomes the
        call's failure reason."""
        self._enter(stage)
        try:
            return await workflow.execute_activity_method(
                activity,
                make_input(),
                start_to_close_timeout=start_to_close,
                schedule_to_close_timeout=window,
                retry_policy=retry_policy,
            )
        except ActivityError as e:
            if records_failure:
                self._failure_reason = f"{failed}: {_reason(e)}"
            else:
                workflow.logger.error("%s: %s", failed, e)
            return None

    async def _record_webhook_result(self, delivered: bool) -> None:
        """Write the webhook's result into the saved record; a failure only loses that field."""
        try:
            await workflow.execute_activity_method(
                RecordsActivities.record_webhook_result,
                WebhookResultInput(call_id=self._call_id, delivered=delivered),
                start_to_close_timeout=timedelta(seconds=30),
                schedule_to_close_timeout=timedelta(minutes=10),
                retry_policy=DURABLE_RETRY,
            )
        except ActivityError as e:
            workflow.logger.error("webhook result not written to the record: %s", e)

    def _memory_input(self, analysis: CallAnalysis) -> WriteMemoryInput:
        return WriteMemoryInput(
            user_id=self._input.user_id,
            call_id=self._call_id,
            content=memory_note(analysis),
            metadata={"call_id": self._call_id, "mood": analysis.mood},
        )

    # --- helpers --------------------------------------------------------------------------

    def _record(self, analysis: CallAnalysis | None) -> CallRecord:
        assert self._outcome is not None
        record = build_call_record(
            call_id=self._call_id,
            user_id=self._input.user_id,
            outcome=self._outcome,
            attempts=self._attempt,
            stages=self._stages,
            now=workflow.now(),
            failure_reason=self._failure_reason,
            memory_degraded=self._memory_degraded,
            analysis=analysis,
            turns=self._turns,
            agent_ready=self._agent_ready,
            agent_report=self._agent_report,
            prices=self._input.prices,
            agent_redispatches=self._redispatches,
        )
        if self._wait_for_agent_ms is not None:
            record.latency["wait_for_agent_ms"] = self._wait_for_agent_ms
        if self._ring_late_ms is not None:
            record.latency["ring_late_ms"] = self._ring_late_ms
        if self._memory_fetch_ms is not None:
            record.latency["memory_fetch_ms"] = self._memory_fetch_ms
        record.pushes_sent = self._pushes_sent
        if self._recording is not None:
            rec = self._recording
            record.recording = Recording(
                key=rec.key,
                duration_s=rec.duration_s,
                size_bytes=rec.size_bytes,
                channels=rec.channels,
                started_at=(
                    datetime.fromtimestamp(rec.started_at, UTC).isoformat()
                    if rec.started_at is not None
                    else None
                ),
            )
        return record

    async def _await_recording(self, context: CallContext | None) -> None:
        """A consented call the agent took part in gets its recording into the record."""
        if context is None or not context.user.recording_consent:
            return
        if self._agent_ready is None or self._recording is not None:
            return
        if workflow.patched(RECORDING_PATCH):
            await self._wait(RECORDING_GRACE.total_seconds(), lambda: self._recording is not None)

    def _agent_job(self, context: CallContext, memory: list[MemoryItem]) -> AgentJob:
        return agent_job_for(
            call_id=self._call_id,
            workflow_id=workflow.info().workflow_id,
            user=context.user,
            due_commitments=context.due_commitments,
            memory=memory,
            memory_degraded=self._memory_degraded,
            timings=self._input.timings,
            caller_name=self._input.caller_name,
            script=self._input.conversation_script,
            history=context.history,
            local_date=context.local_date,
            last_call_summary=context.last_call_summary,
            topics=context.topics,
            recording_consent=context.user.recording_consent,
        )

    def _conversation_outcome(self) -> tuple[Outcome, str | None]:
        """An answered call is `completed` only when a conversation happened: the agent greeted
        and the user spoke. Calls answered before this rule existed stay `completed`."""
        if not workflow.patched(CONVERSATION_OUTCOME_PATCH):
            return Outcome.COMPLETED, None
        if self._agent_ready is None:
            return Outcome.NO_AGENT, "answered, but no agent greeted the user"
        if not any(t.role == "user" and t.text.strip() for t in self._turns):
            return Outcome.NO_CONVERSATION, "the agent greeted, but the user said nothing"
        return Outcome.COMPLETED, None

    def _answered_or_over(self, room: str) -> bool:
        return room in self._joined_rooms or room in self._finished_rooms or self._interrupted()

    def _interrupted(self) -> bool:
        return self._cancel is not None or self._declined is not None

    def _check_interrupts(self) -> None:
        if self._cancel is not None:
            raise _CallEnded(Outcome.CANCELLED, f"cancelled: {self._cancel.reason.strip()}")
        if self._declined is not None:
            raise _CallEnded(Outcome.DECLINED, self._declined.reason)

    async def _wait(self, seconds: float, condition: Callable[[], bool]) -> bool:
        """Wait until `condition` holds (True) or `seconds` pass (False)."""
        try:
            await workflow.wait_condition(condition, timeout=timedelta(seconds=seconds))
            return True
        except TimeoutError:
            return False

    async def _close_room(self, room: str) -> None:
        await workflow.execute_activity_method(
            RoomActivities.close_room,
            RoomRef(room),
            start_to_close_timeout=timedelta(seconds=10),
            schedule_to_close_timeout=timedelta(minutes=5),
            retry_policy=DURABLE_RETRY,
        )
        self._closed_rooms.add(room)

    def _room_left_open(self) -> bool:
        room = self._room
        return (
            room is not None
            and room in self._ring_rooms
            and room not in self._closed_rooms
            and room not in self._finished_rooms
        )

    def _enter(self, stage: Stage) -> None:
        self._stage = stage
        self._stages.append(StageMark(stage, workflow.now().isoformat()))
        if stage not in UNINDEXED_STAGES:
            self._set_search_attributes()

    def _set_search_attributes(self, *, user: bool = False, outcome: bool = False) -> None:
        pairs: list[SearchAttributeUpdate[Any]] = [
            CALL_STAGE.value_set(self._stage),
            CALL_ATTEMPT.value_set(self._attempt),
        ]
        if user:
            pairs.append(CALL_USER_ID.value_set(self._input.user_id))
        if outcome and self._outcome is not None:
            pairs.append(CALL_OUTCOME.value_set(self._outcome.value))
        workflow.upsert_search_attributes(pairs)


def _backoff(schedule: list[float], attempt: int) -> float:
    if not schedule:
        return 0.0
    return schedule[min(attempt - 1, len(schedule) - 1)]


def _error_type(error: ActivityError) -> str | None:
    cause = error.cause
    return cause.type if isinstance(cause, ApplicationError) else None


def _ring_path_reason(error: ActivityError, step: str) -> str:
    """The failure reason of a ring-path step; one that ran out its ring window while the
    records store was away says so."""
    cause: BaseException | None = error.cause
    # Retries stop with RetryState.TIMEOUT once the next one would outlast the window.
    timed_out = isinstance(cause, ActivityTimeout) or error.retry_state == RetryState.TIMEOUT
    while cause is not None:
        if isinstance(cause, ApplicationError) and cause.type == RecordsUnavailable.error_type:
            if timed_out:
                return (
                    f"records store unavailable while {step} until the ring window ran out: "
                    f"{cause.message}"
                )
            return f"records store unavailable while {step}: {cause.message}"
        cause = cause.__cause__ or getattr(cause, "cause", None)
    return _reason(error)


def _reason(error: ActivityError) -> str:
    cause = error.cause
    return str(cause.message if isinstance(cause, ApplicationError) else cause or error)
