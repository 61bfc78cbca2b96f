"""Every call that ends without an answered conversation closes its room at once, so the
dispatched agent leaves instead of idling until LiveKit's empty timeout; a records store away
for a call's whole ring window ends it saying so."""

from __future__ import annotations

from dataclasses import replace

from callflow.models import User
from callflow.records.errors import InvalidRecord, RecordsUnavailable
from tests.workflows.test_call_workflow import TIMINGS, Harness, h  # noqa: F401 (the fixture)
from workflows.messages import room_name_for


async def test_an_unreachable_call_closes_its_room_at_once(h: Harness) -> None:  # noqa: F811
    result, _ = await h.run(["unreachable"])

    assert result.outcome == "unreachable"
    room = room_name_for(result.call_id, 1)
    assert room in h.rooms.dispatched  # the agent was sent in...
    assert room in h.rooms.deleted  # ...and the room closed, which sends it away


async def test_a_ring_that_fails_after_the_room_was_made_closes_it(h: Harness) -> None:  # noqa: F811
    async def broken_dispatch(room: str, count: int) -> None:
        raise InvalidRecord("dispatch refused for good")

    h.rooms.on_dispatch = broken_dispatch
    try:
        result, _ = await h.run(["answer"])
    finally:
        h.rooms.on_dispatch = None

    assert result.outcome == "failed"
    room = room_name_for(result.call_id, 1)
    assert room in h.rooms.created and room in h.rooms.deleted


async def test_a_missed_call_closes_each_room_once(h: Harness) -> None:  # noqa: F811
    result, _ = await h.run(["ignore"])

    assert result.outcome == "missed"
    rooms = [room_name_for(result.call_id, n) for n in range(1, result.attempts + 1)]
    assert [r for r in h.rooms.deleted if r in rooms] == rooms


async def test_a_store_away_for_the_whole_ring_window_ends_saying_so(h: Harness) -> None:  # noqa: F811
    async def store_away(call_id: str, attempt: int) -> bool:
        raise RecordsUnavailable("connection refused")

    claim = h.records.claim_push
    h.records.claim_push = store_away  # type: ignore[method-assign]
    try:
        result, _ = await h.run(["answer"], timings=replace(TIMINGS, agent_max_wait_s=20))
    finally:
        h.records.claim_push = claim  # type: ignore[method-assign]

    assert result.outcome == "failed" and result.pushes_sent == 0
    assert "records store unavailable while ringing until the ring window ran out" in (
        result.failure_reason or ""
    )
    assert room_name_for(result.call_id, 1) in h.rooms.deleted


async def test_loading_the_user_outlasts_a_short_store_outage(h: Harness) -> None:  # noqa: F811
    get_user = h.records.get_user
    failures = iter(range(8))  # more than the five quick tries of before

    async def store_back_soon(user_id: str) -> User | None:
        if next(failures, None) is not None:
            raise RecordsUnavailable("connection refused")
        return await get_user(user_id)

    h.records.get_user = store_back_soon  # type: ignore[method-assign]
    try:
        result, _ = await h.run(["answer"])
    finally:
        h.records.get_user = get_user  # type: ignore[method-assign]

    assert result.outcome == "completed" and result.pushes_sent == 1
