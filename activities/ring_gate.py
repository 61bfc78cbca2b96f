"""Pushes first, bookkeeping after: how the rings of one worker share the due second.

At the morning peak every armed ring of a worker wakes in the same second. Each ring that
completes its activity costs the Temporal server a completion, a workflow task and its
commands, and the worker a workflow activation: work that competed for the CPU with the
pushes still queued (measured: up to 6 CPU s of the Temporal server inside a 7 s window for
1,000 calls). So rings take turns to push, a bounded number at once, and a ring that has
pushed reports back only once every ring of its worker has pushed (ring.py bounds that
wait). Outside a burst the worker is idle between rings and nobody waits long.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator


class RingGate:
    def __init__(self, in_flight: int) -> None:
        self._in_flight = in_flight
        self._pending = 0
        # Made on first use, inside the worker's event loop.
        self._turns: asyncio.Semaphore | None = None
        self._idle: asyncio.Event | None = None

    @property
    def pending(self) -> int:
        """Rings that are ready to push or pushing: queued for a turn or holding one."""
        return self._pending

    @contextlib.asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        """Hold one of the `in_flight` turns to ring (dispatch, claim, push)."""
        turns, idle = self._primitives()
        self._pending += 1
        idle.clear()
        try:
            async with turns:
                yield
        finally:
            self._pending -= 1
            if self._pending == 0:
                idle.set()

    async def wait_idle(self, timeout_s: float) -> bool:
        """Wait until no ring is pending; False if `timeout_s` passed first."""
        _, idle = self._primitives()
        try:
            await asyncio.wait_for(idle.wait(), timeout_s)
        except TimeoutError:
            return False
        return True

    def _primitives(self) -> tuple[asyncio.Semaphore, asyncio.Event]:
        if self._turns is None or self._idle is None:
            self._turns = asyncio.Semaphore(self._in_flight)
            self._idle = asyncio.Event()
            self._idle.set()
        return self._turns, self._idle
