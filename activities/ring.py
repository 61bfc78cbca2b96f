"""One attempt's ring: room + agent dispatch + phone token + VoIP push, as one idempotent step.

One activity instead of four keeps an attempt to three history events. Every part is
idempotent: the room and dispatch are created once per room name, and the push is claimed in
the records store before it is sent, so a retried activity never rings the phone twice for the
same attempt.

Armed rings (`ring_at` set): the workflow starts the activity up to a minute before the due
time; it creates the room and the phone's token, then waits in the worker, heartbeating, and
rings at `ring_at`. At the morning peak the due second then costs the Temporal server nothing
before the push: no timer firing, no workflow task, no activity dispatch (measured in
`callflow bench peak`). A worker that dies while armed misses its heartbeat; the retry on
another worker waits for the rest of the time or rings at once if the due time has passed.
In a burst, a ring that has pushed reports back once its worker's other rings have pushed
too (ring_gate.py), so the completions wait until the pushes are out.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from temporalio import activity

from activities.ring_gate import RingGate
from callflow.ports import PushSender, RecordsStore, RoomGrant, RoomService, VoipPush
from callflow.push.errors import PushInDoubt
from workflows.agent_job import room_metadata_for


@dataclass
class RingInput:
    call_id: str
    attempt: int
    room: str
    user_id: str
    display_name: str
    device_token: str
    caller_name: str
    agent_name: str
    agent_metadata: str  # JSON the agent reads (docs/architecture.md, "Processes")
    token_ttl_s: int
    empty_timeout_s: int  # counted from the ring (an armed ring adds its wait)
    # ISO-8601 on the Temporal server's clock; None rings at once.
    ring_at: str | None = None
    # Seconds the phone may answer after the ring (the join window). Set: the push's
    # `expires_at` is the end of that window and the token lives `token_ttl_s` from the ring
    # (an armed wait added). None (calls started before): both are the token's own expiry.
    ring_window_s: float | None = None


@dataclass
class RingOutput:
    room: str
    apns_id: str
    push_sent: bool
    duplicate_suppressed: bool
    expires_at: str
    rang_at: str = ""  # when the ring began, on the server's clock (ISO-8601)
    # APNs took the push but its answer was lost: it may or may not have reached the phone.
    # Counted as sent (a resend could ring twice); the join wait tells whether it arrived.
    push_in_doubt: bool = False


@dataclass
class WithholdInput:
    call_id: str
    attempt: int


@dataclass
class WithholdOutput:
    withheld: bool  # False: the ring had already claimed the push and is sending it


# An armed ring heartbeats this often while it waits (more often if the workflow's heartbeat
# timeout is short).
ARMED_HEARTBEAT_S = 5.0
# Rings in progress at once per worker process: at the peak every armed ring wakes in the same
# second, and a bounded number in flight lets pushes leave in order instead of all at the end.
RINGS_IN_FLIGHT = 64
# How long a ring that has pushed may wait for the other rings of its worker to push before it
# reports back (ring_gate.py); the workflow's join timeout starts when it does.
REPORT_DELAY_MAX_S = 10.0


def apns_id_for(call_id: str, attempt: int) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"callflow:{call_id}:push:{attempt}"))


class RingActivities:
    def __init__(
        self,
        rooms: RoomService,
        push: PushSender,
        records: RecordsStore,
        push_expiry_s: int = 60,
        rings_in_flight: int = RINGS_IN_FLIGHT,
    ) -> None:
        self._rooms = rooms
        self._push = push
        self._records = records
        self._push_expiry_s = push_expiry_s
        self._gate = RingGate(rings_in_flight)

    @activity.defn
    async def ring(self, input: RingInput) -> RingOutput:
        started = asyncio.get_running_loop().time()
        wait_s = _seconds_until(input.ring_at)
        empty_timeout_s = input.empty_timeout_s + max(0, int(wait_s) + 1)
        # Participants can read the room's metadata: the call's context goes on the dispatch.
        # Participants can read the room's metadata: the call's context goes on the dispatch.
        public = room_metadata_for(input.call_id, input.agent_metadata)
        await self._rooms.create_room(input.room, public, empty_timeout_s)
        # The token's lifetime starts now. With a ring window it is counted from the ring (an
        # armed wait added), so a phone cannot join once the attempt is abandoned; before, an
        # armed wait (at most a minute) came out of it.
        ttl_s = input.token_ttl_s
        if input.ring_window_s is not None:
            ttl_s += max(0, math.ceil(wait_s))
        grant = self._rooms.phone_token(
            input.room, identity=input.user_id, name=input.display_name, ttl_s=ttl_s
        )
        if wait_s > 0:
            await _wait_heartbeating(started + wait_s)
        rang_at = _server_now(started)
        # From here the ring completes even if a cancellation arrives: the workflow waits for
        # the activity's end, so the result says whether the phone was rung.
        ringing = asyncio.ensure_future(self._ring_now(input, grant, rang_at))
        try:
            rung = await asyncio.shield(ringing)
        except asyncio.CancelledError:
            return await ringing
        with contextlib.suppress(asyncio.CancelledError):
            await self._report_when_rings_are_out()
        return rung

    @activity.defn
    async def withhold_push(self, input: WithholdInput) -> WithholdOutput:
        """Take an attempt's push claim before its armed ring does, so the ring, when it
        wakes, finds the push taken and does not ring (a cancellation reaches a waiting
        activity only with its next heartbeat; the claim is immediate)."""
        return WithholdOutput(await self._records.withhold_push(input.call_id, input.attempt))

    async def _ring_now(self, input: RingInput, grant: RoomGrant, rang_at: str) -> RingOutput:
        async with self._gate.turn():
            await self._rooms.dispatch_agent(input.room, input.agent_name, input.agent_metadata)
            apns_id = apns_id_for(input.call_id, input.attempt)
            expires_at = _ring_expiry(input, grant, rang_at)
            if not await self._records.claim_push(input.call_id, input.attempt):
                activity.logger.info(
                    "push for %s attempt %s already sent", input.call_id, input.attempt
                )
                return RingOutput(input.room, apns_id, False, True, expires_at, rang_at)
            in_doubt = False
            try:
                await self._send(input, grant, apns_id, expires_at)
            except PushInDoubt as e:
                # Not retried: APNs does not dedupe on apns-id, and a phone that got the push
                # would ring twice. Marked sent, so a retry of this activity does not resend.
                activity.logger.warning("push for %s in doubt, not resent: %s", input.call_id, e)
                in_doubt = True
            await self._records.mark_push_sent(input.call_id, input.attempt, apns_id)
            return RingOutput(
                input.room, apns_id, True, False, expires_at, rang_at, push_in_doubt=in_doubt
            )

    async def _report_when_rings_are_out(self) -> None:
        """Pushes first: complete this activity once no ring of this worker is waiting to
        push or pushing, or after REPORT_DELAY_MAX_S (ring_gate.py says why)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + REPORT_DELAY_MAX_S
        while (left := deadline - loop.time()) > 0:
            if await self._gate.wait_idle(min(left, _heartbeat_every())):
                return
            activity.heartbeat()

    async def _send(
        self, input: RingInput, grant: RoomGrant, apns_id: str, expires_at: str
    ) -> None:
        payload: dict[str, object] = {
            "call_id": input.call_id,
            "provider": "livekit",
            "livekit_url": grant.livekit_url,
            "room": grant.room,
            "token": grant.token,
            "caller_name": input.caller_name,
            "expires_at": expires_at,
        }
        await self._push.send_voip(
            VoipPush(
                device_token=input.device_token,
                payload=payload,
                apns_id=apns_id,
                expiration_s=self._push_expiry_s,
            )
        )


def _ring_expiry(input: RingInput, grant: RoomGrant, rang_at: str) -> str:
    """The push's `expires_at` (docs/ios-contract.md): the end of the ring window, after
    which the workflow abandons the attempt; the token's expiry for calls without a window."""
    if input.ring_window_s is None:
        return grant.expires_at
    end = datetime.fromisoformat(rang_at) + timedelta(seconds=input.ring_window_s)
    return end.isoformat()


def _seconds_until(ring_at: str | None) -> float:
    """Seconds from this attempt's start to `ring_at`, both on the Temporal server's clock (so
    a worker whose clock is off, or a time-skipping test server, still rings on time)."""
    if not ring_at:
        return 0.0
    return (datetime.fromisoformat(ring_at) - activity.info().started_time).total_seconds()


def _server_now(started: float) -> str:
    elapsed = asyncio.get_running_loop().time() - started
    return (activity.info().started_time + timedelta(seconds=elapsed)).isoformat()


async def _wait_heartbeating(until: float) -> None:
    """Sleep until the loop time `until`, heartbeating so a dead worker is noticed and a
    cancellation reaches this activity."""
    loop = asyncio.get_running_loop()
    every = _heartbeat_every()
    while (left := until - loop.time()) > 0:
        activity.heartbeat()
        await asyncio.sleep(min(left, every))


def _heartbeat_every() -> float:
    timeout = activity.info().heartbeat_timeout
    if timeout:
        return min(ARMED_HEARTBEAT_S, timeout.total_seconds() / 3)
    return ARMED_HEARTBEAT_S
