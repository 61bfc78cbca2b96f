"""The analysis schema the LLM must fill, validated with pydantic before anything is stored."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from callflow.analysis.errors import AnalysisInvalid
from callflow.ports import CallAnalysis, CommitmentUpdate, NewCommitment


class _NewCommitment(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=500)
    due_date: str | None = Field(description="ISO date YYYY-MM-DD, or null if none was agreed")

    @field_validator("due_date")
    @classmethod
    def _iso_date(cls, v: str | None) -> str | None:
        if v is not None:
            date.fromisoformat(v)
        return v


class _CommitmentUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    commitment_id: str
    status: Literal["kept", "broken", "unclear"]


class AnalysisOutput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    summary: str = Field(min_length=1, max_length=2000)
    mood: Literal["great", "good", "neutral", "low", "stressed"]
    new_commitments: list[_NewCommitment]
    commitment_updates: list[_CommitmentUpdate]
    topics_next_time: list[str]


def json_schema() -> dict[str, object]:
    """The strict JSON schema sent as `response_format` (every property required)."""
    return AnalysisOutput.model_json_schema()


def parse(raw: str, provider: str, known_commitment_ids: set[str]) -> CallAnalysis:
    try:
        out = AnalysisOutput.model_validate_json(raw)
    except ValidationError as e:
        raise AnalysisInvalid(f"analysis output does not match the schema: {e}") from e
    unknown = [
        u.commitment_id
        for u in out.commitment_updates
        if u.commitment_id not in known_commitment_ids
    ]
    if unknown:
        raise AnalysisInvalid(f"analysis updates commitments that were not due: {unknown}")
    return CallAnalysis(
        summary=out.summary,
        mood=out.mood,
        new_commitments=[NewCommitment(c.text, c.due_date) for c in out.new_commitments],
        commitment_updates=[
            CommitmentUpdate(u.commitment_id, u.status) for u in out.commitment_updates
        ],
        topics_next_time=list(out.topics_next_time),
        provider=provider,
    )
