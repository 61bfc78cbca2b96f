"""The job metadata the workflow's activity puts on the agent dispatch (and on the room).

Parsed once at the edge into dataclasses; a malformed document raises `JobMetadataInvalid`
naming the field, because a silent default would make the agent greet the wrong person.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from agent.errors import JobMetadataInvalid


@dataclass(frozen=True)
class UserProfile:
    user_id: str
    display_name: str
    timezone: str = "UTC"


@dataclass(frozen=True)
class DueCommitment:
    commitment_id: str
    text: str
    due_date: str | None = None


@dataclass(frozen=True)
class CallContext:
    call_id: str
    workflow_id: str
    user: UserProfile
    memory: list[str] = field(default_factory=list)
    memory_degraded: bool = False
    due_commitments: list[DueCommitment] = field(default_factory=list)
    script: str | None = None

    @property
    def phone_identity(self) -> str:
        """The phone joins the room with the user id as its identity."""
        return self.user.user_id

    def to_json(self) -> str:
        return json.dumps(asdict(self))


def _require_str(doc: dict[str, Any], key: str, where: str) -> str:
    value = doc.get(key)
    if not isinstance(value, str) or not value:
        raise JobMetadataInvalid(
            f"job metadata field {where}{key} must be a non-empty string, got {value!r}: "
            "the dispatch activity must set it"
        )
    return value


def _optional_str(doc: dict[str, Any], key: str, where: str) -> str | None:
    value = doc.get(key)
    if value is not None and not isinstance(value, str):
        raise JobMetadataInvalid(
            f"job metadata field {where}{key} must be a string or null, got {value!r}"
        )
    return value


def parse_call_context(raw: str) -> CallContext:
    """Parse the job metadata JSON; raises JobMetadataInvalid naming the bad field."""
    if not raw or not raw.strip():
        raise JobMetadataInvalid(
            "job metadata is empty: dispatch the agent with the call context JSON "
            "(call_id, workflow_id, user, memory, due_commitments)"
        )
    try:
        doc = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise JobMetadataInvalid(f"job metadata is not JSON ({exc.msg} at {exc.pos})") from exc
    if not isinstance(doc, dict):
        raise JobMetadataInvalid("job metadata must be a JSON object")

    user_doc = doc.get("user")
    if not isinstance(user_doc, dict):
        raise JobMetadataInvalid("job metadata field user must be an object with user_id")
    user = UserProfile(
        user_id=_require_str(user_doc, "user_id", "user."),
        display_name=_optional_str(user_doc, "display_name", "user.") or "there",
        timezone=_optional_str(user_doc, "timezone", "user.") or "UTC",
    )

    memory = doc.get("memory") or []
    if not isinstance(memory, list) or not all(isinstance(m, str) for m in memory):
        raise JobMetadataInvalid("job metadata field memory must be a list of strings")

    commitments_doc = doc.get("due_commitments") or []
    if not isinstance(commitments_doc, list):
        raise JobMetadataInvalid("job metadata field due_commitments must be a list")
    commitments: list[DueCommitment] = []
    for i, item in enumerate(commitments_doc):
        if not isinstance(item, dict):
            raise JobMetadataInvalid(f"job metadata field due_commitments[{i}] must be an object")
        where = f"due_commitments[{i}]."
        commitments.append(
            DueCommitment(
                commitment_id=_require_str(item, "commitment_id", where),
                text=_require_str(item, "text", where),
                due_date=_optional_str(item, "due_date", where),
            )
        )

    return CallContext(
        call_id=_require_str(doc, "call_id", ""),
        workflow_id=_require_str(doc, "workflow_id", ""),
        user=user,
        memory=list(memory),
        memory_degraded=bool(doc.get("memory_degraded", False)),
        due_commitments=commitments,
        script=_optional_str(doc, "script", ""),
    )
