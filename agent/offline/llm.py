"""The offline scripted conversation LLM.

It reads only what a real model would read (the chat context: system instructions, user turns,
tool outputs) and answers from a fixed plan: ask about each due commitment in turn, check the
battery once, take a new commitment and confirm it with its due date in words, say goodbye.
Dates resolve against the user's date the instructions state, by callflow.analysis.dates.
Token counts are word counts: there is no tokenizer.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from livekit.agents import llm
from livekit.agents.types import (
    DEFAULT_API_CONNECT_OPTIONS,
    NOT_GIVEN,
    APIConnectOptions,
    NotGivenOr,
)

from agent.instructions import (
    parse_caller_name,
    parse_display_name,
    parse_due_commitments,
    parse_local_date,
)
from callflow.analysis.dates import month_name, resolve, weekday_name

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
    """(text to say, tool to call or None) for the next assistant turn.

    The plan, by how many times the user has spoken (n due commitments): the greeting asks
    about due commitment 1; each answer is followed by the question about the next one; after
    the last answer the battery check and the question for a new commitment; after the user
    states it, its confirmation with the due date in words; then goodbye. With nothing due the
    greeting asks for the new commitment, and the battery check comes before its confirmation.
    """
    instructions = _system_text(chat_ctx)
    name = parse_display_name(instructions) or "there"
    caller = parse_caller_name(instructions) or "your Callflow coach"
    due = parse_due_commitments(instructions)
    items = list(chat_ctx.items)
    user_turns = [i for i in items if i.type == "message" and i.role == "user"]
    last_user_at = max((items.index(u) for u in user_turns), default=-1)
    since_user = items[last_user_at + 1 :]
    answered = len(user_turns)

    if answered == 0:
        if due:
            return (
                f"Hi {name}, it's {caller}. Last time you committed to this: {due[0]}. "
                "Did you do it?",
                None,
            )
        return (
            f"Hi {name}, it's {caller}. What is one thing you want to commit to this week?",
            None,
        )

    if answered < len(due):
        return (f"Thank you. And what about: {due[answered]}?", None)

    if due and answered == len(due):
        check = _battery_check(items, since_user, tool_names)
        if isinstance(check, tuple):
            return check
        return (f"{check} Now, what is one new thing you will commit to?", None)

    if answered == len(due) + 1:
        note = ""
        if not due:
            check = _battery_check(items, since_user, tool_names)
            if isinstance(check, tuple):
                return check
            note = f"{check} "
        said = (user_turns[-1].text_content or "").strip()
        if _DECLINED.search(said) and not _PROMISE.search(said):
            return (
                f"{note}That is fine, we keep to what you have. Is there anything else?",
                None,
            )
        today = parse_local_date(instructions) or datetime.now(UTC).date()
        return (
            f"{note}Got it: {confirmation(said, today)}. I will ask you about it on our next "
            "call. Is there anything else?",
            None,
        )

    return (f"Thank you {name}, that is all for today. {GOODBYE_MARKER}, and talk soon!", None)


def _battery_check(
    items: list[llm.ChatItem], since_user: list[llm.ChatItem], tool_names: set[str]
) -> tuple[str, str] | str:
    """The battery tool call to make (a (text, tool) turn), or, once made, what to say of it."""
    called = any(i.type == "function_call" and i.name == BATTERY_TOOL for i in items)
    if not called and BATTERY_TOOL in tool_names:
        return ("Thanks for telling me. Let me check your phone quickly.", BATTERY_TOOL)
    battery = next(
        (i for i in since_user if i.type == "function_call_output" and i.name == BATTERY_TOOL),
        None,
    )
    if battery is not None and battery.is_error:
        return f"I could not check your battery: {battery.output}."
    if battery is not None:
        return f"Your battery looks fine: {_battery_phrase(battery.output)}."
    return "Good."


_PROMISE = re.compile(
    r"\b(?:i will|i'll|i am going to|i'm going to|i commit to|i want to|my goal is to)\s+",
    re.IGNORECASE,
)
_DECLINED = re.compile(r"\b(?:no|nothing|not|none)\b", re.IGNORECASE)
_TRAILING_WHEN = re.compile(
    r"(?:,?\s+(?:by|on|before|until|starting|from|this|next)\s+(?:the\s+)?\w+"
    r"|,?\s+(?:today|tonight|tomorrow|this week|next week))$",
    re.IGNORECASE,
)


def confirmation(said: str, today: date) -> str:
    """ "<commitment>, <due date in words>" for what the user committed to, resolved against
    their date: "call my sister, by Friday, the 4th"."""
    sentence = said.strip().rstrip(".!")
    promise = _PROMISE.search(sentence)
    commitment = sentence[promise.end() :] if promise else sentence
    commitment = _TRAILING_WHEN.sub("", commitment).strip(" ,") or sentence
    due_iso, _time, recurrence = resolve(sentence, today, today + timedelta(days=1))
    return f"{commitment}, {due_in_words(date.fromisoformat(due_iso), today, recurrence)}"


def ordinal(day: int) -> str:
    suffix = "th" if 11 <= day % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


def due_in_words(due: date, today: date, recurrence: str | None = None) -> str:
    """ "starting today", "tomorrow, Wednesday the 2nd", "by Friday, the 4th", or with the month
    when it is not this month's or a week or more away: "by Monday, the 14th of December"."""
    lead = "starting " if recurrence else ""
    days = (due - today).days
    weekday = weekday_name(due)
    if days <= 0:
        return f"{lead}today"
    if days == 1:
        return f"{lead}tomorrow, {weekday} the {ordinal(due.day)}"
    month = f" of {month_name(due.month)}" if due.month != today.month or days >= 7 else ""
    return f"{lead or 'by '}{weekday}, the {ordinal(due.day)}{month}"


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
