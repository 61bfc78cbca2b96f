"""Reading a recording back for the tests: decoded samples and the energy of time windows."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np


def decode(path: Path) -> tuple[np.ndarray, int]:
    """(channels x samples float32, sample rate)."""
    with av.open(str(path)) as container:
        frames = [frame.to_ndarray() for frame in container.decode(audio=0)]
        rate = container.streams.audio[0].codec_context.sample_rate
    return np.concatenate(frames, axis=1), rate


def rms(samples: np.ndarray, rate: int, start_s: float, end_s: float) -> np.ndarray:
    """Per-channel RMS over [start_s, end_s)."""
    lo, hi = max(0, int(start_s * rate)), max(0, int(end_s * rate))
    window = samples[:, lo:hi]
    if window.shape[1] == 0:
        return np.zeros(samples.shape[0])
    return np.sqrt((window.astype(np.float64) ** 2).mean(axis=1))


def write_tones(
    path: Path, *, seconds: float, left_from: float, right_from: float, rate: int = 48000
) -> None:
    """A stereo Ogg/Opus file: silence, then a tone on each channel from its own time."""
    t = np.arange(int(seconds * rate)) / rate
    left = np.where(t >= left_from, 0.3 * np.sin(2 * np.pi * 440 * t), 0.0)
    right = np.where(t >= right_from, 0.3 * np.sin(2 * np.pi * 300 * t), 0.0)
    block = np.stack([left, right]).astype(np.float32)
    with av.open(str(path), mode="w", format="ogg") as container:
        stream = container.add_stream("libopus", rate=rate, layout="stereo")
        for i in range(0, block.shape[1], 960):
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(block[:, i : i + 960]), format="fltp", layout="stereo"
            )
            frame.sample_rate = rate
            for packet in stream.encode(frame):  # type: ignore[attr-defined]
                container.mux(packet)
        for packet in stream.encode(None):  # type: ignore[attr-defined]
            container.mux(packet)
