"""In-memory port implementations that drive the workflow-logic tests.

They stand in for the real adapters only where the workflow itself is under test (the adapters
have their own tests against real services). The fake phone answers, ignores or declines each
push by signalling the workflow *before* the push activity returns, so the time-skipping
server cannot skip past the join timeout while the signal is in flight.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from temporalio.client import Client

from callflow.models import (
    CallRecord,
    CheckIn,
    Commitment,
    CommitmentChanges,
    MemoryItem,
    User,
)
from callflow.ports import (
    AgentPresence,
    AgentWorkerReport,
    CallAnalysis,
    CommitmentUpdate,
    NewCommitment,
    PostCallEvent,
    PushResult,
    RoomGrant,
    RoomState,
    SlotGrant,
    SlotRequest,
    VoipPush,
)
from callflow.push.errors import DeviceUnreachable, PushRetryable
from callflow.records.errors import InvalidRecord
from callflow.slots.codec import check_report, check_request, seconds
from callflow.slots.errors import InvalidSlotRequest
from workflows.messages import (
    AgentReady,
    Declined,
    ParticipantEvent,
    RoomFinished,
    TranscriptTurnSignal,
    workflow_id_for,
)


class MemoryRecords:
    def __init__(self) -> None:
        self.users: dict[str, User] = {}
        self.commitments: dict[str, Commitment] = {}
        self.check_ins: dict[str, CheckIn] = {}
        self.calls: dict[str, CallRecord] = {}
        self.save_count = 0
        self.pushes: dict[tuple[str, int], str] = {}

    async def get_user(self, user_id: str) -> User | None:
        return self.users.get(user_id)

    async def upsert_user(self, user: User) -> None:
        self.users[user.user_id] = user

    # --- commitments: the stores' rules (due_date required, created_at kept, one transaction)

    async def due_commitments(self, user_id: str, on_or_before: str) -> list[Commitment]:
        return [
            c
            for c in await self.open_commitments(user_id)
            if c.due_date is not None and c.due_date <= on_or_before
        ]

    async def open_commitments(self, user_id: str) -> list[Commitment]:
        mine = [c for c in self.commitments.values() if c.user_id == user_id and c.status == "open"]
        return sorted(mine, key=lambda c: (c.due_date or "", c.created_at or "", c.commitment_id))

    def _checked(self, c: Commitment) -> Commitment:
        if not c.due_date:
            raise InvalidRecord(f"Commitment.due_date is required, got {c.due_date!r}")
        existing = self.commitments.get(c.commitment_id)
        created = existing.created_at if existing else datetime.now(UTC).isoformat()
        return dataclasses.replace(c, created_at=created)

    async def upsert_commitments(self, commitments: list[Commitment]) -> None:
        checked = [self._checked(c) for c in commitments]
        for c in checked:
            self.commitments[c.commitment_id] = c

    async def apply_commitment_changes(self, changes: CommitmentChanges) -> None:
        checked = [self._checked(c) for c in changes.commitments]
        for c in checked:
            if c.user_id != changes.user_id:
                raise InvalidRecord(f"commitment {c.commitment_id!r} is not {changes.user_id!r}'s")
        known = {c.commitment_id for c in checked} | set(self.commitments)
        for ci in changes.check_ins:
            if ci.commitment_id not in known:
                raise InvalidRecord(f"check-in for unknown commitment {ci.commitment_id!r}")
        for c in checked:
            self.commitments[c.commitment_id] = c
        for ci in changes.check_ins:
            existing = self.check_ins.get(ci.check_in_id)
            created = existing.created_at if existing else datetime.now(UTC).isoformat()
            self.check_ins[ci.check_in_id] = dataclasses.replace(ci, created_at=created)

    async def commitment_history(
        self,
        commitment_id: str | None = None,
        *,
        user_id: str | None = None,
        limit: int = 20,
    ) -> list[CheckIn]:
        if (commitment_id is None) == (user_id is None):
            raise InvalidRecord("commitment_history takes a commitment_id or a user_id")
        rows = [
            ci
            for ci in self.check_ins.values()
            if ci.commitment_id == commitment_id
            or (user_id is not None and self.commitments[ci.commitment_id].user_id == user_id)
        ]
        rows.sort(key=lambda ci: (ci.asked_on, ci.created_at or ""), reverse=True)
        return rows[:limit]

    async def save_call(self, record: CallRecord) -> None:
        self.save_count += 1
        self.calls[record.call_id] = record

    async def get_call(self, call_id: str) -> CallRecord | None:
        return self.calls.get(call_id)

    async def list_calls(self, user_id: str | None = None, limit: int = 100) -> list[CallRecord]:
        mine = [r for r in self.calls.values() if user_id is None or r.user_id == user_id]
        return sorted(mine, key=lambda r: r.started_at, reverse=True)[:limit]

    async def claim_push(self, call_id: str, attempt: int) -> bool:
        if self.pushes.get((call_id, attempt)) in ("sent", "withheld"):
            return False
        self.pushes[(call_id, attempt)] = "claimed"
        return True

    async def withhold_push(self, call_id: str, attempt: int) -> bool:
        if self.pushes.get((call_id, attempt)) != "sent":
            self.pushes[(call_id, attempt)] = "withheld"
        return self.pushes[(call_id, attempt)] == "withheld"

    async def mark_push_sent(self, call_id: str, attempt: int, apns_id: str) -> None:
        self.pushes[(call_id, attempt)] = "sent"


class MemoryMemory:
    def __init__(self) -> None:
        self.items: dict[str, tuple[str, str]] = {}  # call_id -> (user_id, content)
        self.fail_search = False
        self.search_delay_s = 0.0
        self.searches = 0
        self.writes = 0

    async def search(self, user_id: str, query: str, limit: int = 5) -> list[MemoryItem]:
        self.searches += 1
        if self.search_delay_s:
            await asyncio.sleep(self.search_delay_s)
        if self.fail_search:
            raise ConnectionError("memory service down")
        return [
            MemoryItem(content, 1.0, call_id)
            for call_id, (uid, content) in self.items.items()
            if uid == user_id
        ][:limit]

    async def write(
        self, user_id: str, call_id: str, content: str, metadata: dict[str, str]
    ) -> None:
        self.writes += 1
        self.items[call_id] = (user_id, content)


@dataclass
class FakeRooms:
    created: list[str] = field(default_factory=list)
    dispatched: list[str] = field(default_factory=list)
    job_metadata: dict[str, str] = field(default_factory=dict)  # room -> the agent's job JSON
    dispatches: list[str] = field(default_factory=list)  # every dispatch, re-dispatches too
    # Called inside the dispatch (the activity is running, so test time does not skip).
    on_dispatch: Callable[[str, int], Awaitable[None]] | None = None
    deleted: list[str] = field(default_factory=list)
    probes: list[str] = field(default_factory=list)
    # room -> whether a probe still finds it (default: exists until deleted)
    probe_exists: Callable[[str], bool] | None = None
    # (room, dispatches so far) -> whether an agent is in it, voice published; default: the
    # agent is there once dispatched (a ring that waits for its agent asks this).
    agent_in_room: Callable[[str, int], bool] | None = None
    agent_looks: list[str] = field(default_factory=list)
    redispatches: list[str] = field(default_factory=list)

    async def create_room(self, room: str, metadata: str, empty_timeout_s: int) -> None:
        if room not in self.created:
            self.created.append(room)

    async def dispatch_agent(self, room: str, agent_name: str, metadata: str) -> None:
        self.dispatches.append(room)
        if self.on_dispatch is not None:
            await self.on_dispatch(room, self.dispatches.count(room))
        if room not in self.dispatched:
            self.dispatched.append(room)
        self.job_metadata[room] = metadata

    async def redispatch_agent(self, room: str, agent_name: str, metadata: str) -> None:
        self.redispatches.append(room)
        await self.dispatch_agent(room, agent_name, metadata)

    async def agent_presence(self, room: str) -> AgentPresence:
        self.agent_looks.append(room)
        there = room not in self.deleted and room in self.dispatched
        if there and self.agent_in_room is not None:
            there = self.agent_in_room(room, self.dispatches.count(room))
        return AgentPresence.SPEAKING if there else AgentPresence.ABSENT

    def phone_token(self, room: str, identity: str, name: str, ttl_s: int) -> RoomGrant:
        return RoomGrant(room, "ws://fake", f"token-for-{identity}-{room}", "2099-01-01T00:00:00")

    async def delete_room(self, room: str) -> None:
        self.deleted.append(room)

    async def probe_room(self, room: str) -> RoomState:
        self.probes.append(room)
        exists = room not in self.deleted
        if self.probe_exists is not None:
            exists = exists and self.probe_exists(room)
        return RoomState(exists=exists, participant_identities=[])


# "answer" (the agent greets, the user speaks, the room closes) | "answer_no_finish" (the same,
# and the room never reports finished) | "answer_no_agent" (the phone joins, no agent greets) |
# "answer_silent" (the agent greets, the user says nothing) | "ignore" | "decline" |
# "unreachable" | "busy". With `on_answer` set, the test plays the agent's part itself.
PhoneAction = str
ANSWERS = ("answer", "answer_no_finish", "answer_no_agent", "answer_silent")


class FakePhone:
    """A PushSender whose device reacts to each push by signalling the workflow."""

    def __init__(self, client: Client, actions: list[PhoneAction], user_id: str) -> None:
        self._client = client
        self._actions = actions
        self._user_id = user_id
        self.pushes: list[VoipPush] = []
        self.on_answer: Callable[[str, str], Awaitable[None]] | None = None

    async def send_voip(self, push: VoipPush) -> PushResult:
        action = self._actions[min(len(self.pushes), len(self._actions) - 1)]
        if action == "unreachable":
            raise DeviceUnreachable("410 Unregistered", status=410, reason="Unregistered")
        if action == "busy":
            self._actions = self._actions[1:] or ["answer"]
            raise PushRetryable("429 TooManyRequests", status=429)
        self.pushes.append(push)
        call_id = str(push.payload["call_id"])
        room = str(push.payload["room"])
        handle = self._client.get_workflow_handle(workflow_id_for(call_id))
        if action in ANSWERS:
            joined = ParticipantEvent(f"join-{room}", room, self._user_id)
            await handle.signal("participant_joined", joined)
            if self.on_answer is not None:
                await self.on_answer(call_id, room)
            elif action != "answer_no_agent":
                await handle.signal("agent_ready", AgentReady(f"ready-{room}", room, 400.0))
                await handle.signal("transcript_turn", turn(1, "agent", "Hi, did you run?"))
                if action != "answer_silent":
                    await handle.signal("transcript_turn", turn(2, "user", "Yes, twice."))
            if action != "answer_no_finish":
                await handle.signal("room_finished", RoomFinished(f"fin-{room}", room))
        elif action == "decline":
            await handle.signal("declined", Declined(f"decline-{room}"))
        return PushResult(apns_id=push.apns_id, delivered=True, status=200)


class ScriptedAnalyzer:
    provider = "test analyzer"

    def __init__(self) -> None:
        self.seen_transcripts: list[list[dict[str, str]]] = []

    async def analyze(
        self,
        transcript: list[dict[str, str]],
        due_commitments: list[Commitment],
        *,
        local_date: str | None = None,
        timezone: str = "UTC",
        default_due_date: str | None = None,
    ) -> CallAnalysis:
        self.seen_transcripts.append(transcript)
        return CallAnalysis(
            summary=f"{len(transcript)} turns",
            mood="good",
            new_commitments=[NewCommitment("run 5k", "2026-12-01")],
            commitment_updates=[CommitmentUpdate(c.commitment_id, "kept") for c in due_commitments],
            topics_next_time=["running"],
            provider=self.provider,
        )


class RecordingNotifier:
    def __init__(self) -> None:
        self.events: list[PostCallEvent] = []

    async def post_call(self, event: PostCallEvent) -> bool:
        self.events.append(event)
        return True


def turn(n: int, role: str, text: str) -> TranscriptTurnSignal:
    return TranscriptTurnSignal(f"turn-{n}", role, text, float(n), float(n) + 0.5)


@dataclass
class _SlotRow:
    user_id: str
    state: str  # "waiting" | "held"
    due_at: datetime
    requested_at: datetime
    expires_at: datetime
    granted_at: datetime | None = None


class MemoryAgentSlots:
    """`AgentSlots` in memory, by the rules of the SQL functions (migrations/0005_agent_slots.sql):
    lapsed rows and expired workers are dropped first; waiting calls rank by due second, then
    the slots their user holds, then when they first asked, then call id; a call is granted
    when `held + waiting_ahead < capacity`. Its time is `clock()`, so a test that skips time
    passes one reading the workflow environment's clock (never wall time behind its back)."""

    def __init__(self, clock: Callable[[], datetime] | None = None) -> None:
        self._clock = clock or (lambda: datetime.now(UTC))
        self.workers: dict[str, tuple[AgentWorkerReport, datetime]] = {}
        self.slots: dict[str, _SlotRow] = {}
        self.acquires: list[SlotRequest] = []
        self.releases: list[str] = []

    def now(self) -> datetime:
        moment = self._clock()
        return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)

    def _drop_lapsed(self, now: datetime) -> None:
        self.slots = {c: s for c, s in self.slots.items() if s.expires_at > now}
        self.workers = {w: r for w, r in self.workers.items() if r[1] > now}

    def capacity(self) -> int:
        now = self.now()
        return sum(report.capacity for report, expires in self.workers.values() if expires > now)

    def held(self) -> list[str]:
        now = self.now()
        return [c for c, s in self.slots.items() if s.state == "held" and s.expires_at > now]

    def waiting(self) -> list[str]:
        """Waiting calls, first in line first."""
        now = self.now()
        held_by: dict[str, int] = {}
        for s in self.slots.values():
            if s.state == "held" and s.expires_at > now:
                held_by[s.user_id] = held_by.get(s.user_id, 0) + 1
        rows = [
            (c, s) for c, s in self.slots.items() if s.state == "waiting" and s.expires_at > now
        ]
        rows.sort(
            key=lambda cs: (
                cs[1].due_at.replace(microsecond=0),
                held_by.get(cs[1].user_id, 0),
                cs[1].requested_at,
                cs[0],
            )
        )
        return [c for c, _ in rows]

    async def report_worker(self, report: AgentWorkerReport, ttl_s: float) -> None:
        _, _, _, ttl = check_report(report, ttl_s)
        self.workers[report.worker_id] = (report, self.now() + timedelta(seconds=ttl))

    async def acquire(self, request: SlotRequest) -> SlotGrant:
        call_id, user_id, due_at, hold_s = check_request(request)
        self.acquires.append(request)
        now = self.now()
        self._drop_lapsed(now)
        lease = now + timedelta(seconds=hold_s)
        row = self.slots.get(call_id)
        if row is None:
            row = self.slots[call_id] = _SlotRow(user_id, "waiting", due_at, now, lease)
        elif row.user_id != user_id:
            raise InvalidSlotRequest(f"call {call_id} is user {row.user_id}'s, not {user_id}")
        else:
            row.expires_at = max(row.expires_at, lease)
            if row.state == "waiting":
                row.due_at = due_at
        capacity, held = self.capacity(), len(self.held())
        if row.state == "held":
            return SlotGrant(True, capacity, held, 0, row.expires_at.isoformat())
        ahead = self.waiting().index(call_id)
        if held + ahead < capacity:
            row.state, row.granted_at, row.expires_at = "held", now, lease
            return SlotGrant(True, capacity, held + 1, 0, lease.isoformat())
        return SlotGrant(False, capacity, held, ahead, None)

    async def renew(self, call_id: str, hold_s: float) -> bool:
        hold = timedelta(seconds=seconds(hold_s, "hold_s"))
        now = self.now()
        row = self.slots.get(call_id)
        if row is None or row.state != "held" or row.expires_at <= now:
            return False
        row.expires_at = max(row.expires_at, now + hold)
        return True

    async def release(self, call_id: str) -> None:
        self.releases.append(call_id)
        self.slots.pop(call_id, None)
