"""RingGate: rings take turns to push, and the gate says when none is left to push."""

from __future__ import annotations

import asyncio

from activities.ring_gate import RingGate


async def test_turns_are_bounded_and_pending_rings_are_counted() -> None:
    gate = RingGate(in_flight=2)
    inside: list[int] = []
    most = 0
    release = asyncio.Event()

    async def ring(i: int) -> None:
        nonlocal most
        async with gate.turn():
            inside.append(i)
            most = max(most, len(inside))
            await release.wait()
            inside.remove(i)

    tasks = [asyncio.create_task(ring(i)) for i in range(5)]
    await asyncio.sleep(0.05)
    assert len(inside) == 2 and gate.pending == 5
    assert not await gate.wait_idle(0.05)  # two ringing, three waiting for a turn
    release.set()
    await asyncio.gather(*tasks)
    assert most == 2 and gate.pending == 0
    assert await gate.wait_idle(0.05)


async def test_a_ring_cancelled_while_queued_leaves_the_queue() -> None:
    gate = RingGate(in_flight=1)
    hold = asyncio.Event()

    async def first() -> None:
        async with gate.turn():
            await hold.wait()

    async def second() -> None:
        async with gate.turn():
            pass

    holder = asyncio.create_task(first())
    await asyncio.sleep(0.01)
    queued = asyncio.create_task(second())
    await asyncio.sleep(0.01)
    assert gate.pending == 2
    queued.cancel()
    await asyncio.gather(queued, return_exceptions=True)
    assert gate.pending == 1 and not await gate.wait_idle(0.01)
    hold.set()
    await holder
    assert gate.pending == 0 and await gate.wait_idle(0.01)
