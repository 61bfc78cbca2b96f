"""The Protocols each external system sits behind (docs/architecture.md, "Ports and adapters").

Each has a production adapter and a local one that really works; activities receive them by
injection, so the workflow never knows which is in use.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from callflow.models import CallRecord, CheckIn, Commitment, CommitmentChanges, MemoryItem, User


class RecordsStore(Protocol):
    async def get_user(self, user_id: str) -> User | None: ...
    async def upsert_user(self, user: User) -> None: ...
    async def due_commitments(self, user_id: str, on_or_before: str) -> list[Commitment]:
        """Open commitments with `due_date <= on_or_before` (the user's local date), earliest
        first."""
        ...

    async def upsert_commitments(self, commitments: list[Commitment]) -> None: ...
    async def open_commitments(self, user_id: str) -> list[Commitment]:
        """Every open commitment of the user, due or not (restatements are matched on these)."""
        ...

    async def apply_commitment_changes(self, changes: CommitmentChanges) -> None:
        """Write one call's changes (callflow.commitments.apply_call_outcome) in one
        transaction: upsert the commitment rows, then the check-ins. Idempotent."""
        ...

    async def commitment_history(
        self,
        commitment_id: str | None = None,
        *,
        user_id: str | None = None,
        limit: int = 20,
    ) -> list[CheckIn]:
        """Check-ins of one commitment, or of all of one user's (exactly one of the two),
        newest first."""
        ...

    async def save_call(self, record: CallRecord) -> None: ...
    async def get_call(self, call_id: str) -> CallRecord | None: ...
    async def list_calls(self, user_id: str | None = None, limit: int = 100) -> list[CallRecord]:
        """Most recent calls first, of one user or of everyone."""
        ...

    async def claim_push(self, call_id: str, attempt: int) -> bool:
        """Record that the push for (call_id, attempt) is being sent; False if already sent."""
        ...

    async def mark_push_sent(self, call_id: str, attempt: int, apns_id: str) -> None: ...
    async def withhold_push(self, call_id: str, attempt: int) -> bool:
        """Make every later claim for (call_id, attempt) fail; False if it was already sent."""
        ...


class RecordingRecords(Protocol):
    """The records store's side of call recordings (both records adapters implement it)."""

    async def set_recording_consent(self, user_id: str, consent: bool) -> bool:
        """False when there is no such user."""
        ...

    async def expired_recordings(
        self, ended_before: str, limit: int = 100
    ) -> list[tuple[str, str]]:
        """(call id, object key) of calls that ended before the ISO cut-off and still hold a
        recording, oldest first."""
        ...

    async def clear_recording(self, call_id: str, deleted_at: str) -> None: ...


class RecordingStore(Protocol):
    """Call recordings in S3-compatible object storage, keyed by call id."""

    def describe(self) -> str: ...
    async def put(self, key: str, data: bytes, content_type: str) -> None: ...
    async def delete(self, key: str) -> None:
        """Deleting an object that is already gone is not an error."""
        ...

    async def size(self, key: str) -> int | None: ...


class MemoryStore(Protocol):
    async def search(self, user_id: str, query: str, limit: int = 5) -> list[MemoryItem]: ...
    async def write(
        self, user_id: str, call_id: str, content: str, metadata: dict[str, str]
    ) -> None:
        """Idempotent: writing the same call_id twice keeps one memory."""
        ...


@dataclass
class VoipPush:
    device_token: str
    payload: dict[str, object]
    apns_id: str  # a UUID, stable per (call_id, attempt) so a resend is recognisable
    expiration_s: int = 60


@dataclass
class PushResult:
    apns_id: str
    delivered: bool
    status: int
    reason: str | None = None


class PushSender(Protocol):
    async def send_voip(self, push: VoipPush) -> PushResult:
        """Raises push.errors.DeviceUnreachable (410/BadDeviceToken) or PushRetryable."""
        ...


@dataclass
class RoomGrant:
    room: str
    livekit_url: str
    token: str
    expires_at: str


@dataclass
class RoomState:
    exists: bool
    participant_identities: list[str] = field(default_factory=list)


class AgentPresence(StrEnum):
    """How far a room's agent has come, as LiveKit lists it."""

    ABSENT = "absent"  # no agent participant connected
    CONNECTED = "connected"  # in the room, media connection up, no voice track yet
    SPEAKING = "speaking"  # its voice track is published: a phone joining hears it at once


class RoomService(Protocol):
    async def create_room(self, room: str, metadata: str, empty_timeout_s: int) -> None: ...
    async def dispatch_agent(self, room: str, agent_name: str, metadata: str) -> None: ...
    async def redispatch_agent(self, room: str, agent_name: str, metadata: str) -> None: ...
    async def agent_presence(self, room: str) -> AgentPresence: ...
    def phone_token(self, room: str, identity: str, name: str, ttl_s: int) -> RoomGrant: ...
    async def delete_room(self, room: str) -> None: ...
    async def probe_room(self, room: str) -> RoomState: ...


@dataclass
class CommitmentUpdate:
    commitment_id: str
    status: str  # kept | broken | partly | unclear
    # The user's words the verdict rests on. Left out of ==, so comparisons written before it
    # existed (verdict by verdict) still hold; compare .evidence explicitly where it matters.
    evidence: str = field(default="", compare=False)


@dataclass
class NewCommitment:
    text: str
    # ISO date in the user's time zone. The analyzers always resolve it (a commitment said with no
    # date gets the call's default due date); None only in records written before they did.
    due_date: str | None = None
    recurrence: str | None = None  # None | "daily" | "weekdays" | "weekly"
    due_time: str | None = None  # "HH:MM" when the user said a time


@dataclass
class CallAnalysis:
    """Validated structured output of the post-call analysis."""

    summary: str
    mood: str
    new_commitments: list[NewCommitment] = field(default_factory=list)
    commitment_updates: list[CommitmentUpdate] = field(default_factory=list)
    topics_next_time: list[str] = field(default_factory=list)
    provider: str = ""


class CallAnalyzer(Protocol):
    async def analyze(
        self,
        transcript: list[dict[str, str]],
        due_commitments: list[Commitment],
        *,
        local_date: str | None = None,
        timezone: str = "UTC",
        default_due_date: str | None = None,
    ) -> CallAnalysis:
        """Relative dates ("tomorrow", "by Friday") resolve against `local_date` (ISO; None:
        today in `timezone`); a new commitment with no date gets `default_due_date` (the user's
        next scheduled call, when known), else the day after `local_date`.

        Raises analysis.errors.AnalysisInvalid when the model's output does not validate."""
        ...


@dataclass
class PostCallVerdict:
    """The call's verdict on one commitment that was due on it."""

    commitment_id: str
    text: str  # the commitment as stored
    verdict: str  # kept | broken | partly | unclear | cancelled
    evidence: str | None = None  # the user's words the verdict rests on


@dataclass
class PostCallCommitment:
    """A commitment the user made on the call, as the analysis stated it."""

    text: str
    due_date: str | None = None  # ISO date in the user's time zone
    due_time: str | None = None  # "HH:MM", where the user said a time
    recurrence: str | None = None  # None | "daily" | "weekdays" | "weekly"
    commitment_id: str | None = None  # the row the save created; None when none was created


POST_CALL_SCHEMA_VERSION = 1


@dataclass
class PostCallEvent:
    """The body of the post-call webhook (docs/post-call-webhook.md; its JSON Schema is
    callflow/notify/schemas/post_call.v1.json). Built by `workflows.call_record.post_call_event`.

    Fields after `ended_at` have defaults so events recorded in older workflow histories still
    decode (and still validate)."""

    call_id: str
    user_id: str
    outcome: str
    attempts: int
    summary: str | None
    ended_at: str
    schema_version: int = POST_CALL_SCHEMA_VERSION
    started_at: str | None = None  # ISO-8601 UTC: when the call's workflow began
    duration_s: float | None = None  # first transcribed turn to the last; None: no turn
    reason: str | None = None  # why the call ended as it did (the record's failure_reason)
    mood: str | None = None
    topics_next_time: list[str] = field(default_factory=list)
    verdicts: list[PostCallVerdict] = field(default_factory=list)
    new_commitments: list[PostCallCommitment] = field(default_factory=list)
    cost_usd: float | None = None
    memory_degraded: bool = False
    pushes_sent: int = 0


class AppBackendNotifier(Protocol):
    async def post_call(self, event: PostCallEvent) -> bool:
        """Deliver the signed post-call webhook; True when the backend answered 2xx."""
        ...


@dataclass
class SlotRequest:
    """One call asking for an agent slot. Waiting calls are granted in `due_at` order; between
    calls due at the same second, the user holding fewer slots goes first."""

    call_id: str
    user_id: str
    due_at: str  # ISO-8601 UTC: when the call is due to ring
    hold_s: float  # the grant lapses this long after it was made (or last renewed)


@dataclass
class SlotGrant:
    granted: bool
    capacity: int  # live agent slots in all (0: no agent worker has reported lately)
    held: int  # slots held now, this call's included when granted
    waiting_ahead: int = 0  # calls waiting that come before this one
    expires_at: str | None = None  # ISO-8601 UTC, when granted


@dataclass
class AgentWorkerReport:
    """What an agent worker says about itself, every few seconds."""

    worker_id: str
    capacity: int  # calls it can take at once (its warm job processes)
    active: int = 0  # calls it is in now


class AgentSlots(Protocol):
    """Agent capacity as a resource the ring path holds: a phone is rung only once a slot is
    held for its call. Capacity is what the live agent workers report; a slot whose holder
    died lapses at its expiry, so no crash keeps one."""

    async def report_worker(self, report: AgentWorkerReport, ttl_s: float) -> None:
        """Record a worker's capacity; it counts for `ttl_s` unless reported again."""
        ...

    async def acquire(self, request: SlotRequest) -> SlotGrant:
        """Take a slot for the call if one is free and no call ahead of it waits; otherwise
        register it as waiting (idempotent: asking again keeps its place) and say so."""
        ...

    async def renew(self, call_id: str, hold_s: float) -> bool:
        """Extend a held slot; False when the call holds none (it lapsed or was released)."""
        ...

    async def release(self, call_id: str) -> None:
        """Free the call's slot, or its place in the queue. Idempotent."""
        ...
