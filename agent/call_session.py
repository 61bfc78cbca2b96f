"""One accountability call in a room: wait for the phone, run the AgentSession until the call
ends, keep the workflow informed. Used by the worker's entrypoint, and by tests with a plain
connected rtc.Room (inside livekit.agents.testing.fake_job_context)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from livekit import rtc
from livekit.agents import AgentSession, room_io, utils
from livekit.agents.voice.turn import TurnHandlingOptions

from agent.call_agent import CallAgent
from agent.device_client import DeviceClient
from agent.errors import AgentError
from agent.metadata import CallContext
from agent.providers import VAD_SAMPLE_RATE, Providers
from agent.recording import AUDIO_ONLY, RECORDING_NOTICE, CallRecording
from agent.report import CallTracker
from agent.signals import WorkflowSignals
from agent.voice_track import VoiceTrack
from callflow.settings import Settings
from workflows.messages import AgentReport

logger = logging.getLogger("callflow.agent.call")


# The agent now joins before the phone is rung (an armed ring dispatches it a few seconds
# ahead of the due time: activities/ring.py), so it waits the join window and this much more.
PHONE_WAIT_MARGIN_S = 15.0
# The longest the voice track waits for the greeting's first audio before it is published.
GREETING_PREP_MAX_S = 3.0


class PhoneNeverJoined(AgentError):
    """The phone did not join the room in time (the workflow retries or gives up the call)."""


async def wait_for_phone(room: rtc.Room, identity: str, timeout_s: float) -> rtc.RemoteParticipant:
    """The phone participant, which may already be in the room when the agent arrives."""
    try:
        return await asyncio.wait_for(
            utils.wait_for_participant(
                room, identity=identity, kind=rtc.ParticipantKind.PARTICIPANT_KIND_STANDARD
            ),
            timeout_s,
        )
    except TimeoutError:
        raise PhoneNeverJoined(
            f"phone {identity!r} did not join room {room.name} within {timeout_s:.0f}s"
        ) from None
    except RuntimeError as exc:  # the room is not, or no longer, connected
        raise PhoneNeverJoined(f"phone {identity!r} did not join room {room.name}: {exc}") from None


def _joined_at(phone: rtc.RemoteParticipant) -> float:
    # The server's join time (ms resolution) when it told us, else now: we just saw it join.
    return phone.joined_at.timestamp() if phone.joined_at else time.time()


async def run_call(
    room: rtc.Room,
    call: CallContext,
    *,
    settings: Settings,
    providers: Providers,
    signals: WorkflowSignals,
    phone_timeout_s: float | None = None,
    drain_timeout_s: float = 10.0,
) -> AgentReport:
    """Run the conversation until the phone hangs up or the room closes; returns the report
    (already handed to `signals`)."""
    # The session starts while the phone is still on its way (its join follows the push), so
    # the greeting only waits for the phone itself, not for the session's set-up.
    tracker = CallTracker(
        room=room.name, signals=signals, providers=providers.names, phone_joined_at=time.time()
    )
    session: AgentSession = AgentSession(
        stt=providers.stt,
        llm=providers.llm,
        tts=providers.tts,
        vad=providers.vad,
        turn_handling=TurnHandlingOptions(
            turn_detection=providers.turn_detection, endpointing=providers.endpointing
        )
        if providers.turn_detection is not None
        else TurnHandlingOptions(endpointing=providers.endpointing),
        user_away_timeout=None,
    )
    tracker.attach(session)
    closed = asyncio.Event()
    session.on("close", lambda _ev: closed.set())
    device = DeviceClient(room, call.phone_identity, timeout_s=settings.device_rpc_timeout_s)
    phone_present: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    ready_to_greet: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    recording = CallRecording.for_call(call, room.name, settings)
    if recording is not None:
        recording.watch(room, call.phone_identity)
    # Published once the greeting is ready, before the phone is rung (agent/voice_track.py):
    # the phone subscribes to it as it connects, and hears the greeting at once.
    voice = VoiceTrack(room, sample_rate=providers.tts.sample_rate)
    session.output.audio = voice.output
    try:
        agent = CallAgent(call, device, phone_present=phone_present, ready_to_greet=ready_to_greet)
        await _start_speaking(session, agent, room, call, voice, ready_to_greet, recording)
        try:
            phone = await wait_for_phone(
                room,
                call.phone_identity,
                phone_timeout_s or call.join_timeout_s + PHONE_WAIT_MARGIN_S,
            )
        except PhoneNeverJoined:
            await session.aclose()
            raise
        tracker.phone_joined_at = _joined_at(phone)
        signals.phone_seen(room.name, call.phone_identity, tracker.phone_joined_at)
        if recording is not None:
            # Queued before the greeting (which waits for phone_present), so it is said first.
            session.say(RECORDING_NOTICE, add_to_chat_ctx=True)
        phone_present.set_result(None)
        try:
            # The workflow closes the room at its hard cap; this is only a backstop.
            await asyncio.wait_for(closed.wait(), call.max_call_s + 60.0)
        except TimeoutError:
            logger.warning("call %s outlived max_call_s; closing the session", call.call_id)
            await session.aclose()
        if recording is not None:
            # Before the report: signals go out in order, so the workflow, which waits for the
            # report, has the recording by then.
            finished = await recording.finish(session, tracker.phone_joined_at)
            if finished is not None:
                signals.recording_finished(finished)
        report = tracker.send_report(session)
        logger.info(
            "call %s ended: %d turns, tools %s, first audio %s ms",
            call.call_id,
            len(tracker.turns),
            tracker.tools_called,
            None if tracker.first_audio_ms is None else round(tracker.first_audio_ms),
        )
        await signals.drain(drain_timeout_s)
        return report
    finally:
        await voice.aclose()


async def _start_speaking(
    session: AgentSession,
    agent: CallAgent,
    room: rtc.Room,
    call: CallContext,
    voice: VoiceTrack,
    ready_to_greet: asyncio.Future[None],
    recording: CallRecording | None,
) -> None:
    """Start the session (the greeting is prepared from here on), then publish the voice
    track once the greeting's first audio is ready: the ring waits for that track."""
    await session.start(
        agent,
        room=room,
        room_options=room_io.RoomOptions(
            participant_identity=call.phone_identity,
            close_on_disconnect=True,
            # The phone's audio at the VAD's (and the STT providers') own 16 kHz: received at
            # room IO's default 24 kHz it was resampled again for every VAD window.
            audio_input=room_io.AudioInputOptions(sample_rate=VAD_SAMPLE_RATE),
            # The agent's words go to the phone as they are generated, not paced word by word
            # against the audio: that pacing estimates the speaking rate of every frame and
            # builds a hyphenation table at the first line, in the call's event loop, which
            # held the greeting's first frame ~200-300 ms (docs/ios-contract.md, "In the room").
            text_output=room_io.TextOutputOptions(sync_transcription=False),
        ),
        record=AUDIO_ONLY if recording is not None else False,
    )
    # The ring waits for the voice track; a greeting that takes long to prepare must not keep
    # the phone from ringing (it is then spoken as it is made).
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.shield(ready_to_greet), GREETING_PREP_MAX_S)
    voice.publish()
