"""Post-call analysis by an OpenAI-compatible chat model with structured (json_schema) output."""

from __future__ import annotations

import openai

from callflow.analysis import schema
from callflow.analysis.errors import AnalysisInvalid, AnalysisRejected, AnalysisUnavailable
from callflow.analysis.request import SYSTEM_PROMPT, call_context, request_text, silent_call
from callflow.model_params import openai_accepts_temperature
from callflow.models import Commitment
from callflow.ports import CallAnalysis


class OpenAIAnalyzer:
    def __init__(self, client: openai.AsyncOpenAI, model: str) -> None:
        self._client = client
        self._model = model

    @classmethod
    def create(cls, api_key: str, model: str, base_url: str | None = None) -> OpenAIAnalyzer:
        return cls(openai.AsyncOpenAI(api_key=api_key, base_url=base_url, max_retries=0), model)

    async def close(self) -> None:
        """Release the HTTP connections (the worker calls it on shutdown)."""
        await self._client.close()

    @property
    def provider(self) -> str:
        return f"openai:{self._model}"

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
            response = await self._client.chat.completions.create(
                model=self._model,
                messages=[
                    {"role": "system", "content": SYSTEM_PROMPT},
                    {"role": "user", "content": user_message},
                ],
                response_format={
                    "type": "json_schema",
                    "json_schema": {
                        "name": "call_analysis",
                        "strict": True,
                        "schema": schema.json_schema(),
                    },
                },
                # Deterministic where the model takes a temperature; reasoning models refuse one.
                temperature=0.0 if openai_accepts_temperature(self._model) else openai.omit,
            )
        except (openai.APIConnectionError, openai.RateLimitError, openai.InternalServerError) as e:
            raise AnalysisUnavailable(f"LLM unavailable: {e}") from e
        except openai.APIStatusError as e:
            raise AnalysisRejected(_rejection(e)) from e
        if not response.choices:
            raise AnalysisInvalid("the LLM answered a completion with no choices")
        message = response.choices[0].message
        if message.refusal:
            # Strict mode answers a refusal instead of the schema; nothing to validate.
            raise AnalysisInvalid(f"the model refused to analyse the call: {message.refusal}")
        content = message.content or ""
        return schema.parse(
            content,
            self.provider,
            {c.commitment_id for c in due_commitments},
            default_due_date=str(context["default_due_date"]),
        )


def _rejection(e: openai.APIStatusError) -> str:
    """What to fix, by status; OpenAI's own message (never the key) for the rest."""
    if e.status_code in (401, 403):
        return (
            f"LLM refused the request ({e.status_code}): check OPENAI_API_KEY "
            "(and OPENAI_BASE_URL if it points at another provider)"
        )
    if e.status_code == 404:
        return (
            "LLM answered 404: check CALLFLOW_OPENAI_MODEL names a current model the account can "
            "use (a retired model answers 404 too) "
            "and that OPENAI_BASE_URL ends with the API root (e.g. https://api.openai.com/v1)"
        )
    detail = e.body.get("message") if isinstance(e.body, dict) else None
    return (
        f"LLM refused the request ({e.status_code}): {detail or e.message}; "
        "check CALLFLOW_OPENAI_MODEL supports structured outputs (json_schema, strict)"
    )
