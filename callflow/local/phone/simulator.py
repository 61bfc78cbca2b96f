"""The phone simulator: the stand-in for the iOS app when a VoIP push arrives (the contract:
docs/architecture.md, "Contracts with the iOS app").

Per user or per call it answers (joins the LiveKit room with the push's token and publishes a
microphone), declines (reports it through an injected callback, as the app's backend would) or
ignores the push. What happened is kept per call in a `CallLog` for tests and demos.

Hooks for the app's richer behaviour: `rpc_handlers` (device tools, registered on the local
participant right after joining) and `on_connected(room, call)`, which then owns the
conversation: it speaks into `call.microphone`, may set `call.log.first_agent_audio_at`, and
returns when it hangs up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import jwt
from livekit import rtc

log = logging.getLogger(__name__)

SAMPLE_RATE = 48_000
NUM_CHANNELS = 1
FRAME_MS = 20
REQUIRED_FIELDS = ("call_id", "provider", "livekit_url", "room", "token", "expires_at")


class Mode(StrEnum):
    ANSWER = "answer"
    IGNORE = "ignore"
    DECLINE = "decline"


class Outcome(StrEnum):
    RINGING = "ringing"  # push received, not settled yet
    ANSWERED = "answered"  # joined the room, and has since left it
    DECLINED = "declined"
    IGNORED = "ignored"
    EXPIRED = "expired"  # the push arrived after its expires_at
    INVALID = "invalid"  # the payload lacked a field or was not for LiveKit
    FAILED = "failed"  # joining or the decline callback failed


@dataclass
class CallLog:
    """What the phone did with one call's push; times are unix seconds (LiveKit's clock)."""

    call_id: str
    mode: Mode
    room: str | None = None
    identity: str | None = None
    outcome: Outcome = Outcome.RINGING
    push_received_at: float = 0.0
    joined_at: float | None = None
    agent_joined_at: float | None = None
    first_agent_audio_at: float | None = None  # set by the on_connected hook when it hears it
    declined_at: float | None = None
    left_at: float | None = None
    left_because: str | None = None  # stay_elapsed | agent_left | room_closed | hook_done | ...
    errors: list[str] = field(default_factory=list)
    done: asyncio.Event = field(default_factory=asyncio.Event, repr=False)
    # Set once connected with RPC methods registered; livekit reports the join
    # (webhook, room probe) before `connect` returns here.
    answered: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    @property
    def join_latency_s(self) -> float | None:
        return None if self.joined_at is None else self.joined_at - self.push_received_at


@dataclass
class ConnectedCall:
    """Handed to `on_connected`: the push, the call's log and the published microphone."""

    payload: dict[str, Any]
    log: CallLog
    microphone: rtc.AudioSource  # 48 kHz mono; push frames into it to speak
    hung_up: asyncio.Event  # set when the room closes or the agent leaves


# (call id, the push's room token): the token proves to the call API that this phone got the push.
DeclineCallback = Callable[[str, str], Awaitable[None]]
RpcHandler = Callable[[rtc.RpcInvocationData], Awaitable[str]]
OnConnected = Callable[[rtc.Room, ConnectedCall], Awaitable[None]]


# The phone's room while one of its RPC handlers runs: a handler that answers with a byte
# stream (device.screenshot) sends it from this room's participant.
phone_room: ContextVar[rtc.Room] = ContextVar("phone_room")


def _in_room(room: rtc.Room, handler: RpcHandler) -> RpcHandler:
    async def bound(data: rtc.RpcInvocationData) -> str:
        reset = phone_room.set(room)
        try:
            return await handler(data)
        finally:
            phone_room.reset(reset)

    return bound


class PayloadError(ValueError):
    """The VoIP push payload cannot be acted on; the message names the field."""


def parse_expiry(payload: dict[str, Any]) -> float:
    raw = payload["expires_at"]
    try:
        parsed = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
    except ValueError as e:
        raise PayloadError(f"expires_at {raw!r} is not an ISO-8601 timestamp") from e
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def validate_payload(payload: dict[str, Any]) -> None:
    missing = [name for name in REQUIRED_FIELDS if not payload.get(name)]
    if missing:
        raise PayloadError(f"VoIP push payload lacks {', '.join(missing)}")
    if payload["provider"] != "livekit":
        raise PayloadError(f"provider is {payload['provider']!r}; this app only joins 'livekit'")


def token_identity(token: str) -> str | None:
    """The participant identity (`sub`) the token grants; the app does not verify it."""
    try:
        sub = jwt.decode(token, options={"verify_signature": False}).get("sub")
    except jwt.PyJWTError:
        return None
    return str(sub) if sub else None


class PhoneSimulator:
    """One simulated app install (or many users' installs: modes are per user and per call)."""

    def __init__(
        self,
        *,
        mode: Mode | str = Mode.ANSWER,
        stay_s: float = 5.0,
        answer_delay_s: float = 0.0,
        decline: DeclineCallback | None = None,
        rpc_handlers: dict[str, RpcHandler] | None = None,
        on_connected: OnConnected | None = None,
        connect_timeout_s: float = 10.0,
        max_call_s: float = 900.0,
    ) -> None:
        self.default_mode = Mode(mode)
        self.stay_s = stay_s
        self.answer_delay_s = answer_delay_s
        self._decline = decline
        self.rpc_handlers = dict(rpc_handlers or {})
        self.on_connected = on_connected
        self.connect_timeout_s = connect_timeout_s
        self.max_call_s = max_call_s
        self._modes_by_call: dict[str, Mode] = {}
        self._modes_by_user: dict[str, Mode] = {}
        self.calls: dict[str, CallLog] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    # --- configuration -----------------------------------------------------------------

    def set_mode(
        self, mode: Mode | str, *, call_id: str | None = None, user_id: str | None = None
    ) -> None:
        """Set what the phone does: for one call, for one user, or (neither) by default."""
        if call_id is not None:
            self._modes_by_call[call_id] = Mode(mode)
        elif user_id is not None:
            self._modes_by_user[user_id] = Mode(mode)
        else:
            self.default_mode = Mode(mode)

    def mode_for(self, call_id: str, user_id: str | None) -> Mode:
        if call_id in self._modes_by_call:
            return self._modes_by_call[call_id]
        if user_id is not None and user_id in self._modes_by_user:
            return self._modes_by_user[user_id]
        return self.default_mode

    # --- the push handler ----------------------------------------------------------------

    async def on_push(self, payload: dict[str, Any]) -> None:
        """Receive a VoIP push. Returns at once; the call is handled in a background task."""
        received_at = time.time()
        call_id = str(payload.get("call_id") or f"unknown-{len(self.calls) + 1}")
        identity = token_identity(str(payload.get("token") or ""))
        call = CallLog(
            call_id=call_id,
            mode=self.mode_for(call_id, identity),
            room=payload.get("room"),
            identity=identity,
            push_received_at=received_at,
        )
        # A second push for the same call (a retry attempt) replaces the first one's log.
        self.calls[call_id] = call
        task = asyncio.create_task(self._handle(payload, call), name=f"phone-{call_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def wait_for(self, call_id: str, timeout_s: float = 30.0) -> CallLog:
        """Wait until the phone has settled the call (left the room, declined, ignored...)."""
        return await self._wait_for_event(call_id, lambda call: call.done, timeout_s)

    async def wait_answered(self, call_id: str, timeout_s: float = 30.0) -> CallLog:
        """Wait until the phone is in the call's room and answers RPCs."""
        return await self._wait_for_event(call_id, lambda call: call.answered, timeout_s)

    async def _wait_for_event(
        self, call_id: str, event_of: Callable[[CallLog], asyncio.Event], timeout_s: float
    ) -> CallLog:
        deadline = time.monotonic() + timeout_s
        while call_id not in self.calls:
            if time.monotonic() > deadline:
                raise TimeoutError(f"no push for call {call_id} reached the phone in {timeout_s}s")
            await asyncio.sleep(0.02)
        call = self.calls[call_id]
        remaining = max(0.0, deadline - time.monotonic())
        await asyncio.wait_for(event_of(call).wait(), remaining)
        return call

    async def close(self) -> None:
        """Hang up every call in progress (cancels the background tasks)."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # --- behaviour ---------------------------------------------------------------------

    async def _handle(self, payload: dict[str, Any], call: CallLog) -> None:
        try:
            validate_payload(payload)
            if parse_expiry(payload) <= call.push_received_at:
                call.outcome = Outcome.EXPIRED
                call.errors.append(f"push expired at {payload['expires_at']}; not joining")
                return
            if call.mode is Mode.IGNORE:
                call.outcome = Outcome.IGNORED
            elif call.mode is Mode.DECLINE:
                await self._do_decline(call, str(payload["token"]))
            else:
                await self._answer(payload, call)
        except PayloadError as e:
            call.outcome = Outcome.INVALID
            call.errors.append(str(e))
            log.warning("phone ignored an invalid push for %s: %s", call.call_id, e)
        except asyncio.CancelledError:
            call.errors.append("cancelled by the simulator closing")
            raise
        except Exception as e:
            call.outcome = Outcome.FAILED
            call.errors.append(f"{type(e).__name__}: {e}")
            log.exception("phone failed on call %s", call.call_id)
        finally:
            call.done.set()

    async def _do_decline(self, call: CallLog, room_token: str) -> None:
        if self._decline is None:
            raise RuntimeError("mode is decline but the simulator has no decline callback")
        await self._decline(call.call_id, room_token)
        call.declined_at = time.time()
        call.outcome = Outcome.DECLINED

    async def _answer(self, payload: dict[str, Any], call: CallLog) -> None:
        if self.answer_delay_s > 0:
            await asyncio.sleep(self.answer_delay_s)
        room = rtc.Room()
        hung_up = asyncio.Event()
        reasons: list[str] = []

        def end(reason: str) -> None:
            if not hung_up.is_set():
                log.info("phone leaves call %s: %s", call.call_id, reason)
                reasons.append(reason)
                hung_up.set()

        def on_participant_connected(p: rtc.RemoteParticipant) -> None:
            if p.kind == rtc.ParticipantKind.PARTICIPANT_KIND_AGENT:
                call.agent_joined_at = call.agent_joined_at or time.time()

        def on_participant_disconnected(p: rtc.RemoteParticipant) -> None:
            if p.kind == rtc.ParticipantKind.PARTICIPANT_KIND_AGENT:
                end("agent_left")  # the agent hangs up after its goodbye

        def on_disconnected(reason: Any) -> None:
            end(f"room_closed:{rtc.DisconnectReason.Name(reason)}" if reason else "room_closed")

        room.on("participant_connected", on_participant_connected)
        room.on("participant_disconnected", on_participant_disconnected)
        room.on("disconnected", on_disconnected)
        options = rtc.RoomOptions(auto_subscribe=True, connect_timeout=self.connect_timeout_s)
        try:
            await room.connect(str(payload["livekit_url"]), str(payload["token"]), options)
            call.joined_at = time.time()
            call.outcome = Outcome.ANSWERED
            call.identity = room.local_participant.identity
            for p in room.remote_participants.values():
                on_participant_connected(p)
            for method, handler in self.rpc_handlers.items():
                room.local_participant.register_rpc_method(method, _in_room(room, handler))
            call.answered.set()
            microphone = rtc.AudioSource(SAMPLE_RATE, NUM_CHANNELS)
            track = rtc.LocalAudioTrack.create_audio_track("microphone", microphone)
            publishing = room.local_participant.publish_track(
                track, rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)
            )
            if await _unless_hung_up(publishing, hung_up, self.connect_timeout_s, "publish"):
                connected = ConnectedCall(payload, call, microphone, hung_up)
                await self._stay(room, connected, end)
            call.left_because = reasons[0] if reasons else "hung_up"
        finally:
            # Bounded: the FFI may never answer once the server has dropped the room.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(room.disconnect(), 5)
            if call.joined_at is not None:
                call.left_at = time.time()

    async def _stay(self, room: rtc.Room, call: ConnectedCall, end: Callable[[str], None]) -> None:
        """Stay in the call until the hook hangs up, `stay_s` passes, or the call ends."""
        hook = self.on_connected
        if hook is not None:

            async def drive() -> None:
                await hook(room, call)

            driver: asyncio.Task[None] = asyncio.create_task(drive())
            driver.add_done_callback(lambda _: end("hook_done"))
            timer = self.max_call_s
        else:
            driver = asyncio.create_task(_speak_silence(call.microphone, call.hung_up))
            timer = self.stay_s
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(call.hung_up.wait(), timer)
            end("stay_elapsed" if hook is None else "max_call_elapsed")
        finally:
            if not driver.done():
                driver.cancel()
            results = await asyncio.gather(driver, return_exceptions=True)
            error = results[0]
            if isinstance(error, Exception):
                call.log.errors.append(f"on_connected failed: {type(error).__name__}: {error}")


async def _unless_hung_up(
    step: Awaitable[Any], hung_up: asyncio.Event, timeout_s: float, what: str
) -> bool:
    """Run `step` unless the call ends first; True when it completed.

    An RTC request made while the room closes may never be answered by the FFI, so awaiting it
    alone could hang the simulator.
    """
    task = asyncio.ensure_future(step)
    ended = asyncio.ensure_future(hung_up.wait())
    try:
        done, _ = await asyncio.wait(
            {task, ended}, timeout=timeout_s, return_when="FIRST_COMPLETED"
        )
    finally:
        for pending in (task, ended):
            if not pending.done():
                pending.cancel()
    if task in done:
        if task.exception() is None:
            return True
        # The room closing under a request fails it first; the disconnect event follows.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(hung_up.wait(), 1.0)
        if hung_up.is_set():
            return False
        task.result()  # a failure of its own: raise it
    if ended in done:
        return False
    raise TimeoutError(f"{what} got no answer from LiveKit in {timeout_s}s")


async def _speak_silence(microphone: rtc.AudioSource, until: asyncio.Event) -> None:
    """Keep the microphone track live with silence, as a muted-but-open phone mic would."""
    samples = SAMPLE_RATE * FRAME_MS // 1000
    frame = rtc.AudioFrame.create(SAMPLE_RATE, NUM_CHANNELS, samples)
    while not until.is_set():
        await microphone.capture_frame(frame)  # paced by the source's queue
