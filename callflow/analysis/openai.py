"""Post-call analysis by an OpenAI-compatible chat model with structured (json_schema) output."""

from __future__ import annotations

import json
from datetime import date, timedelta

import openai

from callflow.analysis import schema
from callflow.analysis.dates import (
    DATE_RULES,
    call_local_date,
    default_due,
    next_monday,
    weekday_name,
)
from callflow.analysis.errors import AnalysisInvalid, AnalysisRejected, AnalysisUnavailable
from callflow.model_params import openai_accepts_temperature
from callflow.models import Commitment
from callflow.ports import CallAnalysis

SYSTEM_PROMPT = (
    "You analyse a finished accountability phone call between a coach (the agent) and a user. "
    "Only use what the transcript says, and only the user's own words as evidence.\n"
    "- summary: two or three sentences.\n"
    "- mood: the user's mood; mind negation (\"I'm not happy\" is not good).\n"
    "- commitment_updates: one per due commitment, by its commitment_id. status: kept (the "
    'user did it), broken (did not, or not yet), partly (did some of it: "some days", '
    '"half", "three out of five", "most days but not..."), unclear (the user did not '
    "say). Attribute each answer to the commitment the coach had just asked about. When the "
    'user corrects themself ("yes, well, no, actually I skipped it") the last stance counts. '
    "evidence: the user's words, quoted from the transcript, that justify the status (empty "
    "when unclear).\n"
    "- new_commitments: every new commitment the user made, or a proposal of the coach the "
    'user accepted. Not commitments: hedges ("maybe", "I\'ll think about it", "I might"), '
    'turns of phrase ("I\'m going to be honest", "I\'ll let you know"), travel ("I\'m going '
    'to Lisbon"). text: the action in a few words; due_date: an ISO date, always given, '
    'resolved by the rules below; due_time: "HH:MM" when the user said a time, else null; '
    "recurrence: daily, weekdays, weekly or null.\n"
    "- topics_next_time: what the coach should follow up on.\n"
    "If the user said nothing at all, there are no updates and no new commitments.\n\n"
    "Resolve dates with these rules, against the local date, weekday and time zone given "
    "with the call (never UTC); `calendar` lists the coming days:\n" + DATE_RULES
)


def call_context(
    local_date: str | None, timezone: str, default_due_date: str | None
) -> dict[str, object]:
    """What the model is told about the call's date, so it resolves "tomorrow" and "by
    Friday" against the user's day rather than its own."""
    today = call_local_date(local_date, timezone)
    return {
        "local_date": today.isoformat(),
        "weekday": weekday_name(today),
        "timezone": timezone,
        "default_due_date": default_due(today, default_due_date).isoformat(),
        "next_week_starts": next_monday(today).isoformat(),
        "calendar": [_day(today + timedelta(days=n)) for n in range(15)],
    }


def _day(d: date) -> str:
    return f"{weekday_name(d)} {d.isoformat()}"


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
        context = call_context(local_date, timezone, default_due_date)
        if not any(t.get("role") == "user" and (t.get("text") or "").strip() for t in transcript):
            # A silent call changes nothing; no need to ask a model about it.
            return CallAnalysis(
                summary="The call connected but no conversation was transcribed.",
                mood="neutral",
                provider=self.provider,
            )
        user_message = json.dumps(
            {
                "call": context,
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
