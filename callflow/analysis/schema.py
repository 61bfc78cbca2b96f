"""The analysis schema the LLM must fill, validated with pydantic before anything is stored."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from callflow.analysis.errors import AnalysisInvalid
from callflow.ports import CallAnalysis, CommitmentUpdate, NewCommitment

ISO_DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
HH_MM = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"


class _NewCommitment(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=500, description="the action, in a few words")
    due_date: str = Field(
        pattern=ISO_DATE,
        description="ISO date YYYY-MM-DD in the user's time zone, resolved by the date rules; "
        "the call's default due date when the user gave no date",
    )
    due_time: str | None = Field(
        default=None, pattern=HH_MM, description="HH:MM (24 h) when the user said a time"
    )
    recurrence: Literal["daily", "weekdays", "weekly"] | None = Field(
        default=None, description="how often it repeats, when the user said so"
    )

    @field_validator("due_date", mode="before")
    @classmethod
    def _default_when_null(cls, v: Any, info: ValidationInfo) -> Any:
        # Strict structured output never sends null here; a provider that does gets the
        # call's default due date, so a stored commitment always has one.
        if v is None and isinstance(info.context, dict):
            return info.context.get("default_due_date")
        return v

    @field_validator("due_date")
    @classmethod
    def _iso_date(cls, v: str) -> str:
        date.fromisoformat(v)
        return v


class _CommitmentUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    commitment_id: str
    status: Literal["kept", "broken", "partly", "unclear"]
    evidence: str = Field(
        default="",
        max_length=2000,
        description="the user's own words from the transcript that justify the status; "
        "empty when unclear",
    )


class AnalysisOutput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    summary: str = Field(min_length=1, max_length=2000)
    mood: Literal["great", "good", "neutral", "low", "stressed"]
    new_commitments: list[_NewCommitment]
    commitment_updates: list[_CommitmentUpdate]
    topics_next_time: list[str]


# Keywords OpenAI's strict structured outputs refuse ("'minLength' is not permitted"): the limits
# still hold, because `parse` validates the answer with the pydantic model.
_NOT_PERMITTED_IN_STRICT = frozenset({"minLength", "maxLength", "default"})


def _strict(node: Any, defs: dict[str, Any]) -> Any:
    """`node` in OpenAI's strict subset: `$ref`s inlined, every object closed with every
    property required, unsupported keywords dropped."""
    if isinstance(node, list):
        return [_strict(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str):
        # Inlined rather than kept: strict mode refuses a `$ref` with sibling keywords.
        target = defs[ref.removeprefix("#/$defs/")]
        node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _NOT_PERMITTED_IN_STRICT or key == "$defs":
            continue
        if key == "properties":
            out[key] = {name: _strict(sub, defs) for name, sub in value.items()}
        elif key in ("items", "anyOf"):
            out[key] = _strict(value, defs)
        else:
            out[key] = value
    if out.get("type") == "object":
        properties = out.get("properties", {})
        out["additionalProperties"] = False
        # A field with a pydantic default would otherwise be optional, which strict mode refuses.
        out["required"] = list(properties)
    return out


def json_schema() -> dict[str, Any]:
    """The JSON schema sent as `response_format` with `strict: true`: self-contained (no `$defs`),
    `additionalProperties: false` and every property required on every object."""
    raw = AnalysisOutput.model_json_schema()
    strict: dict[str, Any] = _strict(raw, raw.get("$defs", {}))
    return strict


def parse(
    raw: str,
    provider: str,
    known_commitment_ids: set[str],
    *,
    default_due_date: str | None = None,
) -> CallAnalysis:
    """The validated analysis; `default_due_date` replaces a null due date (see above)."""
    try:
        out = AnalysisOutput.model_validate_json(
            raw, context={"default_due_date": default_due_date}
        )
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
        new_commitments=[
            NewCommitment(c.text, c.due_date, recurrence=c.recurrence, due_time=c.due_time)
            for c in out.new_commitments
        ],
        commitment_updates=[
            CommitmentUpdate(u.commitment_id, u.status, u.evidence) for u in out.commitment_updates
        ],
        topics_next_time=list(out.topics_next_time),
        provider=provider,
    )
