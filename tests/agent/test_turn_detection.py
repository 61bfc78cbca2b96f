"""How the end of the user's turn is decided: the audio turn detector for real speech, VAD's end
of speech for the offline phone, whose espeak-ng voice the detector cannot judge."""

from __future__ import annotations

from livekit.agents import inference
from pydantic import SecretStr

from agent.offline.script import get_script
from agent.providers import (
    DETECTOR_ENDPOINTING,
    SCRIPTED_ENDPOINTING,
    SCRIPTED_TURN_NAME,
    TURN_DETECTOR_NAME,
    build_providers,
    load_vad,
)
from callflow.settings import Settings


def settings(**keys: str) -> Settings:
    fields = {"openai_api_key": None, "anthropic_api_key": None, "cartesia_api_key": None}
    fields.update({k: SecretStr(v) for k, v in keys.items()})  # type: ignore[misc]
    return Settings(_env_file=None, **fields)  # type: ignore[call-arg,arg-type]


def test_the_offline_call_ends_a_turn_when_vad_hears_the_scripted_line_end() -> None:
    providers = build_providers(settings(), get_script(None), vad_model=load_vad())
    assert providers.turn_detection == "vad"
    assert providers.names["turn_detection"] == SCRIPTED_TURN_NAME
    assert providers.endpointing == SCRIPTED_ENDPOINTING
    # Never the detector's 2.5 s wait for an unsure turn.
    assert providers.endpointing["max_delay"] < 1.0


def test_real_speech_keeps_the_audio_turn_detector_and_its_endpointing() -> None:
    keyed = settings(cartesia_api_key="sk_car_test_0123")
    providers = build_providers(keyed, get_script(None), vad_model=load_vad())
    assert isinstance(providers.turn_detection, inference.TurnDetector)
    assert providers.turn_detection.model == "turn-detector-v1-mini"
    assert providers.names["turn_detection"] == TURN_DETECTOR_NAME
    assert providers.endpointing == DETECTOR_ENDPOINTING
    # A user who pauses mid-thought is waited for; a finished turn commits quickly.
    assert providers.endpointing["min_delay"] <= 0.5 < 2.0 <= providers.endpointing["max_delay"]


def test_a_custom_detector_is_used_as_given() -> None:
    providers = build_providers(
        settings(), get_script(None), vad_model=load_vad(), turn_detection="stt"
    )
    assert providers.turn_detection == "stt" and providers.names["turn_detection"] == "custom"
