"""The phone's voice: espeak-ng lines become 48 kHz 20 ms frames of real speech."""

from __future__ import annotations

import numpy as np

from agent.offline.espeak import synthesize
from agent.offline.script import DEFAULT_SCRIPT_NAME, get_script
from callflow.local.phone.voice import SAMPLES_PER_FRAME, VOICE_PEAK, to_frames


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
