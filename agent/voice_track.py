"""The agent's voice track, published as soon as the agent is in the room.

livekit-agents' room IO publishes the agent's audio track only once the participant it talks
to has joined. Publishing then costs a renegotiation of the agent's media connection and of
the phone's before the first word can be heard: 300-650 ms of a batch of calls' first audio
on this 2-core machine (`callflow bench agent --concurrent 10`). callflow rings the phone only
once its agent is in the room (activities/ring.py), so the track can be up before the phone
joins, and the phone subscribes to it while it connects.

The output is livekit-agents' own room audio output (playout tracking, interruptions, pause),
only started earlier: it becomes the session's audio output, so room IO makes none of its own
and still wraps this one with its transcript synchronisation. The class is private to
livekit-agents (the version is pinned in uv.lock); tests/agent/test_call_e2e.py checks the
track is published before the phone joins.
"""

from __future__ import annotations

import asyncio
import contextlib

from livekit import rtc
from livekit.agents import utils
from livekit.agents.voice.room_io._output import _ParticipantAudioOutput
from livekit.agents.voice.room_io.types import AudioOutputOptions

# room IO's own name for the agent's track, which the phone app and tests look for.
TRACK_NAME = "roomio_audio"


class VoiceTrack:
    """The published track and the session audio output that feeds it."""

    def __init__(self, room: rtc.Room, *, sample_rate: int | None = None) -> None:
        options = AudioOutputOptions()
        self.output = _ParticipantAudioOutput(
            room,
            # The TTS's own rate: the session then hands its audio over as it is, instead of
            # resampling every frame in the call's event loop (the source resamples natively).
            sample_rate=sample_rate or options.sample_rate,
            num_channels=options.num_channels,
            track_publish_options=options.track_publish_options,
            track_name=TRACK_NAME,
        )
        self._publishing: asyncio.Task[None] | None = None

    def publish(self) -> None:
        """Start publishing now; the output holds audio until the phone has subscribed."""
        if self._publishing is None:
            self._publishing = asyncio.create_task(self.output.start(), name="publish-voice")

    @property
    def subscribed(self) -> asyncio.Future[None]:
        return self.output.subscribed

    async def aclose(self) -> None:
        if self._publishing is not None:
            await utils.aio.cancel_and_wait(self._publishing)
        with contextlib.suppress(Exception):  # the room may already be gone
            await self.output.aclose()
