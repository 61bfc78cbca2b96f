"""The vocabulary of `CallWorkflow`: its names, and its inputs, outputs, signals, updates and
queries.

Everything outside workflows/ (the service, the agent, the operator CLI, the schedules, the
benchmarks) talks to the workflow with these names, never with string literals of its own.
Every name here is part of recorded histories and of running calls: never change a value.

One dataclass per message; every field added later needs a default so histories still decode.
Every message into the workflow carries an `event_id`: the workflow ignores ids it has seen.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from urllib.parse import quote

from temporalio.common import SearchAttributeKey

WORKFLOW_TYPE = "CallWorkflow"
TASK_QUEUE = "callflow"  # the one task queue of workers, agent signals and the call API
WORKFLOW_ID_PREFIX = "call-"
ROOM_PREFIX = "callflow-"
DEFAULT_CALLER_NAME = "Callflow Coach"


class SignalName(StrEnum):
    """The workflow's signals. LiveKit's webhook events of the same names become the first
    three; the agent sends the next three; the call API sends `declined`."""

    PARTICIPANT_JOINED = "participant_joined"
    PARTICIPANT_LEFT = "participant_left"
    ROOM_FINISHED = "room_finished"
    AGENT_READY = "agent_ready"
    TRANSCRIPT_TURN = "transcript_turn"
    AGENT_REPORT = "agent_report"
    DECLINED = "declined"
    # The agent uploaded the call's recording (users with recording_consent only).
    RECORDING_FINISHED = "recording_finished"


STATUS_QUERY = "status"  # -> CallStatus
CANCEL_UPDATE = "cancel"  # CancelRequest -> CancelAccepted

# Search attributes the workflow upserts (registered on the namespace: callflow/local/stack).
CALL_STAGE = SearchAttributeKey.for_keyword("CallStage")
CALL_USER_ID = SearchAttributeKey.for_keyword("CallUserId")
CALL_ATTEMPT = SearchAttributeKey.for_int("CallAttempt")
CALL_OUTCOME = SearchAttributeKey.for_keyword("CallOutcome")
# Set by Temporal on workflows a schedule starts.
SCHEDULED_START = SearchAttributeKey.for_datetime("TemporalScheduledStartTime")


class Stage(StrEnum):
    """Stages, in the order a completed call passes them (the CallStage search attribute)."""

    SCHEDULED = "scheduled"
    LOADING_USER = "loading_user"
    FETCHING_MEMORY = "fetching_memory"
    WAITING_DUE = "waiting_due"  # prepared, sleeping until the due time
    RINGING = "ringing"  # room + agent dispatch + token + VoIP push, one idempotent step
    AWAITING_JOIN = "awaiting_join"
    BACKING_OFF = "backing_off"
    WAITING_QUIET_HOURS = "waiting_quiet_hours"  # a ring fell in the user's quiet hours
    WAITING_FOR_AGENT = "waiting_for_agent"  # holding (or waiting for) an agent slot
    IN_CALL = "in_call"
    ANALYZING = "analyzing"
    WRITING_MEMORY = "writing_memory"
    SAVING_RECORD = "saving_record"
    NOTIFYING = "notifying"
    DONE = "done"


FINAL_STAGES = frozenset({Stage.DONE})


def temporal_ui_link(ui_url: str, namespace: str, workflow_id: str) -> str:
    """The Temporal UI page of one workflow execution."""
    return (
        f"{ui_url.rstrip('/')}/namespaces/{quote(namespace, safe='')}"
        f"/workflows/{quote(workflow_id, safe='')}"
    )


def workflow_id_for(call_id: str) -> str:
    return f"{WORKFLOW_ID_PREFIX}{call_id}"


def room_name_for(call_id: str, attempt: int) -> str:
    return f"{ROOM_PREFIX}{call_id}-a{attempt}"


def call_id_from_room(room: str) -> str | None:
    """The call id a room belongs to, or None for rooms callflow did not create."""
    if not room.startswith(ROOM_PREFIX):
        return None
    rest = room[len(ROOM_PREFIX) :]
    call_id, sep, attempt = rest.rpartition("-a")
    if not sep or not call_id or not attempt.isdigit():
        return None
    return call_id


@dataclass
class CallTimings:
    join_timeout_s: float = 45.0
    max_attempts: int = 3
    retry_backoff_s: list[float] = field(default_factory=lambda: [120.0, 300.0])
    max_call_s: float = 900.0
    room_probe_interval_s: float = 30.0
    memory_budget_ms: int = 400
    # A scheduled call starts its ring activity this long before the due time; the activity
    # waits in the worker and rings on time, so the due second needs no server round trip.
    # 0 turns arming off (a durable timer until the due time, then the ring).
    ring_arm_s: float = 60.0
    # An armed ring heartbeats every few seconds; a worker that dies holding it is noticed after
    # this long and the ring is retried on another worker.
    ring_heartbeat_timeout_s: float = 30.0
    # The agent must be in the room this long after its dispatch, else it is dispatched once
    # more, and after as long again the attempt ends `no_agent`. None: not watched (inputs
    # from before agent presence existed replay as they ran).
    agent_join_timeout_s: float | None = None
    # With agent slots on, a due call waits at most this long for a free agent.
    agent_max_wait_s: float = 600.0


@dataclass
class PriceTable:
    """Provider prices (USD) used to turn an agent's usage into a cost per call."""

    stt_per_minute: float = 0.0
    llm_per_1k_prompt_tokens: float = 0.0
    llm_per_1k_completion_tokens: float = 0.0
    tts_per_1k_characters: float = 0.0
    livekit_per_minute: float = 0.0


@dataclass
class CallInput:
    call_id: str
    user_id: str
    timings: CallTimings = field(default_factory=CallTimings)
    reason: str = "scheduled"  # scheduled | on_demand
    scheduled_for: str | None = None  # ISO-8601 UTC; the call rings at this time
    caller_name: str = DEFAULT_CALLER_NAME  # the name the VoIP push shows and the agent uses
    agent_name: str = "callflow-agent"
    # Scheduled calls fire ahead of the due time to prepare, then sleep until it (the morning
    # peak then only rings). Due time = the schedule's TemporalScheduledStartTime + ring_lead_s,
    # or, with the schedule's memo, the local call time that firing is for (schedules/dst.py).
    ring_lead_s: float = 0.0
    phone_token_ttl_s: int = 600
    prices: PriceTable = field(default_factory=lambda: PriceTable())
    conversation_script: str | None = None  # offline script name the agent and phone share
    # The schedule's quiet hours ("22:00-07:00", local), on top of the user record's.
    quiet_hours: str | None = None
    quiet_hours_policy: str = "wait"  # wait | skip: a ring inside quiet hours
    call_days: list[str] = field(default_factory=list)  # the schedule's days (mon..sun)
    # Ring only once an agent slot is held for the call (activities/slots.py).
    agent_slots: bool = False


@dataclass
class StageMark:
    stage: str
    at: str  # ISO-8601 UTC


@dataclass
class CallResult:
    call_id: str
    outcome: str
    attempts: int
    stages: list[StageMark]
    failure_reason: str | None = None
    memory_degraded: bool = False
    memory_written: bool = False
    record_saved: bool = False
    post_call_webhook_delivered: bool = False
    pushes_sent: int = 0
    ended_by: str | None = None  # room_finished | probe | hard_cap | cancel
    transcript_turns: int = 0
    tools_called: list[str] = field(default_factory=list)
    agent_first_audio_ms: float | None = None
    cost_usd: float | None = None
    agent_redispatches: int = 0
    wait_for_agent_ms: float | None = None  # due time -> agent slot held (slots on)


# --- messages in -------------------------------------------------------------------------


@dataclass
class ParticipantEvent:
    event_id: str
    room: str
    identity: str
    kind: str = "standard"  # livekit participant kind: "standard" (phone) | "agent"
    at: float = 0.0  # unix seconds (LiveKit createdAt)


@dataclass
class RoomFinished:
    event_id: str
    room: str
    at: float = 0.0


@dataclass
class AgentReady:
    event_id: str
    room: str
    first_audio_ms: float


@dataclass
class TranscriptTurnSignal:
    event_id: str
    role: str
    text: str
    started_at: float
    ended_at: float


@dataclass
class TurnLatency:
    end_of_utterance_ms: float = 0.0
    llm_ttft_ms: float = 0.0
    tts_ttfb_ms: float = 0.0
    # User end of speech -> the agent's first audio frame out; None for a turn that answers no
    # user turn (the greeting, the reply after a tool call).
    total_ms: float | None = None


@dataclass
class AgentReport:
    event_id: str
    stt_seconds: float = 0.0
    llm_prompt_tokens: int = 0
    llm_completion_tokens: int = 0
    tts_characters: int = 0
    turn_latencies: list[TurnLatency] = field(default_factory=list)
    tools_called: list[str] = field(default_factory=list)
    providers: dict[str, str] = field(default_factory=dict)


@dataclass
class RecordingFinished:
    """The call's recording is in object storage (stereo Ogg/Opus: left user, right agent)."""

    event_id: str
    key: str  # object key in the recordings bucket
    duration_s: float
    size_bytes: int
    channels: int = 2
    started_at: float | None = None  # unix time of the recording's first sample


@dataclass
class Declined:
    event_id: str
    reason: str = "declined on CallKit"


@dataclass
class CancelRequest:
    reason: str
    requested_by: str = "operator"


@dataclass
class CancelAccepted:
    call_id: str
    stage: str


@dataclass
class CallStatus:
    call_id: str
    user_id: str
    stage: str
    attempt: int
    outcome: str | None
    stages: list[StageMark]
    room: str | None
    phone_joined: bool
    memory_degraded: bool
    transcript_turns: int
    failure_reason: str | None = None
    due_at: str | None = None  # ISO-8601 UTC when the call rings (scheduled calls)
    # Set while a ring waits for the end of the user's quiet hours (ISO-8601 UTC).
    quiet_hours_until: str | None = None
