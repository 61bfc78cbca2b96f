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
        self._pending = 0
        # Since Python 3.10 these bind to the event loop that first waits on them.
        self._turns = asyncio.Semaphore(in_flight)
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def pending(self) -> int:
        """Rings that are ready to push or pushing: queued for a turn or holding one."""
        return self._pending

    @contextlib.asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        """Hold one of the `in_flight` turns to ring (dispatch, claim, push)."""
        self._pending += 1
        self._idle.clear()
        try:
            async with self._turns:
                yield
        finally:
            self._pending -= 1
            if self._pending == 0:
                self._idle.set()

    async def wait_idle(self, timeout_s: float) -> bool:
        """Wait until no ring is pending; False if `timeout_s` passed first."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout_s)
        except TimeoutError:
            return False
        return True
