"""Model ids the provider stand-ins refuse, as the hosted APIs do (checked 2026-12-01 against
Anthropic's "Model deprecations" page and OpenAI's "Deprecations" page).

A request naming one of these gets the provider's real "no such model" answer (Anthropic:
404 `not_found_error`; OpenAI: 404 `model_not_found`), so a default or a configured model that is
retired, or shuts down within the coming quarter, fails a test instead of every real call.
"""

from __future__ import annotations

# Anthropic: retired (requests fail).
RETIRED_ANTHROPIC_MODELS = frozenset(
    {
        "claude-3-5-haiku-latest",
        "claude-3-5-haiku-20241022",  # retired 2026-02-19
        "claude-3-haiku-20240307",
        "claude-3-5-sonnet-latest",
        "claude-3-5-sonnet-20241022",
        "claude-3-5-sonnet-20240620",
        "claude-3-7-sonnet-latest",
        "claude-3-7-sonnet-20250219",
        "claude-3-opus-latest",
        "claude-3-opus-20240229",
        "claude-3-sonnet-20240229",
        "claude-2.1",
        "claude-2.0",
        "claude-instant-1.2",
    }
)

# OpenAI: shut down, or shutting down by 2027-01-14 (a default must not run out mid-quarter).
RETIRED_OPENAI_MODELS = frozenset(
    {
        # shut down 2026-10-23
        "gpt-3.5-turbo",
        "gpt-3.5-turbo-0125",
        "gpt-4",
        "gpt-4-0613",
        "gpt-4-turbo",
        "gpt-4-turbo-2024-04-09",
        "gpt-4o-2024-05-13",
        "gpt-4.1-nano",
        "gpt-4.1-nano-2025-04-14",
        "o1",
        "o3-mini",
        "o4-mini",
        # shutting down 2026-12-11
        "gpt-5",
        "gpt-5-mini",
        "gpt-5-nano",
        "o3",
        # shutting down 2027-01-14 (replacement: gpt-6-luna)
        "gpt-4o",
        "gpt-4o-mini",
        "gpt-4o-mini-2024-07-18",
        "gpt-4o-2024-08-06",
        "gpt-4o-2024-11-20",
        "gpt-4.1",
        "gpt-4.1-mini",
    }
)


def anthropic_not_found(model: object) -> str | None:
    """The message of Anthropic's 404 `not_found_error` for `model`, or None if it is served."""
    if isinstance(model, str) and model in RETIRED_ANTHROPIC_MODELS:
        return f"model: {model}"
    return None


def openai_not_found(model: object) -> str | None:
    """The message of OpenAI's 404 `model_not_found` for `model`, or None if it is served."""
    if isinstance(model, str) and model in RETIRED_OPENAI_MODELS:
        return f"The model `{model}` does not exist or you do not have access to it."
    return None
