"""`MemoryAgentSlots` (the workflow tests' stand-in) keeps the rules the SQL functions keep:
the same cases, and its time is the clock it is given."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.slots.slot_cases import CASES, Case, ask, workers
from tests.workflows.fakes import MemoryAgentSlots


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.__name__)
async def test_slot_rules(case: Case) -> None:
    await case(MemoryAgentSlots())


async def test_time_is_the_injected_clock() -> None:
    now = [datetime(2030, 1, 1, 9, 0, tzinfo=UTC)]
    slots = MemoryAgentSlots(clock=lambda: now[0])
    await workers(slots, 1, ttl_s=15.0)
    grant = await slots.acquire(ask("c1", hold_s=120.0))
    assert grant.granted and grant.expires_at == "2030-01-01T09:02:00+00:00"
    assert not (await slots.acquire(ask("c2", hold_s=600.0))).granted

    now[0] += timedelta(seconds=14)
    assert await slots.renew("c1", 120.0)  # now held until 09:02:14
    now[0] += timedelta(seconds=2)  # the worker's report lapsed at 09:00:15
    assert (await slots.acquire(ask("c2", hold_s=600.0))).capacity == 0
    await workers(slots, 1, ttl_s=600.0)

    now[0] += timedelta(minutes=3)  # c1's holder never renewed again: its slot lapses
    assert slots.held() == []
    assert (await slots.acquire(ask("c2", hold_s=600.0))).granted
    assert slots.held() == ["c2"] and slots.waiting() == []
