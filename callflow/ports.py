"""The Protocols each external system sits behind (docs/architecture.md, "Ports and adapters").

Each has a production adapter and a local one that really works; activities receive them by
injection, so the workflow never knows which is in use.
"""

from __future__ import annotations

from dataclasses import dataclass, field
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
    async def claim_push(self, call_id: str, attempt: int) -> bool:
        """Record that the push for (call_id, attempt) is being sent; False if already sent."""
        ...

    async def mark_push_sent(self, call_id: str, attempt: int, apns_id: str) -> None: ...
    async def withhold_push(self, call_id: str, attempt: int) -> bool:
        """Make every later claim for (call_id, attempt) fail; False if it was already sent."""
        ...


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


class RoomService(Protocol):
    async def create_room(self, room: str, metadata: str, empty_timeout_s: int) -> None: ...
    async def dispatch_agent(self, room: str, agent_name: str, metadata: str) -> None: ...
    def phone_token(self, room: str, identity: str, name: str, ttl_s: int) -> RoomGrant: ...
    async def delete_room(self, room: str) -> None: ...
    async def probe_room(self, room: str) -> RoomState: ...


@dataclass
class CommitmentUpdate:
    commitment_id: str
    status: str  # kept | broken | unclear


@dataclass
class NewCommitment:
    text: str
    due_date: str | None = None


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
        self, transcript: list[dict[str, str]], due_commitments: list[Commitment]
    ) -> CallAnalysis:
        """Raises analysis.errors.AnalysisInvalid when the model's output does not validate."""
        ...


@dataclass
class PostCallEvent:
    call_id: str
    user_id: str
    outcome: str
    attempts: int
    summary: str | None
    ended_at: str


class AppBackendNotifier(Protocol):
    async def post_call(self, event: PostCallEvent) -> bool:
        """Deliver the signed post-call webhook; True when the backend answered 2xx."""
        ...
