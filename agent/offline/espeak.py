"""Speech from espeak-ng (Debian package), shared by the offline TTS and the phone's voice.

Free of livekit imports so the phone simulator can use it too.
"""

from __future__ import annotations

import asyncio
import io
import shutil
import wave
from dataclasses import dataclass

from agent.errors import OfflineSpeechError, ProviderConfigError


@dataclass(frozen=True)
class Pcm:
    """16-bit signed little-endian mono audio."""

    data: bytes
    sample_rate: int

    @property
    def duration_s(self) -> float:
        return len(self.data) / 2 / self.sample_rate


def espeak_binary() -> str:
    path = shutil.which("espeak-ng")
    if path is None:
        raise ProviderConfigError(
            "espeak-ng is not installed: run `apt-get install espeak-ng` (or `make install`), "
            "or set CARTESIA_API_KEY to use Cartesia instead of the offline voice"
        )
    return path


def read_wav(blob: bytes) -> Pcm:
    """Decode espeak-ng's WAV. Its header's frame count is bogus when it writes to a pipe, so
    read frames until the data runs out instead of trusting it."""
    with wave.open(io.BytesIO(blob), "rb") as wav:
        if wav.getsampwidth() != 2 or wav.getnchannels() != 1:
            raise OfflineSpeechError(
                f"espeak-ng produced {wav.getnchannels()} channel(s) of "
                f"{wav.getsampwidth() * 8}-bit audio; expected mono 16-bit"
            )
        chunks = []
        while chunk := wav.readframes(4096):
            chunks.append(chunk)
        return Pcm(b"".join(chunks), wav.getframerate())


async def synthesize(text: str, *, voice: str = "en-us", words_per_minute: int = 175) -> Pcm:
    """Speak `text` with espeak-ng; raises OfflineSpeechError when it fails or is silent."""
    if not text.strip():
        raise OfflineSpeechError("nothing to say: the text is empty")
    proc = await asyncio.create_subprocess_exec(
        espeak_binary(),
        "-v",
        voice,
        "-s",
        str(words_per_minute),
        "--stdout",
        # `--` so a line starting with "-" is spoken, not parsed as an option.
        "--",
        text,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    if proc.returncode != 0:
        raise OfflineSpeechError(
            f"espeak-ng exited with {proc.returncode} for voice {voice!r}: "
            f"{err.decode(errors='replace').strip()[:200]}"
        )
    try:
        pcm = read_wav(out)
    except (wave.Error, EOFError) as exc:
        raise OfflineSpeechError(f"espeak-ng wrote an unreadable WAV: {exc}") from exc
    if not pcm.data:
        raise OfflineSpeechError(f"espeak-ng produced no audio for voice {voice!r}")
    return pcm
