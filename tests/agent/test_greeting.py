"""The greeting prepared while the phone rings: the first line and its audio, from the session's
own LLM and TTS, and the fallback when it cannot be prepared."""

from __future__ import annotations

import pytest
from livekit.agents import llm

from agent.greeting import prepare_greeting
from agent.instructions import build_instructions
from agent.offline import llm as offline_llm
from agent.offline.llm import ScriptedLLM
from agent.offline.tts import EspeakTTS
from tests.agent.test_call_agent import make_call


def instructions_ctx() -> llm.ChatContext:
    ctx = llm.ChatContext.empty()
    ctx.add_message(role="system", content=build_instructions(make_call()))
    return ctx


async def test_the_first_line_and_its_audio_are_ready_before_the_phone_joins() -> None:
    async with ScriptedLLM() as model:
        greeting = await prepare_greeting(model, EspeakTTS(), instructions_ctx())
        assert greeting is not None
        assert greeting.text.startswith("Hi Ada, it's Callflow Coach.")
        assert "Run three times this week" in greeting.text
        assert await greeting.playable()
        # Playing may start before the whole line is synthesized, and still plays all of it.
        played = [frame async for frame in greeting.audio()]
        await greeting.finished()
    assert played == greeting.frames and not greeting.failed
    # About one second of speech per 2.5 words at espeak's 175 wpm: the whole line is there.
    words = len(greeting.text.split())
    assert greeting.duration_s > words / 5


async def test_a_line_that_needs_a_tool_is_left_to_the_session(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A real model may look at the battery before it greets: the session must run that tool.
    monkeypatch.setattr(
        offline_llm, "plan_reply", lambda _ctx, _tools: ("Let me check.", "get_battery_level")
    )
    async with ScriptedLLM() as model:
        assert await prepare_greeting(model, EspeakTTS(), instructions_ctx()) is None


class SilentTTS(EspeakTTS):
    def synthesize(self, text: str, **kwargs: object):  # type: ignore[no-untyped-def,override]
        raise RuntimeError("tts down")


async def test_a_failing_provider_falls_back_to_greeting_on_join() -> None:
    async with ScriptedLLM() as model:
        greeting = await prepare_greeting(model, SilentTTS(), instructions_ctx())
    assert greeting is not None and not await greeting.playable() and greeting.failed
    assert await prepare_greeting(None, EspeakTTS(), instructions_ctx()) is None
