"""Domain records shared by the ports, the activities and the workflow.

Plain dataclasses (Temporal's default converter serialises them); new fields get defaults so
existing workflow histories keep decoding.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Outcome(StrEnum):
    COMPLETED = "completed"
    MISSED = "missed"
    DECLINED = "declined"
    UNREACHABLE = "unreachable"
    CANCELLED = "cancelled"
    FAILED = "failed"


class CommitmentStatus(StrEnum):
    OPEN = "open"
    KEPT = "kept"
    BROKEN = "broken"
    UNCLEAR = "unclear"


@dataclass
class User:
    user_id: str
    display_name: str
    voip_token: str | None
    timezone: str = "UTC"
    locale: str = "en-US"


@dataclass
class Commitment:
    commitment_id: str
    user_id: str
    text: str
    due_date: str | None = None  # ISO date, in the user's time zone
    status: str = CommitmentStatus.OPEN
    source_call_id: str | None = None


@dataclass
class MemoryItem:
    content: str
    score: float = 0.0
    source_call_id: str | None = None


@dataclass
class TranscriptTurn:
    role: str  # "agent" | "user"
    text: str
    started_at: float  # unix seconds
    ended_at: float


@dataclass
class Usage:
    stt_seconds: float = 0.0
    llm_prompt_tokens: int = 0
    llm_completion_tokens: int = 0
    tts_characters: int = 0


@dataclass
class CallRecord:
    """What the records store keeps of one call; upserted by `call_id`."""

    call_id: str
    user_id: str
    outcome: str
    attempts: int
    started_at: str  # ISO-8601 UTC
    ended_at: str
    failure_reason: str | None = None
    memory_degraded: bool = False
    summary: str | None = None
    mood: str | None = None
    transcript: list[TranscriptTurn] = field(default_factory=list)
    usage: Usage | None = None
    cost_usd: float | None = None
    latency: dict[str, float] = field(default_factory=dict)
    tools_called: list[str] = field(default_factory=list)
    analysis_provider: str | None = None
    stages: list[dict[str, str]] = field(default_factory=list)
