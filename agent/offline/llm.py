"""The offline scripted conversation LLM.

It reads only what a real model would read (the chat context: system instructions, user turns,
tool outputs) and answers from a fixed plan: ask about the due commitments, check the battery
once, take a new commitment, say goodbye. Token counts are word counts: there is no tokenizer.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from livekit.agents import llm
from livekit.agents.types import (
    DEFAULT_API_CONNECT_OPTIONS,
    NOT_GIVEN,
    APIConnectOptions,
    NotGivenOr,
)

from agent.instructions import parse_display_name, parse_due_commitments

PROVIDER_NAME = "offline scripted LLM"
BATTERY_TOOL = "get_battery_level"
GOODBYE_MARKER = "Goodbye"


def _system_text(chat_ctx: llm.ChatContext) -> str:
    parts = []
    for item in chat_ctx.items:
        if item.type == "message" and item.role in ("system", "developer"):
            parts.append(item.text_content or "")
    return "\n".join(parts)


def _words(text: str) -> int:
    return len(text.split())


def plan_reply(chat_ctx: llm.ChatContext, tool_names: set[str]) -> tuple[str, str | None]:
    """(text to say, tool to call or None) for the next assistant turn."""
    instructions = _system_text(chat_ctx)
    name = parse_display_name(instructions) or "there"
    due = parse_due_commitments(instructions)
    items = list(chat_ctx.items)
    user_turns = [i for i in items if i.type == "message" and i.role == "user"]
    last_user_at = max((items.index(u) for u in user_turns), default=-1)
    since_user = items[last_user_at + 1 :]
    battery_calls = [i for i in items if i.type == "function_call" and i.name == BATTERY_TOOL]
    outputs_since_user = [i for i in since_user if i.type == "function_call_output"]

    if not user_turns:
        if due:
            first = due[0].split(" (due ", 1)[0]
            return (
                f"Hi {name}, it's your Callflow coach. Last time you committed to this: "
                f"{first}. Did you do it?",
                None,
            )
        return (
            f"Hi {name}, it's your Callflow coach. What is one thing you want to commit to "
            "this week?",
            None,
        )

    if len(user_turns) == 1:
        if not battery_calls and BATTERY_TOOL in tool_names:
            return ("Thanks for telling me. Let me check your phone quickly.", BATTERY_TOOL)
        battery = next((o for o in outputs_since_user if o.name == BATTERY_TOOL), None)
        if battery is not None and battery.is_error:
            note = f"I could not check your battery: {battery.output}."
        elif battery is not None:
            note = f"Your battery looks fine: {_battery_phrase(battery.output)}."
        else:
            note = "Good."
        return (f"{note} Now, what will you commit to for next week?", None)

    if len(user_turns) == 2:
        said = (user_turns[-1].text_content or "").strip().rstrip(".")
        return (
            f"Got it, your new commitment is: {said}. I will ask you about it on our next call. "
            "Is there anything else?",
            None,
        )

    return (f"Thank you {name}, that is all for today. {GOODBYE_MARKER}, and talk soon!", None)


def _battery_phrase(output: str) -> str:
    try:
        doc = json.loads(output)
        level = round(float(doc["level"]) * 100)
        charging = " and charging" if doc.get("charging") else ""
        return f"{level} percent{charging}"
    except (ValueError, KeyError, TypeError):
        return output


class ScriptedLLM(llm.LLM):
    """Offline scripted conversation LLM (no model; follows a fixed accountability plan)."""

    @property
    def model(self) -> str:
        return "scripted-accountability-v1"

    @property
    def provider(self) -> str:
        return PROVIDER_NAME

    def chat(
        self,
        *,
        chat_ctx: llm.ChatContext,
        tools: list[llm.Tool] | None = None,
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
        parallel_tool_calls: NotGivenOr[bool] = NOT_GIVEN,
        tool_choice: NotGivenOr[llm.ToolChoice] = NOT_GIVEN,
        extra_kwargs: NotGivenOr[dict[str, Any]] = NOT_GIVEN,
    ) -> llm.LLMStream:
        return _ScriptedStream(
            self, chat_ctx=chat_ctx, tools=tools or [], conn_options=conn_options
        )


class _ScriptedStream(llm.LLMStream):
    async def _run(self) -> None:
        tool_names = {t.id for t in self._tools}
        text, tool = plan_reply(self._chat_ctx, tool_names)
        request_id = f"scripted-{uuid.uuid4().hex[:12]}"
        prompt_words = sum(
            _words(i.text_content or "") for i in self._chat_ctx.items if i.type == "message"
        )
        # Stream word by word, as a real model streams tokens.
        words = text.split(" ")
        for n, word in enumerate(words):
            self._event_ch.send_nowait(
                llm.ChatChunk(
                    id=request_id,
                    delta=llm.ChoiceDelta(role="assistant", content=word if n == 0 else f" {word}"),
                )
            )
        if tool is not None:
            self._event_ch.send_nowait(
                llm.ChatChunk(
                    id=request_id,
                    delta=llm.ChoiceDelta(
                        role="assistant",
                        tool_calls=[
                            llm.FunctionToolCall(
                                name=tool, arguments="{}", call_id=f"call_{uuid.uuid4().hex[:8]}"
                            )
                        ],
                    ),
                )
            )
        completion_words = _words(text) + (1 if tool else 0)
        self._event_ch.send_nowait(
            llm.ChatChunk(
                id=request_id,
                usage=llm.CompletionUsage(
                    completion_tokens=completion_words,
                    prompt_tokens=prompt_words,
                    total_tokens=prompt_words + completion_words,
                ),
            )
        )
