"""Post-call analysis by an OpenAI-compatible chat model with structured (json_schema) output."""

from __future__ import annotations

import json

import openai

from callflow.analysis import schema
from callflow.analysis.errors import AnalysisInvalid, AnalysisRejected, AnalysisUnavailable
from callflow.models import Commitment
from callflow.ports import CallAnalysis

SYSTEM_PROMPT = (
    "You analyse a finished accountability phone call between a coach (the agent) and a user. "
    "Summarise it in two or three sentences, judge the user's mood, list every new commitment "
    "the user made (with its ISO due date if one was agreed), say for each commitment that was "
    "due whether the user kept it, broke it, or it stayed unclear (use its commitment_id), and "
    "suggest topics for the next call. Only use what the transcript says."
)


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
        self, transcript: list[dict[str, str]], due_commitments: list[Commitment]
    ) -> CallAnalysis:
        user_message = json.dumps(
            {
                "due_commitments": [
                    {"commitment_id": c.commitment_id, "text": c.text, "due_date": c.due_date}
                    for c in due_commitments
                ],
                "transcript": transcript,
            }
        )
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
                temperature=0,
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
        return schema.parse(content, self.provider, {c.commitment_id for c in due_commitments})


def _rejection(e: openai.APIStatusError) -> str:
    """What to fix, by status; OpenAI's own message (never the key) for the rest."""
    if e.status_code in (401, 403):
        return (
            f"LLM refused the request ({e.status_code}): check OPENAI_API_KEY "
            "(and OPENAI_BASE_URL if it points at another provider)"
        )
    if e.status_code == 404:
        return (
            "LLM answered 404: check CALLFLOW_OPENAI_MODEL names a model the account can use "
            "and OPENAI_BASE_URL ends with the API root (e.g. https://api.openai.com/v1)"
        )
    detail = e.body.get("message") if isinstance(e.body, dict) else None
    return (
        f"LLM refused the request ({e.status_code}): {detail or e.message}; "
        "check CALLFLOW_OPENAI_MODEL supports structured outputs (json_schema, strict)"
    )
