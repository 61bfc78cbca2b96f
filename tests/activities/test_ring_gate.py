"""RingGate: rings take turns to push; one that has pushed waits for the queue behind it."""

from __future__ import annotations

import asyncio

from activities.ring_gate import RingGate


async def test_turns_are_bounded_and_the_queue_is_counted() -> None:
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
    assert len(inside) == 2 and gate.queued == 3
    assert not await gate.wait_none_queued(0.05)  # three still wait for a turn
    release.set()
    await asyncio.gather(*tasks)
    assert most == 2 and gate.queued == 0
    assert await gate.wait_none_queued(0.05)


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
    assert gate.queued == 1
    queued.cancel()
    await asyncio.gather(queued, return_exceptions=True)
    assert gate.queued == 0 and await gate.wait_none_queued(0.01)
    hold.set()
    await holder
