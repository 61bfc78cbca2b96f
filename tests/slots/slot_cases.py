"""The rules every `AgentSlots` adapter must keep: test_postgres_slots.py, test_supabase_slots.py
and test_memory_slots.py run each case on a fresh store (no workers, no slots).

Lapses are real: holds and reports of a few tenths of a second, then a wait past them.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest

from callflow.ports import AgentSlots, AgentWorkerReport, SlotGrant, SlotRequest
from callflow.slots.errors import InvalidSlotRequest

DUE = datetime(2030, 1, 7, 9, 0, tzinfo=UTC)
HOLD = 60.0
SHORT = 0.4  # a hold or report that lapses within the case
PAST_SHORT = 0.8


def uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def ask(
    call_id: str, user_id: str | None = None, due: datetime = DUE, hold_s: float = HOLD
) -> SlotRequest:
    return SlotRequest(call_id, user_id or f"user-of-{call_id}", due.isoformat(), hold_s)


async def workers(slots: AgentSlots, *capacities: int, ttl_s: float = 60.0) -> list[str]:
    ids = [uid("worker") for _ in capacities]
    for worker_id, capacity in zip(ids, capacities, strict=True):
        await slots.report_worker(AgentWorkerReport(worker_id, capacity=capacity), ttl_s)
    return ids


async def capacity_is_what_live_workers_report(slots: AgentSlots) -> None:
    alone = uid("c")
    grant = await slots.acquire(ask(alone))
    assert grant == SlotGrant(granted=False, capacity=0, held=0, waiting_ahead=0)
    await slots.release(alone)

    lasting, _ = await workers(slots, 3, 2, ttl_s=60.0)
    await workers(slots, 4, ttl_s=SHORT)
    grant = await slots.acquire(ask(uid("c")))
    assert grant.granted and grant.capacity == 9 and grant.held == 1

    await asyncio.sleep(PAST_SHORT)  # the short-lived worker stopped reporting: it counts 0
    grant = await slots.acquire(ask(uid("c")))
    assert grant.capacity == 5 and grant.held == 2

    # A report replaces the worker's earlier one.
    await slots.report_worker(AgentWorkerReport(lasting, capacity=1, active=1), 60.0)
    grant = await slots.acquire(ask(uid("c")))
    assert grant.capacity == 3 and grant.held == 3 and grant.granted


async def grants_up_to_capacity_then_queues(slots: AgentSlots) -> None:
    await workers(slots, 2)
    first = await slots.acquire(ask("cap-1"))
    second = await slots.acquire(ask("cap-2"))
    third = await slots.acquire(ask("cap-3"))
    fourth = await slots.acquire(ask("cap-4"))
    assert (first.granted, first.held, first.capacity) == (True, 1, 2)
    assert (second.granted, second.held) == (True, 2)
    assert third == SlotGrant(granted=False, capacity=2, held=2, waiting_ahead=0)
    assert fourth == SlotGrant(granted=False, capacity=2, held=2, waiting_ahead=1)

    # The grant says when it lapses: `hold_s` after it was made, in UTC.
    assert first.expires_at is not None
    expires = datetime.fromisoformat(first.expires_at)
    assert expires.utcoffset() == timedelta(0)
    assert abs((expires - datetime.now(UTC)).total_seconds() - HOLD) < 5


async def earlier_due_calls_go_first(slots: AgentSlots) -> None:
    await workers(slots, 1)
    assert (await slots.acquire(ask("busy"))).granted
    late = ask("late", due=DUE + timedelta(minutes=10))
    early = ask("early", due=DUE)
    assert (await slots.acquire(late)).waiting_ahead == 0
    assert (await slots.acquire(early)).waiting_ahead == 0  # asked later, due sooner: ahead
    assert (await slots.acquire(late)).waiting_ahead == 1

    await slots.release("busy")
    refused = await slots.acquire(late)  # the late call asks first, but the early one is ahead
    assert not refused.granted and refused.waiting_ahead == 1 and refused.held == 0
    assert (await slots.acquire(early)).granted
    assert not (await slots.acquire(late)).granted  # and now it holds the one slot


async def calls_due_together_go_to_the_user_holding_fewer(slots: AgentSlots) -> None:
    await workers(slots, 2)
    assert (await slots.acquire(ask("a-1", "user-a"))).granted
    assert (await slots.acquire(ask("x-1", "user-x"))).granted
    # Due in the same second (microseconds apart): user a already holds a slot, user b none.
    a2 = await slots.acquire(ask("a-2", "user-a", due=DUE))
    b1 = await slots.acquire(ask("b-1", "user-b", due=DUE + timedelta(microseconds=900)))
    assert (a2.granted, a2.waiting_ahead) == (False, 0)
    assert (b1.granted, b1.waiting_ahead) == (False, 0)  # b ranks ahead: it holds fewer
    assert (await slots.acquire(ask("a-2", "user-a"))).waiting_ahead == 1

    await slots.release("x-1")
    assert not (await slots.acquire(ask("a-2", "user-a"))).granted  # the free slot is b's
    assert (await slots.acquire(ask("b-1", "user-b", due=DUE))).granted
    # With b served, a-2 is next in line.
    await slots.release("a-1")
    assert (await slots.acquire(ask("a-2", "user-a"))).granted


async def a_released_slot_goes_to_the_next_waiting_call(slots: AgentSlots) -> None:
    await workers(slots, 1)
    assert (await slots.acquire(ask("one"))).granted
    assert not (await slots.acquire(ask("two"))).granted
    await slots.release("one")
    await slots.release("one")  # idempotent
    await slots.release(uid("never-asked"))
    grant = await slots.acquire(ask("two"))
    assert grant.granted and grant.held == 1
    assert not await slots.renew("one", HOLD)

    # Releasing a waiting call gives up its place.
    assert not (await slots.acquire(ask("three"))).granted
    assert (await slots.acquire(ask("four"))).waiting_ahead == 1
    await slots.release("three")
    assert (await slots.acquire(ask("four"))).waiting_ahead == 0


async def a_lapsed_hold_frees_itself(slots: AgentSlots) -> None:
    await workers(slots, 1)
    assert (await slots.acquire(ask("crashed", hold_s=SHORT))).granted
    assert not (await slots.acquire(ask("next"))).granted
    await asyncio.sleep(PAST_SHORT)  # the holder died without releasing
    assert not await slots.renew("crashed", HOLD)
    grant = await slots.acquire(ask("next"))
    assert grant.granted and grant.held == 1


async def renewing_extends_a_held_slot_only(slots: AgentSlots) -> None:
    await workers(slots, 1)
    assert (await slots.acquire(ask("long", hold_s=SHORT))).granted
    assert await slots.renew("long", HOLD)
    await asyncio.sleep(PAST_SHORT)
    assert not (await slots.acquire(ask("other"))).granted  # still held: it was renewed
    assert not await slots.renew("other", HOLD)  # waiting is not holding
    assert not await slots.renew(uid("unknown"), HOLD)


async def asking_again_holds_one_slot_and_keeps_one_place(slots: AgentSlots) -> None:
    await workers(slots, 2)
    first = await slots.acquire(ask("same"))
    again = await slots.acquire(ask("same"))
    assert first.granted and again.granted and again.held == 1
    assert (await slots.acquire(ask("fill"))).held == 2

    assert (await slots.acquire(ask("w-1"))).waiting_ahead == 0
    assert (await slots.acquire(ask("w-2"))).waiting_ahead == 1
    assert (await slots.acquire(ask("w-1"))).waiting_ahead == 0  # its place, not a new one
    assert (await slots.acquire(ask("w-2"))).waiting_ahead == 1

    # Re-asking a held slot pushes its lapse out, like a renewal.
    assert (await slots.acquire(ask("short", hold_s=SHORT))).granted is False
    await slots.release("fill")
    await slots.release("w-1")
    await slots.release("w-2")
    assert (await slots.acquire(ask("short", hold_s=SHORT))).granted
    assert (await slots.acquire(ask("short", hold_s=HOLD))).granted
    await asyncio.sleep(PAST_SHORT)
    assert await slots.renew("short", HOLD)


async def a_waiting_place_lapses_when_its_call_stops_asking(slots: AgentSlots) -> None:
    await workers(slots, 1)
    assert (await slots.acquire(ask("holder"))).granted
    assert not (await slots.acquire(ask("gone", hold_s=SHORT))).granted
    assert (await slots.acquire(ask("behind"))).waiting_ahead == 1
    await asyncio.sleep(PAST_SHORT)
    await slots.release("holder")
    assert (await slots.acquire(ask("behind"))).granted  # the dead caller's place is gone


async def no_capacity_grants_nothing_and_a_draining_worker_counts_zero(
    slots: AgentSlots,
) -> None:
    [worker] = await workers(slots, 1)
    assert (await slots.acquire(ask("in-call"))).granted
    await slots.report_worker(AgentWorkerReport(worker, capacity=0, active=1), 60.0)
    grant = await slots.acquire(ask("refused"))
    assert grant == SlotGrant(granted=False, capacity=0, held=1, waiting_ahead=0)
    assert await slots.renew("in-call", HOLD)  # a call under way keeps its slot


async def bad_values_are_refused_naming_the_field(slots: AgentSlots) -> None:
    for request, field in [
        (ask("bad", hold_s=0), "hold_s"),
        (ask("bad", hold_s=float("nan")), "hold_s"),
        (ask("bad", hold_s=float("inf")), "hold_s"),
        (SlotRequest("bad", "u", "tomorrow", HOLD), "due_at"),
        (SlotRequest("", "u", DUE.isoformat(), HOLD), "call_id"),
        (SlotRequest("bad", "", DUE.isoformat(), HOLD), "user_id"),
    ]:
        with pytest.raises(InvalidSlotRequest, match=field):
            await slots.acquire(request)
    with pytest.raises(InvalidSlotRequest, match="capacity"):
        await slots.report_worker(AgentWorkerReport("w", capacity=-1), 60.0)
    with pytest.raises(InvalidSlotRequest, match="ttl_s"):
        await slots.report_worker(AgentWorkerReport("w", capacity=1), 0)
    with pytest.raises(InvalidSlotRequest, match="hold_s"):
        await slots.renew("bad", -1)
    # One call is one user's.
    await slots.acquire(ask("owned", "user-1"))
    with pytest.raises(InvalidSlotRequest):
        await slots.acquire(ask("owned", "user-2"))
    # A due time without an offset is UTC.
    naive_due = (DUE - timedelta(hours=1)).replace(tzinfo=None)
    naive = SlotRequest("naive", "u", naive_due.isoformat(), HOLD)
    assert (await slots.acquire(naive)).waiting_ahead == 0


Case = Callable[[AgentSlots], Awaitable[None]]
CASES: list[Case] = [
    capacity_is_what_live_workers_report,
    grants_up_to_capacity_then_queues,
    earlier_due_calls_go_first,
    calls_due_together_go_to_the_user_holding_fewer,
    a_released_slot_goes_to_the_next_waiting_call,
    a_lapsed_hold_frees_itself,
    renewing_extends_a_held_slot_only,
    asking_again_holds_one_slot_and_keeps_one_place,
    a_waiting_place_lapses_when_its_call_stops_asking,
    no_capacity_grants_nothing_and_a_draining_worker_counts_zero,
    bad_values_are_refused_naming_the_field,
]


async def concurrent_acquires_grant_exactly_capacity(
    stores: list[AgentSlots], calls: int = 20, capacity: int = 5
) -> list[SlotGrant]:
    """`calls` acquires at once, spread over `stores` (each its own pool, as processes are)."""
    await workers(stores[0], capacity)
    requests = [ask(f"rush-{i:02d}", f"user-{i % 7}") for i in range(calls)]
    grants = await asyncio.gather(
        *(stores[i % len(stores)].acquire(r) for i, r in enumerate(requests))
    )
    assert sum(g.granted for g in grants) == capacity
    assert all(g.held <= capacity for g in grants)
    assert all(g.expires_at for g in grants if g.granted)
    return list(grants)
