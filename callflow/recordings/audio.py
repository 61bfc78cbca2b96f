"""What the recordings pipeline needs to know about an Ogg/Opus file, and the one edit it makes.

livekit-agents' recorder starts with the agent's session, which begins while the phone is still
on its way (so the greeting is ready the moment it joins); `trim_start` drops that lead-in by
remuxing whole Opus packets (no re-encoding, so no CPU worth mentioning and no quality loss),
and the tail after the phone left (the session's teardown still runs the recorder a moment).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av

RECORDING_CONTENT_TYPE = "audio/ogg"


@dataclass(frozen=True)
class AudioInfo:
    duration_s: float
    channels: int
    sample_rate: int


def recording_key(call_id: str) -> str:
    """Where a call's recording lives in the bucket: one object per call id."""
    return f"calls/{call_id}.ogg"


def probe(path: Path) -> AudioInfo:
    """Duration (from the last packet's end), channels and rate of the file's audio stream."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        end = 0
        for packet in container.demux(stream):
            if packet.pts is not None:
                end = max(end, packet.pts + (packet.duration or 0))
        tb = stream.time_base
        duration = float(end * tb) if tb is not None else 0.0
        return AudioInfo(duration, stream.codec_context.channels, stream.codec_context.sample_rate)


def trim_start(source: Path, target: Path, seconds: float, until_s: float | None = None) -> None:
    """Copy `source` to `target` without its first `seconds` (whole packets, timestamps
    rebased), and without what follows `until_s` (seconds into `source`) when given."""
    with av.open(str(source)) as inp, av.open(str(target), mode="w", format="ogg") as out:
        in_stream = inp.streams.audio[0]
        out_stream = out.add_stream_from_template(in_stream)
        tb = in_stream.time_base
        cut = int(seconds / tb) if tb is not None else 0
        stop = int(until_s / tb) if tb is not None and until_s is not None else None
        for packet in inp.demux(in_stream):
            if packet.pts is None or packet.pts < cut:
                continue
            if stop is not None and packet.pts >= stop:
                break
            packet.pts -= cut
            if packet.dts is not None:
                packet.dts -= cut
            packet.stream = out_stream
            out.mux(packet)
