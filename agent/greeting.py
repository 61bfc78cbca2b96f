"""The greeting, prepared while the phone is still ringing.

The agent is dispatched when the push goes out, usually seconds before the user answers. Those
seconds are enough to ask the LLM for the first line and synthesize it, so when the phone joins
the agent plays audio it already holds: the user hears the greeting after the transport's
delay, not after an LLM's time to first token plus a TTS's time to first byte. The line is
synthesized sentence by sentence (as the session's own TTS path does), and playing starts from
the frames already made, so a phone that answers at once waits no longer than it would for an
ordinary reply.

Anything unusual (the LLM wants a tool first or says nothing, a provider fails before the first
frame) gives the greeting back to the session: the caller then greets through `generate_reply`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence

from livekit import rtc
from livekit.agents import llm, tokenize, tts

logger = logging.getLogger("callflow.agent.greeting")


class PreparedGreeting:
    """The greeting's line, and its audio as far as it has been synthesized."""

    def __init__(self, text: str, sentences: Sequence[str]) -> None:
        self.text = text
        self._sentences = list(sentences)
        self.frames: list[rtc.AudioFrame] = []
        self.failed = False
        self._done = asyncio.Event()
        self._more = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self, voice: tts.TTS) -> None:
        self._task = asyncio.create_task(self._synthesize(voice), name="greeting-tts")

    async def _synthesize(self, voice: tts.TTS) -> None:
        try:
            for sentence in self._sentences:
                async with voice.synthesize(sentence) as stream:
                    async for audio in stream:
                        self.frames.append(audio.frame)
                        self._more.set()
        except Exception:  # frames made so far still play; none made: greet the ordinary way
            self.failed = True
            logger.warning("could not synthesize the greeting ahead", exc_info=True)
        finally:
            self._done.set()
            self._more.set()

    async def playable(self) -> bool:
        """Wait for the first frame (or the end of synthesis): True when there is audio."""
        while not self.frames and not self._done.is_set():
            self._more.clear()
            await self._more.wait()
        return bool(self.frames)

    @property
    def duration_s(self) -> float:
        return sum(f.samples_per_channel / f.sample_rate for f in self.frames)

    async def finished(self) -> None:
        await self._done.wait()

    async def audio(self) -> AsyncIterator[rtc.AudioFrame]:
        """Every frame, those made already at once, the rest as they are made."""
        played = 0
        while True:
            while played < len(self.frames):
                yield self.frames[played]
                played += 1
            if self._done.is_set():
                return
            # Nothing runs between clear() and wait(): no frame can slip in unseen.
            self._more.clear()
            await self._more.wait()

    def cancel(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()


async def _first_line(
    model: llm.LLM, chat_ctx: llm.ChatContext, tools: Sequence[llm.Tool]
) -> str | None:
    text: list[str] = []
    async with model.chat(chat_ctx=chat_ctx, tools=list(tools)) as stream:
        async for chunk in stream:
            if chunk.delta is None:
                continue
            if chunk.delta.tool_calls:
                return None  # a tool before or with the first line: let the session run it
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
    """The first line, its audio under way; None when it cannot be prepared ahead."""
    if model is None or voice is None:
        return None
    try:
        line = await _first_line(model, chat_ctx, tools)
    except Exception:  # the ordinary greeting path still works, and reports its own errors
        logger.warning("could not prepare the greeting ahead; greeting on join", exc_info=True)
        return None
    if line is None:
        return None
    sentences = tokenize.basic.SentenceTokenizer().tokenize(line) or [line]
    greeting = PreparedGreeting(line, sentences)
    greeting.start(voice)
    return greeting
