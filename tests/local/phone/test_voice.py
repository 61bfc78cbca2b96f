"""The phone's voice: espeak-ng lines become 48 kHz 20 ms frames of real speech."""

from __future__ import annotations

import numpy as np
import pytest

from agent.offline.espeak import synthesize
from agent.offline.script import DEFAULT_SCRIPT_NAME, get_script
from callflow.local.phone.voice import SAMPLES_PER_FRAME, VOICE_PEAK, AgentListener, to_frames


async def test_a_script_line_becomes_audible_48k_frames() -> None:
    line = get_script(DEFAULT_SCRIPT_NAME).phone_lines[0]
    pcm = await synthesize(line, voice="en-gb+f3")
    frames = to_frames(pcm)
    assert all(
        f.sample_rate == 48_000 and f.samples_per_channel == SAMPLES_PER_FRAME for f in frames
    )
    total_s = len(frames) * SAMPLES_PER_FRAME / 48_000
    assert abs(total_s - pcm.duration_s) < 0.1
    peaks = [int(np.abs(np.frombuffer(f.data, dtype=np.int16)).max()) for f in frames]
    voiced = sum(p >= VOICE_PEAK for p in peaks)
    assert voiced > len(frames) // 2  # mostly speech, as the agent's VAD needs


def test_the_listener_times_the_silences_inside_an_agent_turn_on_the_stream_clock() -> None:
    listener = AgentListener(room=None, turn_silence_s=1.2)  # type: ignore[arg-type]
    voiced, quiet = np.full(480, 4000, np.int16), np.zeros(480, np.int16)
    for frame in [quiet, voiced, *[quiet] * 15, voiced, *[quiet] * 200, voiced, voiced]:
        listener.note_frame(frame, 0.01)
    # 150 ms inside the turn; the 2 s before the next turn is not a pause of this one.
    assert listener.pauses_s == [pytest.approx(0.15)]
    assert listener.gaps(over_s=0.1) == 1 and listener.gaps(over_s=0.2) == 0
