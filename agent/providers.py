"""STT, LLM, TTS, VAD and turn detection for one call, chosen from Settings.

Unset keys select the offline providers (named as such); with keys, the real ones, and a
FallbackAdapter wherever two providers of a kind are configured. The conversation code path is
the same either way: only the objects built here differ.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Literal

from livekit.agents import inference, llm, stt, tts, vad
from livekit.agents.types import NOT_GIVEN
from livekit.agents.voice.turn import EndpointingOptions, TurnDetectionMode

from agent.offline.llm import ScriptedLLM
from agent.offline.script import ConversationScript
from agent.offline.stt import ScriptedSTT
from agent.offline.tts import EspeakTTS
from callflow.model_params import openai_agent_reasoning_effort
from callflow.settings import Settings

logger = logging.getLogger("callflow.agent.providers")

VAD_NAME = "silero VAD (bundled model)"
TURN_DETECTOR_NAME = "livekit turn-detector-v1-mini (local)"
SCRIPTED_TURN_NAME = "VAD end of speech (offline: each scripted line is a whole turn)"

# With the turn detector (real speech): livekit-agents' own defaults for a streaming detector,
# stated here so a change of theirs shows up as a change of ours. A confident "turn over"
# commits 0.3 s after the user's speech ends; an unsure one waits up to 2.5 s, so a user who
# pauses mid-thought is not cut off.
DETECTOR_ENDPOINTING: EndpointingOptions = {"mode": "fixed", "min_delay": 0.3, "max_delay": 2.5}
# Offline: the turn ends when VAD hears the line end (silero's 0.55 s of silence); the delay
# counts from the end of speech, so 0.3 s has passed by then and adds nothing.
SCRIPTED_ENDPOINTING: EndpointingOptions = {"mode": "fixed", "min_delay": 0.3, "max_delay": 0.3}


@dataclass
class Providers:
    stt: stt.STT
    llm: llm.LLM
    tts: tts.TTS
    vad: vad.VAD
    turn_detection: TurnDetectionMode | None
    names: dict[str, str] = field(default_factory=dict)
    endpointing: EndpointingOptions = field(
        default_factory=lambda: EndpointingOptions(**DETECTOR_ENDPOINTING)
    )


# The rate silero infers at; the call's room input takes the phone's audio at it too.
VAD_SAMPLE_RATE: Literal[16000] = 16000


def load_vad() -> vad.VAD:
    """Silero's model ships in the plugin wheel: loading it never touches the network."""
    from livekit.plugins import silero

    return silero.VAD.load(sample_rate=VAD_SAMPLE_RATE)


def _secret(value: object) -> str:
    return value.get_secret_value()  # type: ignore[attr-defined,no-any-return]


def build_llm(settings: Settings) -> tuple[llm.LLM, str]:
    models: list[tuple[llm.LLM, str]] = []
    if settings.openai_api_key:
        from livekit.plugins import openai

        models.append(
            (
                openai.LLM(
                    model=settings.openai_model,
                    api_key=_secret(settings.openai_api_key),
                    base_url=settings.openai_base_url or NOT_GIVEN,
                    # Per model family (callflow/model_params.py, checked 2026-12-01): gpt-6-luna
                    # takes function tools over Chat Completions only with reasoning off.
                    reasoning_effort=openai_agent_reasoning_effort(settings.openai_model)
                    or NOT_GIVEN,
                ),
                f"openai {settings.openai_model}",
            )
        )
    if settings.anthropic_api_key:
        from livekit.plugins import anthropic

        models.append(
            (
                anthropic.LLM(
                    model=settings.anthropic_model,
                    api_key=_secret(settings.anthropic_api_key),
                    base_url=settings.anthropic_base_url or NOT_GIVEN,
                ),
                f"anthropic {settings.anthropic_model}",
            )
        )
    if not models:
        return ScriptedLLM(), ScriptedLLM().provider
    if len(models) == 1:
        return models[0]
    return (
        llm.FallbackAdapter([m for m, _ in models]),
        "fallback: " + " -> ".join(name for _, name in models),
    )


def build_stt(
    settings: Settings, script: ConversationScript, vad_model: vad.VAD
) -> tuple[stt.STT, str]:
    engines: list[tuple[stt.STT, str]] = []
    if settings.cartesia_api_key:
        from livekit.plugins import cartesia

        engines.append(
            (
                cartesia.STT(
                    model=settings.cartesia_stt_model,
                    api_key=_secret(settings.cartesia_api_key),
                    base_url=settings.cartesia_base_url,
                ),
                f"cartesia {settings.cartesia_stt_model}",
            )
        )
        if settings.openai_api_key:
            from livekit.plugins import openai

            engines.append(
                (
                    openai.STT(
                        api_key=_secret(settings.openai_api_key),
                        base_url=settings.openai_base_url or NOT_GIVEN,
                    ),
                    "openai gpt-4o-mini-transcribe",
                )
            )
    if not engines:
        scripted = ScriptedSTT(script)
        return scripted, f"{scripted.provider} ({script.name})"
    if len(engines) == 1:
        return engines[0]
    return (
        stt.FallbackAdapter([e for e, _ in engines], vad=vad_model),
        "fallback: " + " -> ".join(name for _, name in engines),
    )


def build_tts(settings: Settings) -> tuple[tts.TTS, str]:
    engines: list[tuple[tts.TTS, str]] = []
    if settings.cartesia_api_key:
        from livekit.plugins import cartesia
        from livekit.plugins.cartesia.models import TTSDefaultVoiceId

        engines.append(
            (
                cartesia.TTS(
                    model=settings.cartesia_tts_model,
                    api_key=_secret(settings.cartesia_api_key),
                    base_url=settings.cartesia_base_url,
                    voice=settings.cartesia_voice or TTSDefaultVoiceId,
                ),
                f"cartesia {settings.cartesia_tts_model}",
            )
        )
        if settings.openai_api_key:
            from livekit.plugins import openai

            engines.append(
                (
                    openai.TTS(
                        api_key=_secret(settings.openai_api_key),
                        base_url=settings.openai_base_url or NOT_GIVEN,
                        # raw 24 kHz s16le, as Cartesia sends: no mp3 decoder in the audio path
                        response_format="pcm",
                    ),
                    "openai tts",
                )
            )
    if not engines:
        espeak = EspeakTTS(voice=settings.offline_tts_voice)
        return espeak, f"{espeak.provider} ({settings.offline_tts_voice})"
    if len(engines) == 1:
        return engines[0]
    return (
        tts.FallbackAdapter([e for e, _ in engines]),
        "fallback: " + " -> ".join(name for _, name in engines),
    )


def build_turn_detector() -> TurnDetectionMode:
    # "v1-mini" runs in-process from livekit-local-inference's bundled weights; "v1" would
    # call LiveKit's cloud gateway.
    return inference.TurnDetector(version="v1-mini")


def build_turn_detection(
    stt_engine: stt.STT,
) -> tuple[TurnDetectionMode, EndpointingOptions, str]:
    """How the end of the user's turn is decided: (mode, endpointing, name).

    The turn detector (v1-mini) is an *audio* model: at 200 ms of silence it scores the last
    1.2 s of the user's voice for a finished-sounding end. On a person's speech that is what
    it was trained for, so real STT keeps it. The offline phone speaks espeak-ng, a formant
    voice without a natural final fall: the model scores its script lines 0.10-0.46, mostly
    under English's 0.36 "unlikely" threshold, so every offline turn waited the 2.5 s maximum.
    With the scripted STT the turn boundary is known instead: the phone says one whole line
    per turn, and the STT turns each VAD utterance into exactly that line, so VAD's end of
    speech is the end of the turn.
    """
    if isinstance(stt_engine, ScriptedSTT):
        return "vad", EndpointingOptions(**SCRIPTED_ENDPOINTING), SCRIPTED_TURN_NAME
    return build_turn_detector(), EndpointingOptions(**DETECTOR_ENDPOINTING), TURN_DETECTOR_NAME


def build_providers(
    settings: Settings,
    script: ConversationScript,
    *,
    vad_model: vad.VAD | None = None,
    turn_detection: TurnDetectionMode | None = None,
) -> Providers:
    vad_model = vad_model or load_vad()
    stt_engine, stt_name = build_stt(settings, script, vad_model)
    llm_engine, llm_name = build_llm(settings)
    tts_engine, tts_name = build_tts(settings)
    if turn_detection is not None:
        detector, endpointing, turn_name = (
            turn_detection,
            EndpointingOptions(**DETECTOR_ENDPOINTING),
            "custom",
        )
    else:
        detector, endpointing, turn_name = build_turn_detection(stt_engine)
    names = {
        "stt": stt_name,
        "llm": llm_name,
        "tts": tts_name,
        "vad": VAD_NAME,
        "turn_detection": turn_name,
    }
    logger.info("agent providers: %s", names)
    return Providers(stt_engine, llm_engine, tts_engine, vad_model, detector, names, endpointing)
