"""`callflow bench peak`: N calls fall due in the same second; how fast does every phone ring?

The calls are started ahead of the due time, so each one loads its user, due commitments and
memory first and then sleeps; `ring_arm_s` before the due time each starts its `ring` activity,
which creates the room and waits in the worker; at the due time the worker dispatches the agent
and sends the VoIP push with no Temporal round trip. Every figure is counted from what really
happened: pushes as the local APNs endpoint received them, records as Postgres holds them.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import sys
import time
import uuid
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from callflow.local.bench.cpu import CpuMeter
from callflow.local.bench.errors import BenchInputError, BenchTimeout
from callflow.local.bench.phones import PhoneBehaviour, SimulatedPhones, voip_token_for
from callflow.local.bench.stack import PERSISTENCE_NAMES, BenchStack, Persistence, bench_stack
from callflow.local.bench.stats import summary_ms
from callflow.local.phone.apns_endpoint import ReceivedPush
from callflow.models import Commitment, Outcome, User
from callflow.settings import Settings
from workflows.call import CallWorkflow
from workflows.messages import CALL_STAGE, CallInput, CallTimings, Stage, workflow_id_for

log = logging.getLogger("callflow.local.bench.peak")

MAX_CALLS = 20_000
# The goal of the issue, on this 2-core machine, for 1,000 calls due at once.
TARGET_ALL_PUSHES_MS = 10_000
TARGET_P99_MS = 5_000
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
    # Seconds from the start of the start phase to the due time; None = enough for `calls`.
    lead_s: float | None = None
    start_concurrency: int = 100  # workflow starts in flight at once on the one client
    phone: PhoneBehaviour = field(default_factory=PhoneBehaviour)
    finish_timeout_s: float = 300.0

    def validate(self) -> None:
        if not 1 <= self.calls <= MAX_CALLS:
            raise BenchInputError(f"calls is {self.calls}: pass between 1 and {MAX_CALLS} calls")
        if self.persistence not in PERSISTENCE_NAMES:
            raise BenchInputError(
                f"persistence is {self.persistence!r}: pass 'memory' or 'file' (SQLite)"
            )
        if self.lead_s is not None and self.lead_s < 1:
            raise BenchInputError(f"lead_s is {self.lead_s}: give the calls at least 1 s")
        if self.start_concurrency < 1:
            raise BenchInputError("start_concurrency must be at least 1")

    def effective_lead_s(self) -> float:
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
                    timings=BENCH_TIMINGS,
                    scheduled_for=due.isoformat(),
                ),
                id=workflow_id_for(call_id),
                task_queue=task_queue,
            )

    began = time.monotonic()
    await asyncio.gather(*(start(c) for c in call_ids))
    return time.monotonic() - began


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


async def wait_pushes(stack: BenchStack, call_ids: set[str], due_ts: float) -> None:
    deadline = due_ts + max(60.0, len(call_ids) / 10)
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


def count_pushes(pushes: list[ReceivedPush]) -> tuple[Counter[tuple[str, int]], int]:
    """Pushes per (call, attempt) as received, and how many arrived more than once."""
    per_attempt: Counter[tuple[str, int]] = Counter(
        (str(p.payload["call_id"]), int(p.payload.get("attempt", 0))) for p in pushes
    )
    # apns-id is derived from (call, attempt), so this also counts a resent apns-id once.
    return per_attempt, sum(n - 1 for n in per_attempt.values())


async def measure(stack: BenchStack, options: PeakOptions) -> dict[str, Any]:
    run_id = uuid.uuid4().hex[:8]
    call_ids = _call_ids(run_id, options.calls)
    wanted = set(call_ids)
    await seed_users(stack, call_ids, date.today().isoformat())
    phones = SimulatedPhones(stack.client, options.phone)
    phones.register(stack.apns, [_user_id(c) for c in call_ids])

    lead_s = options.effective_lead_s()
    due = datetime.fromtimestamp(math.ceil(time.time() + lead_s), tz=UTC)
    start_s = await start_calls(
        stack.client, stack.task_queue, call_ids, due, options.start_concurrency
    )
    prepared = await wait_prepared(stack.client, options.calls, due)
    if time.time() >= due.timestamp():
        log.warning("the start phase ran past the due time: raise lead_s")
    await asyncio.sleep(max(0.0, due.timestamp() - time.time()))
    meter = stack.cpu_meter()
    at_due = meter.snapshot()
    await wait_pushes(stack, wanted, due.timestamp())
    cpu_peak = CpuMeter.between(at_due, meter.snapshot())
    await wait_finished(stack.client, options.finish_timeout_s)
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
        "calls": options.calls,
        "all_pushes_sent_ms": round(max(latencies_ms), 1) if latencies_ms else None,
        "scheduled_to_push_ms": summary_ms(latencies_ms) if latencies_ms else None,
        "calls_completed": len(completed),
        "calls_lost": options.calls - len(rung_and_recorded),
        # Answered with nobody on the line: no agent greeted the phone.
        "calls_rung_without_agent": sum(1 for r in records if r.outcome == Outcome.NO_AGENT),
        "pushes_duplicated": duplicated,
        "workflows_started_per_s": round(options.calls / start_s, 1),
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
        "lead_s": lead_s,
        # The ring activity starts this long before the due time and waits in the worker.
        "ring_arm_s": BENCH_TIMINGS.ring_arm_s,
        "start_phase_s": round(start_s, 2),
        "history_events_per_call": history,
        "history_events_due_to_last_push": window_events,
        "phone": asdict(options.phone),
        "phone_signal_failures": phones.signal_failures,
        "worker": {"process": "subprocess", **worker_slots()},
    }
    figures["targets_met"] = meets_targets(figures)
    return figures


def worker_slots() -> dict[str, Any]:
    """The worker's slot settings: the production defaults (the bench worker's environment
    holds no callflow variables)."""
    fields = Settings.model_fields
    names = ("worker_max_activities", "worker_max_workflow_tasks", "worker_max_cached_workflows")
    return {name: fields[name].default for name in names}


def meets_targets(figures: dict[str, Any]) -> bool:
    p99 = (figures.get("scheduled_to_push_ms") or {}).get("p99")
    return (
        figures.get("all_pushes_sent_ms") is not None
        and figures["all_pushes_sent_ms"] <= TARGET_ALL_PUSHES_MS
        and p99 is not None
        and p99 < TARGET_P99_MS
        and figures["calls_lost"] == 0
        and figures["pushes_duplicated"] == 0
    )


async def run_peak_async(options: PeakOptions) -> dict[str, Any]:
    """Start the stack, run the peak once, stop everything; return the figures."""
    options.validate()
    async with bench_stack(persistence=options.persistence) as stack:
        return await measure(stack, options)


def run_peak(
    calls: int,
    *,
    persistence: Persistence = "memory",
    lead_s: float | None = None,
    answer_after_s: float = 0.0,
    hang_up_after_s: float = 0.0,
) -> dict[str, Any]:
    """`run_peak_async` for synchronous callers (the CLI)."""
    options = PeakOptions(
        calls=calls,
        persistence=persistence,
        lead_s=lead_s,
        phone=PhoneBehaviour(answer_after_s, hang_up_after_s),
    )
    return asyncio.run(run_peak_async(options))


def human_summary(figures: dict[str, Any]) -> str:
    latency = figures["scheduled_to_push_ms"] or {}
    return (
        f"{figures['calls']} calls due at once on Temporal {figures['temporal']['persistence']}: "
        f"last push {figures['all_pushes_sent_ms']} ms after the due time, "
        f"p50/p95/p99 {latency.get('p50')}/{latency.get('p95')}/{latency.get('p99')} ms; "
        f"{figures['calls_completed']} completed, {figures['calls_lost']} lost, "
        f"{figures['pushes_duplicated']} duplicated pushes; "
        f"{figures['workflows_started_per_s']} starts/s; worker {figures['worker_cpu_s']} CPU s, "
        f"{figures['worker_peak_rss_mb']} MB peak RSS; "
        f"targets {'met' if figures['targets_met'] else 'NOT met'}"
    )


PHONE_ANSWER_AFTER_S = 5.0
PHONE_TALK_S = 20.0


def main(calls: int, json_output: bool, persistence: Persistence = "memory") -> int:
    """The CLI's `bench peak`: a summary on stderr, the JSON line on stdout with --json."""
    # Phones behave like people: they pick up a few seconds after the push and talk a while,
    # so the post-call work of one call does not run inside the minute everyone is rung.
    figures = run_peak(
        calls,
        persistence=persistence,
        answer_after_s=PHONE_ANSWER_AFTER_S,
        hang_up_after_s=PHONE_TALK_S,
    )
    summary = human_summary(figures)
    if json_output:
        print(summary, file=sys.stderr)
        print(json.dumps(figures), flush=True)
    else:
        print(summary, flush=True)
    return 0 if figures["calls_lost"] == 0 and figures["pushes_duplicated"] == 0 else 1
