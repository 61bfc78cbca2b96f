"""Offline TTS: espeak-ng (a formant synthesiser from Debian, not a neural voice)."""

from __future__ import annotations

import uuid

from livekit.agents import tts
from livekit.agents.types import DEFAULT_API_CONNECT_OPTIONS, APIConnectOptions

from agent.offline.espeak import synthesize

PROVIDER_NAME = "offline espeak-ng TTS"
ESPEAK_SAMPLE_RATE = 22050


class EspeakTTS(tts.TTS):
    def __init__(self, *, voice: str = "en-us", words_per_minute: int = 175) -> None:
        super().__init__(
            capabilities=tts.TTSCapabilities(streaming=False),
            sample_rate=ESPEAK_SAMPLE_RATE,
            num_channels=1,
        )
        self._voice = voice
        self._wpm = words_per_minute

    @property
    def model(self) -> str:
        return f"espeak-ng:{self._voice}"

    @property
    def provider(self) -> str:
        return PROVIDER_NAME

    def synthesize(
        self, text: str, *, conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS
    ) -> tts.ChunkedStream:
        return _EspeakStream(tts=self, input_text=text, conn_options=conn_options)


class _EspeakStream(tts.ChunkedStream):
    async def _run(self, output_emitter: tts.AudioEmitter) -> None:
        engine = self._tts
        assert isinstance(engine, EspeakTTS)
        pcm = await synthesize(self._input_text, voice=engine._voice, words_per_minute=engine._wpm)
        output_emitter.initialize(
            request_id=f"espeak-{uuid.uuid4().hex[:12]}",
            sample_rate=pcm.sample_rate,
            num_channels=1,
            mime_type="audio/pcm",
        )
        output_emitter.push(pcm.data)
        output_emitter.flush()
