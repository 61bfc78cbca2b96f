"""Activities that hold an agent slot for a call before its phone is rung, and free it after.

`hold_agent_slot` asks the slots store until the call is granted a slot or its wait runs out
(the max wait, counted from the first ask at the due time), heartbeating, so a worker that
dies while its call waits hands the wait to another worker, which keeps the call's place
(asking is idempotent).
While it waits the call's place lapses after a short hold unless asked again; once granted,
the slot is held for the whole call and lapses by itself if nobody releases it.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from temporalio import activity

from callflow.ports import AgentSlots, SlotRequest

# A waiting place lapses this long after the call last asked (a dead waiter frees it soon).
WAITING_HOLD_S = 30.0


@dataclass
class HoldSlotInput:
    call_id: str
    user_id: str
    due_at: str  # ISO-8601 UTC: calls are granted in due-time order
    hold_s: float  # the grant lapses this long after it was made, if never released
    max_wait_s: float  # after waiting this long, the call gives up its place
    poll_s: float = 1.0


@dataclass
class HoldSlotOutput:
    granted: bool
    capacity: int
    held: int
    waiting_ahead: int
    waited_s: float  # from the first ask to the grant, or to giving up


@dataclass
class ReleaseSlotInput:
    call_id: str


class SlotActivities:
    def __init__(self, slots: AgentSlots | None) -> None:
        self._slots = slots  # None: capacity is not managed (every call is granted)

    @activity.defn
    async def hold_agent_slot(self, input: HoldSlotInput) -> HoldSlotOutput:
        if self._slots is None:
            return HoldSlotOutput(True, 0, 0, 0, 0.0)
        # The wait is measured here, on this worker's clock, and carried in the heartbeat: a
        # retry on another worker (this one died) goes on with what is left of it. `due_at`
        # only orders the calls (every workflow stamps it from the same server clock).
        details = activity.info().heartbeat_details
        waited_before = float(details[0]) if details else 0.0
        started = time.monotonic()
        waiting = SlotRequest(input.call_id, input.user_id, input.due_at, WAITING_HOLD_S)
        while True:
            grant = await self._slots.acquire(waiting)
            waited = waited_before + time.monotonic() - started
            if grant.granted:
                # Held for the whole call from now on, not for the short waiting hold.
                await self._slots.renew(input.call_id, input.hold_s)
                return HoldSlotOutput(True, grant.capacity, grant.held, grant.waiting_ahead, waited)
            if waited >= input.max_wait_s:
                await self._slots.release(input.call_id)
                return HoldSlotOutput(
                    False, grant.capacity, grant.held, grant.waiting_ahead, waited
                )
            activity.heartbeat(waited)
            await asyncio.sleep(min(input.poll_s, max(0.05, input.max_wait_s - waited)))

    @activity.defn
    async def release_agent_slot(self, input: ReleaseSlotInput) -> None:
        if self._slots is not None:
            await self._slots.release(input.call_id)
