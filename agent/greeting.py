"""The greeting, prepared while the phone is still ringing.

The agent is dispatched when the push goes out, seconds before the user answers. Those seconds
are enough to ask the LLM for the first line and synthesize it, so when the phone joins the
agent only has to play audio it already holds: the user hears the greeting after the transport's
delay, not after an LLM's time to first token plus a TTS's time to first byte.

Anything unusual (the LLM wants a tool first, says nothing, or a provider fails) gives up the
preparation; the caller then greets the ordinary way, through `generate_reply`.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from livekit import rtc
from livekit.agents import llm, tts

logger = logging.getLogger("callflow.agent.greeting")


@dataclass(frozen=True)
class PreparedGreeting:
    text: str
    frames: tuple[rtc.AudioFrame, ...]

    @property
    def duration_s(self) -> float:
        return sum(f.samples_per_channel / f.sample_rate for f in self.frames)

    async def audio(self) -> AsyncIterator[rtc.AudioFrame]:
        for frame in self.frames:
            yield frame


async def _first_line(
    model: llm.LLM, chat_ctx: llm.ChatContext, tools: Sequence[llm.Tool]
) -> str | None:
    text: list[str] = []
    async with model.chat(chat_ctx=chat_ctx, tools=list(tools)) as stream:
        async for chunk in stream:
            if chunk.delta is None:
                continue
            if chunk.delta.tool_calls:
                return None  # a tool before the first word: let the session run it
            if chunk.delta.content:
                text.append(chunk.delta.content)
    line = "".join(text).strip()
    return line or None


async def prepare_greeting(
    model: llm.LLM | None,
    voice: tts.TTS | None,
    chat_ctx: llm.ChatContext,
    tools: Sequence[llm.Tool] = (),
) -> PreparedGreeting | None:
    """The first line and its audio, or None when it cannot be prepared ahead."""
    if model is None or voice is None:
        return None
    try:
        line = await _first_line(model, chat_ctx, tools)
        if line is None:
            return None
        frames: list[rtc.AudioFrame] = []
        async with voice.synthesize(line) as stream:
            async for audio in stream:
                frames.append(audio.frame)
    except Exception:  # the ordinary greeting path still works, and reports its own errors
        logger.warning("could not prepare the greeting ahead; greeting on join", exc_info=True)
        return None
    if not frames:
        return None
    return PreparedGreeting(text=line, frames=tuple(frames))
