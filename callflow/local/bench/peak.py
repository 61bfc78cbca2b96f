"""`callflow bench peak`: N calls fall due in the same second; how fast does every phone ring?

The calls are started ahead of the due time, so each one loads its user, due commitments and
memory first and then sleeps; `ring_arm_s` before the due time each starts its `ring` activity,
which creates the room and waits in the worker; at the due time the worker dispatches the agent
and sends the VoIP push with no Temporal round trip. Every figure is counted from what really
happened: pushes as the local APNs endpoint received them, records as Postgres holds them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import math
import sys
import time
import uuid
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from callflow.call_inputs import call_input_from
from callflow.local.bench.cpu import CpuMeter
from callflow.local.bench.errors import BenchInputError, BenchTimeout
from callflow.local.bench.phones import (
    LiveKitPhones,
    PhoneBehaviour,
    SimulatedPhones,
    voip_token_for,
)
from callflow.local.bench.stack import PERSISTENCE_NAMES, BenchStack, Persistence, bench_stack
from callflow.local.bench.stats import summary_ms
from callflow.local.phone.apns_endpoint import ReceivedPush
from callflow.models import Commitment, Outcome, User
from callflow.schedules.intents import PostgresScheduleIntentStore
from callflow.schedules.manager import DEFAULT_LEAD_S, ScheduleManager
from callflow.schedules.spec import CallSchedule
from callflow.settings import Settings
from workflows.call import CallWorkflow
from workflows.messages import (
    CALL_STAGE,
    WORKFLOW_ID_PREFIX,
    WORKFLOW_TYPE,
    CallInput,
    CallTimings,
    Stage,
    workflow_id_for,
)

log = logging.getLogger("callflow.local.bench.peak")

MAX_CALLS = 20_000
# The goals of the issue, on this 2-core machine: 1,000 calls due at once (started by their
# schedules or directly) push within 10 s, p99 under 5 s; 5,000 within 10 s, p99 under 8 s.
TARGET_ALL_PUSHES_MS = 10_000
TARGET_P99_MS = 5_000
TARGET_P99_MS_ABOVE_1000 = 8_000
Via = Literal["direct", "schedules"]
VIA_NAMES = ("direct", "schedules")
# The bench's schedules call everyone at the same local time in this zone.
SCHEDULE_TIME_ZONE = "Europe/Paris"
SCHEDULE_CREATE_CONCURRENCY = 32
MAX_AGENTS = 64
# With agents: first agent audio within 1 s (p95) and no call rung without an agent.
TARGET_FIRST_AUDIO_P95_MS = 1_000
# The agent must be in the room this long after its dispatch (then once more, then no_agent).
BENCH_AGENT_JOIN_TIMEOUT_S = 15.0
# Short timings: a bench call answers at once, so only the ring path matters.
BENCH_TIMINGS = CallTimings(
    join_timeout_s=30.0,
    max_attempts=2,
    retry_backoff_s=[5.0],
    max_call_s=120.0,
    room_probe_interval_s=10.0,
)


@dataclass
class PeakOptions:
    calls: int
    persistence: Persistence = "memory"
    # direct: the bench starts each call's workflow; schedules: one Temporal Schedule per user
    # (as `callflow schedules` creates it) fires the call `lead_s` before its local time.
    via: Via = "direct"
    # direct: seconds from the start of the start phase to the due time (None = enough for
    # `calls`); schedules: the schedules' lead (None = production's, DEFAULT_LEAD_S).
    lead_s: float | None = None
    start_concurrency: int = 100  # workflow starts in flight at once on the one client
    phone: PhoneBehaviour = field(default_factory=PhoneBehaviour)
    finish_timeout_s: float = 300.0
    # 0: no agent runs, the phones answer by signalling (no media). C > 0: an agent worker of
    # capacity C, calls hold an agent slot before each ring, phones join LiveKit and talk.
    agents: int = 0
    agent_join_timeout_s: float = BENCH_AGENT_JOIN_TIMEOUT_S

    def validate(self) -> None:
        if not 1 <= self.calls <= MAX_CALLS:
            raise BenchInputError(f"calls is {self.calls}: pass between 1 and {MAX_CALLS} calls")
        if self.persistence not in PERSISTENCE_NAMES:
            raise BenchInputError(
                f"persistence is {self.persistence!r}: pass 'memory' or 'file' (SQLite)"
            )
        if self.via not in VIA_NAMES:
            raise BenchInputError(f"via is {self.via!r}: pass 'direct' or 'schedules'")
        if self.lead_s is not None and self.lead_s < 1:
            raise BenchInputError(f"lead_s is {self.lead_s}: give the calls at least 1 s")
        if self.via == "schedules" and self.lead_s is not None and self.lead_s != int(self.lead_s):
            raise BenchInputError(
                f"lead_s is {self.lead_s}: a schedule's lead is whole seconds (pass e.g. 20)"
            )
        if self.start_concurrency < 1:
            raise BenchInputError("start_concurrency must be at least 1")
        if not 0 <= self.agents <= MAX_AGENTS:
            raise BenchInputError(
                f"agents is {self.agents}: pass an agent capacity from 0 (none) to {MAX_AGENTS}"
            )
        if self.agent_join_timeout_s <= 0:
            raise BenchInputError("agent_join_timeout_s must be above 0")

    def timings(self) -> CallTimings:
        if not self.agents:
            return BENCH_TIMINGS
        return dataclasses.replace(BENCH_TIMINGS, agent_join_timeout_s=self.agent_join_timeout_s)

    def finish_within_s(self) -> float:
        """How long after the due time every call may take to end: with agents, the calls
        beyond the capacity wait their turn (a conversation takes about a minute here)."""
        if not self.agents:
            return self.finish_timeout_s
        return self.finish_timeout_s + 90.0 * math.ceil(self.calls / self.agents)

    def effective_lead_s(self) -> float:
        if self.via == "schedules":
            return self.lead_s if self.lead_s is not None else DEFAULT_LEAD_S
        # Measured on the 2-core box: starting and preparing (user, commitments, memory) ran at
        # 20-40 calls/s while the server was saturated; 15 calls/s leaves a margin.
        return self.lead_s if self.lead_s is not None else max(8.0, 5.0 + self.calls / 15)


def _call_ids(run_id: str, calls: int) -> list[str]:
    return [f"bench-{run_id}-{i:05d}" for i in range(calls)]


def _user_id(call_id: str) -> str:
    return f"user-{call_id}"


async def seed_users(stack: BenchStack, call_ids: list[str], today: str) -> None:
    """One user per call, each with a VoIP token, a commitment due today and a memory."""
    gate = asyncio.Semaphore(16)

    async def seed(call_id: str) -> None:
        user_id = _user_id(call_id)
        async with gate:
            await stack.records.upsert_user(
                User(user_id, f"Bench {call_id[-5:]}", voip_token_for(user_id))
            )
            await stack.records.upsert_commitments(
                [
                    Commitment(
                        commitment_id=str(uuid.uuid5(uuid.NAMESPACE_URL, call_id)),
                        user_id=user_id,
                        text="go for a run before work",
                        due_date=today,
                    )
                ]
            )
            await stack.memory.write(
                user_id,
                f"seed-{call_id}",
                "Wants to run three mornings a week; skipped Monday because of rain.",
                {},
            )

    await asyncio.gather(*(seed(c) for c in call_ids))


async def start_calls(
    client: Client,
    task_queue: str,
    call_ids: list[str],
    due: datetime,
    concurrency: int,
    timings: CallTimings = BENCH_TIMINGS,
    agent_slots: bool = False,
) -> float:
    """Start every call (prepare now, ring at `due`); return the start phase's seconds."""
    gate = asyncio.Semaphore(concurrency)

    async def start(call_id: str) -> None:
        async with gate:
            await client.start_workflow(
                CallWorkflow.run,
                CallInput(
                    call_id=call_id,
                    user_id=_user_id(call_id),
                    timings=timings,
                    scheduled_for=due.isoformat(),
                    agent_slots=agent_slots,
                ),
                id=workflow_id_for(call_id),
                task_queue=task_queue,
            )

    began = time.monotonic()
    await asyncio.gather(*(start(c) for c in call_ids))
    return time.monotonic() - began


@dataclass
class ScheduledStart:
    """What the schedules path did before the due time."""

    call_ids: list[str]
    due: datetime
    fire: datetime  # the schedules' nominal firing time: due - lead
    local_time: str
    day: str
    create_s: float


def schedule_due_time(now: float, lead_s: float, create_s: float) -> datetime:
    """The first whole minute (a schedule's times are HH:MM) whose firing, `lead_s` before it,
    comes after every schedule is created (`create_s` from `now`) with a few seconds spare."""
    earliest = now + create_s + 5.0 + lead_s
    return datetime.fromtimestamp(math.ceil(earliest / 60) * 60, tz=UTC)


def schedule_call_id(user_id: str, fire: datetime) -> str:
    """The call id of the workflow a schedule starts: Temporal appends the nominal firing time
    (RFC 3339) to the action's workflow id, and the workflow drops the `call-` prefix."""
    return f"sched-{user_id}-{fire.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%SZ')}"


def schedules_manager(
    stack: BenchStack, options: PeakOptions, lead_s: float, intents: Any
) -> ScheduleManager:
    """A ScheduleManager as `callflow schedules` builds one (the worker's Settings, the intent
    store), with the bench's call input: the direct path's short timings, agent slots only
    when an agent runs."""
    settings = Settings(_env_file=None, **stack.worker_settings)  # type: ignore[call-arg]
    template = dataclasses.replace(
        call_input_from(settings, call_id="", user_id=""),
        timings=options.timings(),
        agent_slots=bool(options.agents),
    )
    return ScheduleManager(stack.client, settings, intents, lead_s=lead_s, input_template=template)


async def create_schedules(
    manager: ScheduleManager, user_ids: list[str], lead_s: float, time_zone: str
) -> ScheduledStart:
    """One schedule per user, all at the same local time today, far enough ahead that every
    one exists before they fire."""
    # Creating ran at ~50/s on the 2-core box; 10/s leaves a margin.
    estimate_s = len(user_ids) / 10
    due = schedule_due_time(time.time(), lead_s, estimate_s)
    local = due.astimezone(ZoneInfo(time_zone))
    day = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[local.weekday()]
    schedule = CallSchedule.parse(
        {"timezone": time_zone, "days": [day], "times": [local.strftime("%H:%M")]}
    )
    gate = asyncio.Semaphore(SCHEDULE_CREATE_CONCURRENCY)

    async def create(user_id: str) -> None:
        async with gate:
            await manager.create(user_id, schedule)

    began = time.monotonic()
    await asyncio.gather(*(create(u) for u in user_ids))
    fire = due - timedelta(seconds=lead_s)
    if time.time() >= fire.timestamp():
        log.warning("creating the schedules ran past their firing time: calls will be lost")
    return ScheduledStart(
        call_ids=[schedule_call_id(u, fire) for u in user_ids],
        due=due,
        fire=fire,
        local_time=local.strftime("%H:%M"),
        day=day,
        create_s=time.monotonic() - began,
    )


async def delete_schedules(manager: ScheduleManager, user_ids: list[str]) -> int:
    gate = asyncio.Semaphore(SCHEDULE_CREATE_CONCURRENCY)
    deleted = 0

    async def delete(user_id: str) -> None:
        nonlocal deleted
        async with gate:
            try:
                await manager.delete(user_id)
                deleted += 1
            except Exception as e:  # counted: the figures say how many were left
                log.warning("could not delete the schedule of %s: %s", user_id, e)

    await asyncio.gather(*(delete(u) for u in user_ids))
    return deleted


async def start_times(client: Client, call_ids: set[str]) -> list[float]:
    """When each of these calls' workflows started (epoch seconds), as the server says."""
    times: list[float] = []
    async for wf in client.list_workflows(f"WorkflowType = '{WORKFLOW_TYPE}'"):
        if wf.id.removeprefix(WORKFLOW_ID_PREFIX) in call_ids:
            times.append(wf.start_time.timestamp())
    return times


async def _count(client: Client, query: str) -> int:
    return (await client.count_workflows(query)).count


async def wait_prepared(client: Client, calls: int, due: datetime) -> int:
    """Poll until every call sleeps in `waiting_due` or the due time comes; return how many."""
    prepared = 0
    while time.time() < due.timestamp() - 0.3:
        prepared = await _count(client, f"{CALL_STAGE.name} = '{Stage.WAITING_DUE}'")
        if prepared >= calls:
            break
        await asyncio.sleep(1.0)  # a visibility count is not free for the server
    return prepared


def _ours(received: list[ReceivedPush], call_ids: set[str]) -> list[ReceivedPush]:
    return [p for p in received if p.payload.get("call_id") in call_ids]


async def wait_pushes(
    stack: BenchStack, call_ids: set[str], due_ts: float, at_most_s: float = 0.0
) -> None:
    deadline = due_ts + max(60.0, len(call_ids) / 10, at_most_s)
    while len(_ours(stack.apns.received, call_ids)) < len(call_ids):
        if time.time() > deadline:
            return  # the figures report the missing pushes as lost calls
        await asyncio.sleep(0.05)


async def wait_finished(client: Client, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while await _count(client, "ExecutionStatus = 'Running'") > 0:
        if time.monotonic() > deadline:
            raise BenchTimeout(
                f"calls still running {timeout_s:.0f} s after the due time: raise "
                "finish_timeout_s or look at the worker log"
            )
        await asyncio.sleep(0.5)


async def history_profile(
    client: Client, call_id: str, due: datetime, pushed_at: float | None
) -> dict[str, int]:
    """History events of one call: in total, search-attribute upserts, and those the server
    wrote between the due time and this call's push (the server's work at the peak)."""
    history = await client.get_workflow_handle(workflow_id_for(call_id)).fetch_history()
    events = list(history.events)
    kinds = [e.event_type for e in events]
    at_peak = 0
    if pushed_at is not None:
        at_peak = sum(
            1
            for e in events
            if due.timestamp() <= e.event_time.ToDatetime(tzinfo=UTC).timestamp() <= pushed_at
        )
    upserts = kinds.count(EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES)
    return {"total": len(events), "search_attribute_upserts": upserts, "due_to_push": at_peak}


async def events_in_window(
    client: Client, call_ids: list[str], start: float, end: float
) -> dict[str, int]:
    """History events of every call written between `start` and `end` (epoch seconds), by
    type: what the Temporal server did while the pushes were going out."""
    gate = asyncio.Semaphore(32)
    kinds: Counter[str] = Counter()

    async def one(call_id: str) -> None:
        async with gate:
            history = await client.get_workflow_handle(workflow_id_for(call_id)).fetch_history()
        for e in history.events:
            if start <= e.event_time.ToDatetime(tzinfo=UTC).timestamp() <= end:
                kinds[EventType.Name(e.event_type).removeprefix("EVENT_TYPE_").lower()] += 1

    await asyncio.gather(*(one(c) for c in call_ids))
    return dict(kinds.most_common())


async def slots_held_after_due_ms(
    client: Client, call_ids: list[str], due: datetime
) -> list[float]:
    """Due time -> agent slot held, per call, from its history (the first `hold_agent_slot`
    that completed); 0 for a slot held before the due time."""
    gate = asyncio.Semaphore(16)
    held_ms: list[float] = []

    async def one(call_id: str) -> None:
        async with gate:
            history = await client.get_workflow_handle(workflow_id_for(call_id)).fetch_history()
        asks = {
            e.event_id
            for e in history.events
            if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
            and e.activity_task_scheduled_event_attributes.activity_type.name == "hold_agent_slot"
        }
        for e in history.events:
            if (
                e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED
                and e.activity_task_completed_event_attributes.scheduled_event_id in asks
            ):
                at = e.event_time.ToDatetime(tzinfo=UTC).timestamp()
                held_ms.append(max(0.0, (at - due.timestamp()) * 1000))
                return

    await asyncio.gather(*(one(c) for c in call_ids))
    return held_ms


def count_pushes(pushes: list[ReceivedPush]) -> tuple[Counter[tuple[str, int]], int]:
    """Pushes per (call, attempt) as received, and how many arrived more than once."""
    per_attempt: Counter[tuple[str, int]] = Counter(
        (str(p.payload["call_id"]), int(p.payload.get("attempt", 0))) for p in pushes
    )
    # apns-id is derived from (call, attempt), so this also counts a resent apns-id once.
    return per_attempt, sum(n - 1 for n in per_attempt.values())


async def measure(stack: BenchStack, options: PeakOptions) -> dict[str, Any]:
    run_id = uuid.uuid4().hex[:8]
    seeded = _call_ids(run_id, options.calls)
    user_ids = [_user_id(c) for c in seeded]
    await seed_users(stack, seeded, date.today().isoformat())
    phones: SimulatedPhones | LiveKitPhones
    if options.agents:
        voice = Settings.model_fields["phone_voice"].default
        phones = LiveKitPhones(voice)
    else:
        phones = SimulatedPhones(stack.client, options.phone)
    phones.register(stack.apns, user_ids)

    lead_s = options.effective_lead_s()
    scheduled: ScheduledStart | None = None
    manager: ScheduleManager | None = None
    intents: PostgresScheduleIntentStore | None = None
    figures: dict[str, Any] = {}
    try:
        if options.via == "schedules":
            intents = await PostgresScheduleIntentStore.connect(stack.postgres.dsn)
            manager = schedules_manager(stack, options, lead_s, intents)
            scheduled = await create_schedules(manager, user_ids, lead_s, SCHEDULE_TIME_ZONE)
            call_ids, due = scheduled.call_ids, scheduled.due
            start_s = 0.0  # measured below from the workflows' start times
        else:
            call_ids = seeded
            due = datetime.fromtimestamp(math.ceil(time.time() + lead_s), tz=UTC)
            start_s = await start_calls(
                stack.client,
                stack.task_queue,
                call_ids,
                due,
                options.start_concurrency,
                options.timings(),
                agent_slots=bool(options.agents),
            )
        figures = await _ring_and_count(stack, options, phones, call_ids, due)
        if scheduled is not None:
            starts = await start_times(stack.client, set(call_ids))
            # The scheduler's start phase: from the nominal firing to the last call started.
            start_s = max(starts, default=scheduled.fire.timestamp()) - scheduled.fire.timestamp()
            figures["schedules"] = {
                "created": options.calls,
                "create_s": round(scheduled.create_s, 2),
                "created_per_s": round(options.calls / scheduled.create_s, 1),
                "time_zone": SCHEDULE_TIME_ZONE,
                "local_time": scheduled.local_time,
                "days": [scheduled.day],
                "fired_at": scheduled.fire.isoformat(),
                "workflows_started": len(starts),
                "first_start_after_firing_s": round(
                    min(starts, default=scheduled.fire.timestamp()) - scheduled.fire.timestamp(), 2
                ),
            }
    finally:
        if manager is not None:
            deleted = await delete_schedules(manager, user_ids)
            if "schedules" in figures:
                figures["schedules"]["deleted"] = deleted
        if intents is not None:
            await intents.close()
    figures["via"] = options.via
    figures["lead_s"] = lead_s
    figures["due_at"] = due.isoformat()
    figures["start_phase_s"] = round(start_s, 2)
    figures["workflows_started_per_s"] = round(options.calls / start_s, 1) if start_s > 0 else None
    figures["targets"] = targets_for(options.calls, options.agents)
    figures["targets_met"] = meets_targets(figures)
    return figures


async def _ring_and_count(
    stack: BenchStack,
    options: PeakOptions,
    phones: SimulatedPhones | LiveKitPhones,
    call_ids: list[str],
    due: datetime,
) -> dict[str, Any]:
    """From the started calls to the figures: wait for the due time, the pushes, the end of
    every call; count what happened."""
    wanted = set(call_ids)
    prepared = await wait_prepared(stack.client, options.calls, due)
    if time.time() >= due.timestamp():
        log.warning("the start phase ran past the due time: raise lead_s")
    await asyncio.sleep(max(0.0, due.timestamp() - time.time()))
    meter = stack.cpu_meter()
    at_due = meter.snapshot()
    await wait_pushes(stack, wanted, due.timestamp(), options.finish_within_s())
    cpu_peak = CpuMeter.between(at_due, meter.snapshot())
    await wait_finished(stack.client, options.finish_within_s())
    await phones.settle()
    await stack.apns.drain_deliveries()
    await stack.worker.stop()

    pushes = _ours(stack.apns.received, wanted)
    per_attempt, duplicated = count_pushes(pushes)
    first_push: dict[str, float] = {}
    for p in sorted(pushes, key=lambda p: p.received_at_wall):
        first_push.setdefault(str(p.payload["call_id"]), p.received_at_wall)
    latencies_ms = [(t - due.timestamp()) * 1000 for t in first_push.values()]
    records = [
        r for r in await stack.records.list_calls(limit=options.calls * 2) if r.call_id in wanted
    ]
    completed = {r.call_id for r in records if r.outcome == Outcome.COMPLETED}
    # A call is lost when it never rang or left no record; what it ended as is its outcome.
    rung_and_recorded = {r.call_id for r in records} & set(first_push)
    history = await history_profile(stack.client, call_ids[0], due, first_push.get(call_ids[0]))
    window_events = await events_in_window(
        stack.client, call_ids, due.timestamp(), max(first_push.values(), default=0.0)
    )

    figures: dict[str, Any] = {
        "bench": "peak",
        "via": options.via,
        "calls": options.calls,
        "all_pushes_sent_ms": round(max(latencies_ms), 1) if latencies_ms else None,
        "scheduled_to_push_ms": summary_ms(latencies_ms) if latencies_ms else None,
        "calls_completed": len(completed),
        "calls_lost": options.calls - len(rung_and_recorded),
        # Rung with nobody on the line: no agent greeted the phone (a call whose agent never
        # came is ended `no_agent` before its push, and is not counted here).
        "calls_rung_without_agent": sum(
            1 for r in records if r.outcome == Outcome.NO_AGENT and (r.pushes_sent or 0) > 0
        ),
        "calls_ended_no_agent_unrung": sum(
            1 for r in records if r.outcome == Outcome.NO_AGENT and not r.pushes_sent
        ),
        "pushes_duplicated": duplicated,
        "worker_cpu_s": stack.worker.usage.get("cpu_s"),
        "worker_peak_rss_mb": stack.worker.usage.get("peak_rss_mb"),
        "cpu_s_from_due_to_last_push": cpu_peak,
        "temporal": stack.temporal_description(),
        "pushes_received": len(pushes),
        "push_log_sent": await stack.records.count_pushes("sent"),
        "records_written": len(records),
        "outcomes": dict(Counter(r.outcome for r in records)),
        "memory_degraded": sum(1 for r in records if r.memory_degraded),
        "calls_pushed_twice_for_one_attempt": sum(1 for n in per_attempt.values() if n > 1),
        "prepared_before_due": prepared,
        # The ring activity starts this long before the due time and waits in the worker.
        "ring_arm_s": BENCH_TIMINGS.ring_arm_s,
        "history_events_per_call": history,
        "history_events_due_to_last_push": window_events,
        "phone": asdict(options.phone),
        "phone_signal_failures": phones.signal_failures,
        "agents": options.agents,
        "worker": {
            "process": "subprocess",
            **worker_slots(worker_sizing(options.calls)),
            "raised_for_this_peak": sorted(worker_sizing(options.calls)),
        },
    }
    if isinstance(phones, LiveKitPhones):
        figures.update(agent_figures(records, phones, options))
        held = await slots_held_after_due_ms(stack.client, call_ids, due)
        figures["slot_held_after_due_ms"] = spread_ms(held)
    return figures


def _latency(records: list[Any], name: str) -> list[float]:
    values = (r.latency.get(name) for r in records)
    return [float(v) for v in values if isinstance(v, int | float) and not isinstance(v, bool)]


def spread_ms(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    s = summary_ms(values)
    return {"p50": s["p50"], "p95": s["p95"], "max": s["max"]}


def agent_figures(
    records: list[Any], phones: LiveKitPhones, options: PeakOptions
) -> dict[str, Any]:
    """With agents: first agent audio (the agent's own measure, in the call record), the wait
    for a free agent (due time -> slot held), what the phones saw."""
    first_audio = _latency(records, "first_audio_ms")
    return {
        "first_audio_ms": spread_ms(first_audio),
        # As the workflow records it: from the call's first ask for a slot (which an armed
        # call makes before its due time) to the slot held.
        "wait_for_agent_ms": spread_ms(_latency(records, "wait_for_agent_ms")),
        "calls_with_first_audio": len(first_audio),
        "agent_capacity": options.agents,
        "agent_join_timeout_s": options.agent_join_timeout_s,
        "phone_outcomes": phones.outcomes(),
    }


def worker_sizing(calls: int) -> dict[str, int]:
    """Settings the worker needs beyond production's defaults to hold `calls` at once: every
    armed ring holds an activity slot until its due time, and the workflow cache must keep
    every call (else they replay at the peak). Empty up to the defaults' size (~1,500)."""
    fields = Settings.model_fields
    needed = {
        "worker_max_activities": calls + 500,
        "worker_max_cached_workflows": calls + 1000,
    }
    return {k: v for k, v in needed.items() if v > fields[k].default}


def worker_slots(overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """The worker's slot settings: the production defaults (the bench worker's environment
    holds no callflow variables) unless the bench raised them for a bigger peak."""
    fields = Settings.model_fields
    names = ("worker_max_activities", "worker_max_workflow_tasks", "worker_max_cached_workflows")
    return {name: (overrides or {}).get(name, fields[name].default) for name in names}


def targets_for(calls: int, agents: int = 0) -> dict[str, float]:
    if agents:
        return {"calls_rung_without_agent": 0, "first_audio_p95_ms": TARGET_FIRST_AUDIO_P95_MS}
    p99 = TARGET_P99_MS if calls <= 1000 else TARGET_P99_MS_ABOVE_1000
    return {"all_pushes_sent_ms": TARGET_ALL_PUSHES_MS, "p99_ms": p99}


def meets_targets(figures: dict[str, Any]) -> bool:
    if figures.get("agents"):
        # Calls beyond the capacity wait for an agent, so pushes are not all at the due time.
        first_audio_p95 = (figures.get("first_audio_ms") or {}).get("p95")
        return (
            figures["calls_rung_without_agent"] == 0
            and figures["calls_lost"] == 0
            and figures["pushes_duplicated"] == 0
            and first_audio_p95 is not None
            and first_audio_p95 <= TARGET_FIRST_AUDIO_P95_MS
        )
    p99 = (figures.get("scheduled_to_push_ms") or {}).get("p99")
    target_p99 = targets_for(int(figures.get("calls", 1000)))["p99_ms"]
    return (
        figures.get("all_pushes_sent_ms") is not None
        and figures["all_pushes_sent_ms"] <= TARGET_ALL_PUSHES_MS
        and p99 is not None
        and p99 < target_p99
        and figures["calls_lost"] == 0
        and figures["pushes_duplicated"] == 0
    )


async def run_peak_async(options: PeakOptions) -> dict[str, Any]:
    """Start the stack, run the peak once, stop everything; return the figures."""
    options.validate()
    async with bench_stack(
        persistence=options.persistence,
        agents=options.agents,
        worker_overrides=worker_sizing(options.calls),
    ) as stack:
        return await measure(stack, options)


def run_peak(
    calls: int,
    *,
    persistence: Persistence = "memory",
    via: Via = "direct",
    lead_s: float | None = None,
    answer_after_s: float = 0.0,
    hang_up_after_s: float = 0.0,
    agents: int = 0,
) -> dict[str, Any]:
    """`run_peak_async` for synchronous callers (the CLI)."""
    options = PeakOptions(
        calls=calls,
        persistence=persistence,
        via=via,
        lead_s=lead_s,
        agents=agents,
        phone=PhoneBehaviour(answer_after_s, hang_up_after_s),
    )
    return asyncio.run(run_peak_async(options))


def human_summary(figures: dict[str, Any]) -> str:
    latency = figures["scheduled_to_push_ms"] or {}
    return (
        f"{figures['calls']} calls due at once ({figures['via']}) on Temporal "
        f"{figures['temporal']['persistence']}: "
        f"last push {figures['all_pushes_sent_ms']} ms after the due time, "
        f"p50/p95/p99 {latency.get('p50')}/{latency.get('p95')}/{latency.get('p99')} ms; "
        f"{figures['calls_completed']} completed, {figures['calls_lost']} lost, "
        f"{figures['pushes_duplicated']} duplicated pushes; "
        f"{figures['workflows_started_per_s']} starts/s; worker {figures['worker_cpu_s']} CPU s, "
        f"{figures['worker_peak_rss_mb']} MB peak RSS; "
        f"targets {'met' if figures['targets_met'] else 'NOT met'}"
        + (_agent_summary(figures) if figures.get("agents") else "")
    )


def _agent_summary(figures: dict[str, Any]) -> str:
    first = figures.get("first_audio_ms") or {}
    wait = figures.get("wait_for_agent_ms") or {}
    return (
        f"; agent capacity {figures['agents']}: {figures['calls_rung_without_agent']} rung "
        f"without an agent, first audio p50/p95/max {first.get('p50')}/{first.get('p95')}/"
        f"{first.get('max')} ms, wait for an agent p50/p95/max {wait.get('p50')}/"
        f"{wait.get('p95')}/{wait.get('max')} ms"
    )


PHONE_ANSWER_AFTER_S = 5.0
PHONE_TALK_S = 20.0


def main(
    calls: int,
    json_output: bool,
    persistence: Persistence = "memory",
    via: Via = "direct",
    agents: int = 0,
) -> int:
    """The CLI's `bench peak`: a summary on stderr, the JSON line on stdout with --json. Via
    schedules, the schedules fire production's lead (DEFAULT_LEAD_S) ahead of the due time."""
    # Phones behave like people: they pick up a few seconds after the push and talk a while,
    # so the post-call work of one call does not run inside the minute everyone is rung.
    figures = run_peak(
        calls,
        persistence=persistence,
        via=via,
        agents=agents,
        answer_after_s=PHONE_ANSWER_AFTER_S,
        hang_up_after_s=PHONE_TALK_S,
    )
    summary = human_summary(figures)
    if json_output:
        print(summary, file=sys.stderr)
        print(json.dumps(figures), flush=True)
    else:
        print(summary, flush=True)
    ok = figures["calls_lost"] == 0 and figures["pushes_duplicated"] == 0
    if agents:
        ok = ok and figures["calls_rung_without_agent"] == 0
    return 0 if ok else 1
