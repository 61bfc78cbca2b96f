"""One source conversation, as the import reads it from the ElevenLabs API or an export file.

Both give the body of ElevenLabs' `GET /v1/convai/conversations/{id}`; `parse_conversation`
is the one reader of that shape, so the API and the file cannot be read differently.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from callflow.importer.errors import MalformedItem


@dataclass
class SourceTurn:
    role: str  # "agent" | "user"
    text: str
    time_in_call_s: float = 0.0


@dataclass
class SourceConversation:
    conversation_id: str
    agent_id: str
    start_unix_s: int
    duration_s: int = 0
    status: str = "done"
    transcript: list[SourceTurn] = field(default_factory=list)
    summary: str | None = None  # the source's own analysis summary
    dynamic_variables: dict[str, str] = field(default_factory=dict)
    source_user_id: str | None = None  # the source system's `user_id` of the conversation

    @property
    def started_at(self) -> datetime:
        return datetime.fromtimestamp(self.start_unix_s, UTC)


def _mapping(value: object, where: str, name: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise MalformedItem(f"{where}: `{name}` must be an object, got {type(value).__name__}")
    return value


def _turns(value: object, where: str) -> list[SourceTurn]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise MalformedItem(f"{where}: `transcript` must be a list of turns")
    turns = []
    for n, turn in enumerate(value):
        if not isinstance(turn, Mapping):
            raise MalformedItem(f"{where}: transcript turn {n} is not an object")
        role = turn.get("role")
        if role not in ("agent", "user"):
            raise MalformedItem(f"{where}: transcript turn {n} has role {role!r}, not agent/user")
        text = turn.get("message") or turn.get("original_message") or ""
        if not isinstance(text, str):
            raise MalformedItem(f"{where}: transcript turn {n}: `message` is not text")
        seconds = turn.get("time_in_call_secs") or 0
        if not isinstance(seconds, int | float):
            raise MalformedItem(f"{where}: transcript turn {n}: `time_in_call_secs` is no number")
        turns.append(SourceTurn(str(role), text, float(seconds)))
    return turns


def parse_conversation(body: object, where: str) -> SourceConversation:
    """Read one conversation body; `where` names it in errors ("line 3", "conversation c1")."""
    data = _mapping(body, where, "conversation")
    if not data:
        raise MalformedItem(f"{where}: not a conversation object")
    conversation_id = data.get("conversation_id")
    if not isinstance(conversation_id, str) or not conversation_id.strip():
        raise MalformedItem(f"{where}: `conversation_id` is missing")
    where = f"{where} (conversation {conversation_id})"
    metadata = _mapping(data.get("metadata"), where, "metadata")
    start = metadata.get("start_time_unix_secs")
    if not isinstance(start, int) or isinstance(start, bool) or start <= 0:
        raise MalformedItem(f"{where}: `metadata.start_time_unix_secs` is missing or not a time")
    duration = metadata.get("call_duration_secs") or 0
    analysis = _mapping(data.get("analysis"), where, "analysis")
    client_data = _mapping(
        data.get("conversation_initiation_client_data"),
        where,
        "conversation_initiation_client_data",
    )
    variables = _mapping(client_data.get("dynamic_variables"), where, "dynamic_variables")
    summary = analysis.get("transcript_summary")
    user_id = data.get("user_id") or client_data.get("user_id")
    return SourceConversation(
        conversation_id=conversation_id,
        agent_id=str(data.get("agent_id") or ""),
        start_unix_s=start,
        duration_s=int(duration) if isinstance(duration, int | float) else 0,
        status=str(data.get("status") or "done"),
        transcript=_turns(data.get("transcript"), where),
        summary=summary if isinstance(summary, str) and summary.strip() else None,
        dynamic_variables={
            str(k): str(v) for k, v in variables.items() if v is not None and str(v) != ""
        },
        source_user_id=str(user_id) if user_id else None,
    )
