"""Pushes first, bookkeeping after: how the rings of one worker share the due second.

At the morning peak every armed ring of a worker wakes in the same second. Each ring that
completes its activity costs the Temporal server a completion, a workflow task and its
commands, and the worker a workflow activation: work that competed for the CPU with the
pushes still queued (measured: up to 6 CPU s of the Temporal server inside a 7 s window for
1,000 calls). So rings take turns to push, a bounded number at once, and a ring that has
pushed reports back only once no ring is queued behind it (ring.py bounds that wait).
Outside a burst nothing queues and nothing waits.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator


class RingGate:
    def __init__(self, in_flight: int) -> None:
        self._in_flight = in_flight
        self._queued = 0
        # Made on first use, inside the worker's event loop.
        self._turns: asyncio.Semaphore | None = None
        self._none_queued: asyncio.Event | None = None

    @property
    def queued(self) -> int:
        """Rings ready to push and waiting for their turn."""
        return self._queued

    @contextlib.asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        """Hold one of the `in_flight` turns to ring (dispatch, claim, push)."""
        turns, none_queued = self._primitives()
        self._queued += 1
        none_queued.clear()
        try:
            await turns.acquire()
        finally:
            self._queued -= 1
            if self._queued == 0:
                none_queued.set()
        try:
            yield
        finally:
            turns.release()

    async def wait_none_queued(self, timeout_s: float) -> bool:
        """Wait until no ring is waiting for its turn; False if `timeout_s` passed first."""
        _, none_queued = self._primitives()
        try:
            await asyncio.wait_for(none_queued.wait(), timeout_s)
        except TimeoutError:
            return False
        return True

    def _primitives(self) -> tuple[asyncio.Semaphore, asyncio.Event]:
        if self._turns is None or self._none_queued is None:
            self._turns = asyncio.Semaphore(self._in_flight)
            self._none_queued = asyncio.Event()
            self._none_queued.set()
        return self._turns, self._none_queued
