"""Offline STT: it does not recognise speech. When VAD ends an utterance of the phone
simulator, it emits the next line of the shared conversation script (agent.offline.script),
which is exactly what the simulator just spoke with espeak-ng."""

from __future__ import annotations

import logging
import uuid

from livekit.agents import stt
from livekit.agents.language import LanguageCode
from livekit.agents.types import APIConnectOptions, NotGivenOr
from livekit.agents.utils import AudioBuffer
from livekit.agents.utils.audio import calculate_audio_duration

from agent.offline.script import ConversationScript

logger = logging.getLogger("callflow.agent.offline")

PROVIDER_NAME = "offline scripted STT"
# Shorter bursts are clicks or breath, not one of the script's sentences.
MIN_UTTERANCE_S = 0.4


class ScriptedSTT(stt.STT):
    def __init__(self, script: ConversationScript) -> None:
        super().__init__(capabilities=stt.STTCapabilities(streaming=False, interim_results=False))
        self._script = script
        self._next = 0

    @property
    def model(self) -> str:
        return f"script:{self._script.name}"

    @property
    def provider(self) -> str:
        return PROVIDER_NAME

    @property
    def lines_emitted(self) -> int:
        return self._next

    async def _recognize_impl(
        self,
        buffer: AudioBuffer,
        *,
        language: NotGivenOr[str] = "en",
        conn_options: APIConnectOptions,
    ) -> stt.SpeechEvent:
        duration = calculate_audio_duration(buffer)
        text = ""
        if duration < MIN_UTTERANCE_S:
            logger.debug("scripted STT: ignoring a %.2fs burst", duration)
        elif self._next < len(self._script.phone_lines):
            text = self._script.phone_lines[self._next]
            self._next += 1
        else:
            logger.info(
                "scripted STT: the phone spoke past the end of script %s", self._script.name
            )
        return stt.SpeechEvent(
            type=stt.SpeechEventType.FINAL_TRANSCRIPT,
            request_id=f"scripted-{uuid.uuid4().hex[:12]}",
            alternatives=[
                stt.SpeechData(
                    language=LanguageCode("en"), text=text, confidence=1.0 if text else 0.0
                )
            ],
        )
