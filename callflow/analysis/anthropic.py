"""Post-call analysis by an Anthropic model, with structured output through tool use.

The model is given one tool whose `input_schema` is the analysis schema (the same one the OpenAI
analyzer sends as `json_schema`) and `tool_choice` forcing that tool, so its answer is the tool
call's `input`, validated by the same `schema.parse`. No sampling parameters are sent: Anthropic's
current models refuse `temperature`/`top_p`/`top_k` (callflow/model_params.py).
"""

from __future__ import annotations

import json
from typing import Any

import anthropic

from callflow.analysis import schema
from callflow.analysis.errors import AnalysisInvalid, AnalysisRejected, AnalysisUnavailable
from callflow.analysis.request import SYSTEM_PROMPT, call_context, request_text, silent_call
from callflow.models import Commitment
from callflow.ports import CallAnalysis

TOOL_NAME = "record_call_analysis"
MAX_TOKENS = 4096  # the analysis is a few hundred tokens; room for long calls


class AnthropicAnalyzer:
    def __init__(self, client: anthropic.AsyncAnthropic, model: str) -> None:
        self._client = client
        self._model = model

    @classmethod
    def create(cls, api_key: str, model: str, base_url: str | None = None) -> AnthropicAnalyzer:
        return cls(
            anthropic.AsyncAnthropic(api_key=api_key, base_url=base_url, max_retries=0), model
        )

    async def close(self) -> None:
        """Release the HTTP connections (the worker calls it on shutdown)."""
        await self._client.close()

    @property
    def provider(self) -> str:
        return f"anthropic:{self._model}"

    async def analyze(
        self,
        transcript: list[dict[str, str]],
        due_commitments: list[Commitment],
        *,
        local_date: str | None = None,
        timezone: str = "UTC",
        default_due_date: str | None = None,
    ) -> CallAnalysis:
        silent = silent_call(transcript, self.provider)
        if silent is not None:
            return silent
        context = call_context(local_date, timezone, default_due_date)
        user_message = request_text(transcript, due_commitments, context)
        try:
            response = await self._client.messages.create(
                model=self._model,
                max_tokens=MAX_TOKENS,
                system=SYSTEM_PROMPT,
                messages=[{"role": "user", "content": user_message}],
                tools=[
                    {
                        "name": TOOL_NAME,
                        "description": "Record the analysis of the call.",
                        "input_schema": schema.json_schema(),
                    }
                ],
                tool_choice={"type": "tool", "name": TOOL_NAME},
            )
        except (
            anthropic.APIConnectionError,
            anthropic.RateLimitError,
            anthropic.InternalServerError,
        ) as e:
            raise AnalysisUnavailable(f"LLM unavailable: {type(e).__name__}") from e
        except anthropic.APIStatusError as e:
            if e.status_code >= 500:  # 529 overloaded and the like
                raise AnalysisUnavailable(f"LLM unavailable: {e.status_code}") from e
            raise AnalysisRejected(_rejection(e)) from e
        if response.stop_reason == "max_tokens":
            raise AnalysisInvalid(f"the analysis was cut off at max_tokens={MAX_TOKENS}")
        tool_input = _tool_input(response.content)
        if tool_input is None:
            raise AnalysisInvalid(
                f"the model answered without calling {TOOL_NAME} (stop: {response.stop_reason})"
            )
        return schema.parse(
            json.dumps(tool_input),
            self.provider,
            {c.commitment_id for c in due_commitments},
            default_due_date=str(context["default_due_date"]),
        )


def _tool_input(content: list[Any]) -> dict[str, Any] | None:
    for block in content:
        if getattr(block, "type", None) == "tool_use" and getattr(block, "name", None) == TOOL_NAME:
            value = getattr(block, "input", None)
            return value if isinstance(value, dict) else None
    return None


def _rejection(e: anthropic.APIStatusError) -> str:
    """What to fix, by status; Anthropic's own message (never the key) for the rest."""
    if e.status_code in (401, 403):
        return f"LLM refused the request ({e.status_code}): check ANTHROPIC_API_KEY"
    if e.status_code == 404:
        return (
            "LLM answered 404 not_found_error: check CALLFLOW_ANTHROPIC_MODEL names a current "
            "model (a retired model answers 404) and ANTHROPIC_BASE_URL, if set"
        )
    detail = None
    if isinstance(e.body, dict):
        error = e.body.get("error")
        detail = error.get("message") if isinstance(error, dict) else None
    return f"LLM refused the request ({e.status_code}): {detail or e.message}"
