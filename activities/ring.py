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

Agent first (`agent_ready_s` set): the phone is rung only into a room its agent is already in,
voice track published. The ring dispatches the agent (an armed one `AGENT_DISPATCH_LEAD_S`
before the due time), watches the room until the agent is there, dispatches once more if it is
not within `agent_ready_s`, and gives up without a push if the second one does not come either.
A user who answers at once then hears the agent after the media connection's set-up, never
after an agent's job start, and a phone is never rung into silence (README, "Agent capacity").
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
from callflow.errors import CallflowError
from callflow.ports import AgentPresence, PushSender, RecordsStore, RoomGrant, RoomService, VoipPush
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
    # Seconds the dispatched agent has to be in the room with its voice published before the
    # phone is rung, and as long again after one re-dispatch; still none: nothing is pushed
    # (`RingOutput.no_agent`). None (calls started before): the push goes out at once.
    agent_ready_s: float | None = None


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
    # The agent never came, nor after a re-dispatch: the phone was not rung.
    no_agent: bool = False
    agent_redispatches: int = 0
    # How long the ring waited for the agent after the due time (or the ring's start).
    agent_wait_ms: float = 0.0


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
# An armed ring whose agent must be in the room dispatches it this long before the due time,
# so the push still leaves on time (an agent joins in well under a second when one is free).
AGENT_DISPATCH_LEAD_S = 5.0
# How often a ring looks in the room for its agent while it waits.
AGENT_POLL_S = 0.05
# An agent connected this long without a voice track is rung for anyway (see _agent_in_room):
# longer than callflow's agent waits for its greeting before publishing (GREETING_PREP_MAX_S).
AGENT_VOICE_GRACE_S = 4.0
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
        agent = _AgentWait()
        if input.agent_ready_s is not None:
            if wait_s - AGENT_DISPATCH_LEAD_S > 0:
                await _wait_heartbeating(started + wait_s - AGENT_DISPATCH_LEAD_S)
            agent = await self._agent_in_room(input, started + wait_s)
            if not agent.ready:
                return RingOutput(
                    input.room,
                    apns_id_for(input.call_id, input.attempt),
                    push_sent=False,
                    duplicate_suppressed=False,
                    expires_at=grant.expires_at,
                    no_agent=True,
                    agent_redispatches=agent.redispatches,
                    agent_wait_ms=agent.waited_ms,
                )
        if wait_s > 0:
            await _wait_heartbeating(started + wait_s)
        rang_at = _server_now(started)
        # From here the ring completes even if a cancellation arrives: the workflow waits for
        # the activity's end, so the result says whether the phone was rung.
        ringing = asyncio.ensure_future(
            self._ring_now(input, grant, rang_at, dispatch=input.agent_ready_s is None)
        )
        try:
            rung = await asyncio.shield(ringing)
        except asyncio.CancelledError:
            return agent.noted_on(await ringing)
        with contextlib.suppress(asyncio.CancelledError):
            await self._report_when_rings_are_out()
        return agent.noted_on(rung)

    async def _agent_in_room(self, input: RingInput, ring_loop_time: float) -> _AgentWait:
        """Dispatch the agent and wait until it is in the room, its voice published (and the
        due time, for an armed ring); dispatch once more if it has not come in
        `agent_ready_s`. The phone is rung only into a room with an agent in it."""
        assert input.agent_ready_s is not None
        loop = asyncio.get_running_loop()
        wait = _AgentWait(ready=False)
        await self._rooms.dispatch_agent(input.room, input.agent_name, input.agent_metadata)
        for dispatches in (1, 2):
            if dispatches == 2:
                activity.logger.warning(
                    "no agent in %s %.0f s after its dispatch: dispatching again",
                    input.room,
                    input.agent_ready_s,
                )
                wait.redispatches += 1
                await self._rooms.redispatch_agent(
                    input.room, input.agent_name, input.agent_metadata
                )
            deadline = loop.time() + input.agent_ready_s
            connected_since: float | None = None
            while loop.time() < deadline:
                activity.heartbeat()
                seen = await self._agent_seen(input.room)
                if seen is AgentPresence.CONNECTED and connected_since is None:
                    connected_since = loop.time()
                # An agent that publishes its voice only once the phone is there (an older
                # build, during a rolling deploy) is taken once it has been connected a while.
                voiceless_s = 0.0 if connected_since is None else loop.time() - connected_since
                if seen is AgentPresence.SPEAKING or voiceless_s >= AGENT_VOICE_GRACE_S:
                    wait.ready = True
                    wait.waited_ms = round(max(0.0, loop.time() - ring_loop_time) * 1000, 1)
                    return wait
                await asyncio.sleep(AGENT_POLL_S)
        wait.waited_ms = round(max(0.0, loop.time() - ring_loop_time) * 1000, 1)
        return wait

    @activity.defn
    async def withhold_push(self, input: WithholdInput) -> WithholdOutput:
        """Take an attempt's push claim before its armed ring does, so the ring, when it
        wakes, finds the push taken and does not ring (a cancellation reaches a waiting
        activity only with its next heartbeat; the claim is immediate)."""
        return WithholdOutput(await self._records.withhold_push(input.call_id, input.attempt))

    async def _agent_seen(self, room: str) -> AgentPresence:
        try:
            return await self._rooms.agent_presence(room)
        except CallflowError as e:
            if not e.retryable:
                raise
            # A look that failed is not an absent agent: the next one may answer.
            activity.logger.warning("could not look for the agent in %s: %s", room, e)
            return AgentPresence.ABSENT

    async def _ring_now(
        self, input: RingInput, grant: RoomGrant, rang_at: str, *, dispatch: bool
    ) -> RingOutput:
        async with self._gate.turn():
            if dispatch:
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


@dataclass
class _AgentWait:
    """What a ring found while it waited for its agent, before it pushed."""

    ready: bool = True  # a ring that does not wait for its agent counts it as there
    redispatches: int = 0
    waited_ms: float = 0.0

    def noted_on(self, rung: RingOutput) -> RingOutput:
        rung.agent_redispatches = self.redispatches
        rung.agent_wait_ms = self.waited_ms
        return rung


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
