"""The request parameters each model family accepts, in one place for the analyzers and the
voice agent (checked 2026-12-01 against OpenAI's and Anthropic's model documentation).

OpenAI's reasoning families (gpt-5*, gpt-6*, o-series) refuse `temperature` (400 "Unsupported
parameter") unless reasoning is off, and their Chat Completions function tools need
`reasoning_effort: "none"`; the older chat families (gpt-4o, gpt-4.1) take a temperature.
Anthropic's 5-generation models (Haiku 5.5, ...) refuse `temperature`, `top_p` and `top_k`; the
anthropic SDK 1.x sends none of them, so callflow never does.
"""

from __future__ import annotations

from typing import Literal

_OPENAI_REASONING_PREFIXES = ("gpt-5", "gpt-6", "o1", "o3", "o4")
# Reasoning models that accept reasoning_effort "none" (documented for gpt-6-luna): the voice
# agent turns reasoning off on them, for latency and because Chat Completions refuses function
# tools otherwise. Others get the plugin's own choice.
_OPENAI_EFFORT_NONE = frozenset({"gpt-6-luna", "gpt-6-luna-fast"})


def _base(model: str) -> str:
    return model.rsplit("/", 1)[-1].lower()  # "openai/gpt-6-luna" through a gateway


def openai_is_reasoning(model: str) -> bool:
    return _base(model).startswith(_OPENAI_REASONING_PREFIXES)


def openai_accepts_temperature(model: str) -> bool:
    """False for reasoning models (callflow sends them no reasoning_effort "none")."""
    return not openai_is_reasoning(model)


def openai_agent_reasoning_effort(model: str) -> Literal["none"] | None:
    """The reasoning_effort the voice agent sends `model`, or None to leave it to the plugin."""
    return "none" if _base(model) in _OPENAI_EFFORT_NONE else None
