"""The phone's voice and ears, for the simulator standing in for the iOS app.

- `Microphone` keeps the published track live (silence between lines, as a real open mic
  does, so the agent's VAD sees each utterance end) and speaks espeak-ng lines at real-time pace.
- `AgentListener` subscribes to the agent's audio track and notes when its voice starts and
  stops (first non-silent frame = the "first agent audio" the benchmark measures), and every
  silence between two voiced frames of one agent turn (`pauses_s`), timed on the stream's own
  sample clock, so a stall of the phone's event loop is not mistaken for one of the agent.
- `converse` drives the offline script: wait until the agent has spoken and gone quiet, say the
  next line; after the last line, wait for the agent's goodbye turn and hang up. The goodbye is
  known from the script position (the turn after the phone's last line), not from transcripts.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import numpy as np
from livekit import rtc

from agent.offline.espeak import Pcm, synthesize
from agent.offline.script import ConversationScript, get_script
from callflow.local.phone.device import DeviceState, RpcHandler, device_rpc_handlers
from callflow.local.phone.simulator import NUM_CHANNELS, SAMPLE_RATE, ConnectedCall

log = logging.getLogger(__name__)

FRAME_MS = 20
SAMPLES_PER_FRAME = SAMPLE_RATE * FRAME_MS // 1000
# int16 peak above which a frame counts as voice: espeak speech peaks in the thousands, while
# Opus-decoded silence stays within a few units of zero.
VOICE_PEAK = 800


def to_frames(pcm: Pcm) -> list[rtc.AudioFrame]:
    """Resample espeak's audio to the microphone's 48 kHz and cut it into 20 ms frames."""
    resampler = rtc.AudioResampler(pcm.sample_rate, SAMPLE_RATE, num_channels=NUM_CHANNELS)
    out = resampler.push(bytearray(pcm.data)) + resampler.flush()
    data = b"".join(bytes(f.data.cast("B")) for f in out)
    frame_bytes = SAMPLES_PER_FRAME * 2
    if len(data) % frame_bytes:
        data += b"\x00" * (frame_bytes - len(data) % frame_bytes)
    return [
        rtc.AudioFrame(data[i : i + frame_bytes], SAMPLE_RATE, NUM_CHANNELS, SAMPLES_PER_FRAME)
        for i in range(0, len(data), frame_bytes)
    ]


class Microphone:
    def __init__(self, source: rtc.AudioSource) -> None:
        self._source = source
        self._pending: deque[rtc.AudioFrame] = deque()
        self._drained = asyncio.Event()
        self._drained.set()
        self._silence = rtc.AudioFrame.create(SAMPLE_RATE, NUM_CHANNELS, SAMPLES_PER_FRAME)

    async def run(self) -> None:
        """Feed the track forever (cancel to stop); capture_frame paces it in real time."""
        while True:
            if self._pending:
                frame = self._pending.popleft()
                if not self._pending:
                    self._drained.set()
            else:
                frame = self._silence
            await self._source.capture_frame(frame)

    async def say(self, text: str, *, voice: str) -> float:
        """Speak one line; returns its duration in seconds once it has been handed over."""
        pcm = await synthesize(text, voice=voice)
        frames = to_frames(pcm)
        self._drained.clear()
        self._pending.extend(frames)
        await self._drained.wait()
        return pcm.duration_s


@dataclass
class AgentListener:
    """Hears the agent participant's audio track."""

    room: rtc.Room
    # Silence this long ends an agent turn (the phone then speaks): shorter ones are pauses.
    turn_silence_s: float = 1.2
    first_voice_at: float | None = None  # unix seconds
    last_voice_at: float | None = None  # monotonic
    voice_frames: int = 0
    # Each silence between two voiced frames of one agent turn, in seconds of received audio.
    pauses_s: list[float] = field(default_factory=list)
    _stream_s: float = 0.0  # audio received so far (the stream's sample clock)
    _last_voiced_end_s: float | None = None
    _heard: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def gaps(self, over_s: float) -> int:
        """Silences inside the agent's turns longer than `over_s`."""
        return sum(p > over_s for p in self.pauses_s)

    def note_frame(self, samples: np.ndarray, duration_s: float) -> bool:
        """Account one received frame; True when it is voiced."""
        start = self._stream_s
        self._stream_s += duration_s
        if not (samples.size and int(np.abs(samples).max()) >= VOICE_PEAK):
            return False
        if self._last_voiced_end_s is not None:
            silence = start - self._last_voiced_end_s
            if 0 < silence < self.turn_silence_s:
                self.pauses_s.append(silence)
        self._last_voiced_end_s = self._stream_s
        return True

    def start(self) -> None:
        self.room.on("track_subscribed", self._on_track)
        for p in self.room.remote_participants.values():
            for pub in p.track_publications.values():
                if pub.track is not None:
                    self._on_track(pub.track, pub, p)

    def _on_track(
        self, track: rtc.Track, _pub: rtc.RemoteTrackPublication, p: rtc.RemoteParticipant
    ) -> None:
        if (
            track.kind != rtc.TrackKind.KIND_AUDIO
            or p.kind != rtc.ParticipantKind.PARTICIPANT_KIND_AGENT
        ):
            return
        task = asyncio.create_task(self._listen(track), name=f"listen-{p.identity}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _listen(self, track: rtc.Track) -> None:
        # 20 ms frames, not the default 10: half the Python work per phone (a bench runs many
        # phones in one process), and still 5 frames to each 100 ms the gap count resolves.
        stream = rtc.AudioStream(
            track, sample_rate=SAMPLE_RATE, num_channels=NUM_CHANNELS, frame_size_ms=FRAME_MS
        )
        try:
            async for event in stream:
                frame = event.frame
                samples = np.frombuffer(frame.data, dtype=np.int16)
                if self.note_frame(samples, frame.samples_per_channel / frame.sample_rate):
                    if self.first_voice_at is None:
                        self.first_voice_at = time.time()
                    self.last_voice_at = time.monotonic()
                    self.voice_frames += 1
                    self._heard.set()
        finally:
            await stream.aclose()

    async def wait_for_turn(self, *, since: float, silence_s: float, timeout_s: float) -> None:
        """Wait until the agent has spoken after `since` (monotonic) and then been quiet for
        `silence_s`: its turn is over."""
        deadline = time.monotonic() + timeout_s
        while True:
            now = time.monotonic()
            last = self.last_voice_at
            if last is not None and last > since and now - last >= silence_s:
                return
            if now > deadline:
                raise TimeoutError(f"the agent did not finish a turn within {timeout_s:.0f}s")
            await asyncio.sleep(0.02)

    async def aclose(self) -> None:
        self.room.off("track_subscribed", self._on_track)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


def script_from_room(room: rtc.Room) -> ConversationScript:
    """The room metadata names the offline script the agent and the phone share (no context)."""
    try:
        name = json.loads(room.metadata or "{}").get("script")
    except (json.JSONDecodeError, AttributeError):
        name = None
    return get_script(name if isinstance(name, str) else None)


@dataclass
class ConversationLog:
    lines_spoken: list[str] = field(default_factory=list)
    agent_turns: int = 0
    first_agent_audio_at: float | None = None
    # The silences inside the agent's turns as the phone heard them (AgentListener.pauses_s).
    agent_pauses_s: list[float] = field(default_factory=list)


async def converse(
    room: rtc.Room,
    call: ConnectedCall,
    *,
    script: ConversationScript | None = None,
    voice: str = "en-gb+f3",
    silence_s: float = 1.2,
    turn_timeout_s: float = 30.0,
    log_to: ConversationLog | None = None,
) -> ConversationLog:
    """Drive the offline conversation; returning hangs up (the simulator leaves the room)."""
    script = script or script_from_room(room)
    convo = log_to or ConversationLog()
    mic = Microphone(call.microphone)
    listener = AgentListener(room, turn_silence_s=silence_s)
    # The same list: the log shows the pauses heard so far, even of a call cut short.
    listener.pauses_s = convo.agent_pauses_s
    listener.start()
    pump = asyncio.create_task(mic.run(), name="phone-mic")
    try:
        since = time.monotonic() - 3600.0  # the greeting may already be under way
        for line in script.phone_lines:
            await listener.wait_for_turn(since=since, silence_s=silence_s, timeout_s=turn_timeout_s)
            convo.agent_turns += 1
            if call.log.first_agent_audio_at is None:
                call.log.first_agent_audio_at = listener.first_voice_at
                convo.first_agent_audio_at = listener.first_voice_at
            await mic.say(line, voice=voice)
            convo.lines_spoken.append(line)
            since = time.monotonic()
        # The agent's next turn after our last line is its goodbye: let it finish, hang up.
        await listener.wait_for_turn(since=since, silence_s=silence_s, timeout_s=turn_timeout_s)
        convo.agent_turns += 1
        return convo
    finally:
        pump.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await pump
        await listener.aclose()


OnConnected = Callable[[rtc.Room, ConnectedCall], Awaitable[None]]


def phone_app(
    state: DeviceState | None = None, *, voice: str = "en-gb+f3", silence_s: float = 1.2
) -> tuple[dict[str, RpcHandler], OnConnected, dict[str, ConversationLog]]:
    """The iOS-app behaviour for `PhoneSimulator(rpc_handlers=..., on_connected=...)`: device
    RPC methods plus the scripted conversation. The third value collects each call's log."""
    logs: dict[str, ConversationLog] = {}

    async def on_connected(room: rtc.Room, call: ConnectedCall) -> None:
        convo = logs.setdefault(call.log.call_id, ConversationLog())
        await converse(room, call, voice=voice, silence_s=silence_s, log_to=convo)

    return device_rpc_handlers(state or DeviceState()), on_connected, logs
