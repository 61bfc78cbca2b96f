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
    # Answered, but no conversation happened: the agent never greeted (no agent joined, or it
    # joined and never spoke), or the agent greeted and the user never said a word.
    NO_AGENT = "no_agent"
    NO_CONVERSATION = "no_conversation"
    SKIPPED = "skipped"  # the ring fell in the user's quiet hours and the policy is to skip
    NO_CAPACITY = "no_capacity"  # no agent slot came free within the max wait


# A record's outcome that no call workflow ends with: a conversation brought over from an
# earlier system by the history import (migration 0011; docs/history-import.md).
IMPORTED_OUTCOME = "imported"


class CommitmentStatus(StrEnum):
    OPEN = "open"
    KEPT = "kept"
    BROKEN = "broken"
    PARTLY = "partly"
    UNCLEAR = "unclear"
    CANCELLED = "cancelled"


@dataclass
class User:
    user_id: str
    display_name: str
    voip_token: str | None
    timezone: str = "UTC"
    locale: str = "en-US"
    quiet_hours: str | None = None  # "22:00-07:00", local: no ring starts inside it
    # The user agreed to have calls recorded (off unless they turn it on: docs/recordings.md).
    recording_consent: bool = False


class Recurrence(StrEnum):
    """How often a commitment recurs, where the user said so (None: once)."""

    DAILY = "daily"
    WEEKDAYS = "weekdays"  # Monday to Friday
    WEEKLY = "weekly"


@dataclass
class Commitment:
    """A commitment of one user (callflow/commitments.py has its rules).

    `due_date` is required by every records store (the dataclass default only keeps old workflow
    histories decoding); a commitment is due on a call when `due_date <= the user's local date`.
    """

    commitment_id: str
    user_id: str
    text: str
    due_date: str | None = None  # ISO date, in the user's time zone
    status: str = CommitmentStatus.OPEN
    source_call_id: str | None = None
    due_time: str | None = None  # "HH:MM", the user's local time, where one was agreed
    recurrence: str | None = None  # a Recurrence value, or None for a one-off
    until: str | None = None  # ISO date: a recurring commitment's last possible occurrence
    created_at: str | None = None  # ISO-8601 UTC, set by the store


@dataclass
class CheckIn:
    """One call's verdict on one commitment: which call asked, what the user said, when."""

    check_in_id: str
    commitment_id: str
    call_id: str
    verdict: str  # kept | broken | partly | unclear | cancelled
    evidence: str | None = None  # the user's words the verdict rests on
    asked_on: str = ""  # ISO date: the call's date in the user's time zone
    created_at: str | None = None  # ISO-8601 UTC, set by the store


@dataclass
class CommitmentChanges:
    """What one call does to a user's commitments (callflow.commitments.apply_call_outcome), for
    `RecordsStore.apply_commitment_changes` to write in one transaction. Ids are deterministic, so
    writing the same changes again upserts the same rows."""

    user_id: str
    call_id: str
    commitments: list[Commitment] = field(default_factory=list)  # rows to upsert
    check_ins: list[CheckIn] = field(default_factory=list)  # rows to upsert
    created_ids: list[str] = field(default_factory=list)  # new commitments of this call
    restated_ids: list[str] = field(default_factory=list)  # open ones the user stated again
    judged_ids: list[str] = field(default_factory=list)  # due ones that got a verdict

    @property
    def empty(self) -> bool:
        return not self.commitments and not self.check_ins


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
class Recording:
    """A call's recording in object storage (stereo Ogg/Opus: left the user, right the agent).
    The retention cleanup deletes the object and clears `key`, stamping `deleted_at`."""

    key: str | None  # the object key, None once deleted
    duration_s: float
    size_bytes: int
    channels: int = 2
    started_at: str | None = None  # ISO-8601 UTC of the first sample: the phone's join
    deleted_at: str | None = None  # ISO-8601 UTC


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
    topics_next_time: list[str] = field(default_factory=list)  # from the analysis
    agent_redispatches: int = 0  # agent dispatches beyond each attempt's first
    # Per agent reply to a user turn: the user's end of speech -> the agent's first audio (ms).
    turn_latencies_ms: list[float] = field(default_factory=list)
    pushes_sent: int | None = None  # VoIP pushes sent for the call; None: not counted then
    webhook_delivered: bool | None = None  # the post-call webhook's result; None: not known
    recording: Recording | None = None  # the call's recording, when the user consented
