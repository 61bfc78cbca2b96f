"""`AgentJob`: what the workflow tells the voice agent about one call.

The workflow builds it (`agent_job_for`) and puts `to_json()` on the agent dispatch and the
room as their metadata; the agent parses it back with `agent.metadata.parse_call_context`,
which validates against these dataclasses. Pure and deterministic: importable in the workflow
sandbox.

Every field added later needs a default: a ring activity scheduled before a deploy still
carries the JSON of the version that scheduled it, and the agent must accept it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Annotated

import pydantic

from callflow.models import CheckIn, Commitment, MemoryItem, User
from workflows.messages import DEFAULT_CALLER_NAME, CallTimings

# The agent's parser rejects "" for these (the annotation only constrains that parser).
NonEmptyStr = Annotated[str, pydantic.Field(min_length=1)]

_TIMING_DEFAULTS = CallTimings()
# The check-ins a commitment carries to the agent, newest first: enough for "kept three times
# running", few enough that a long daily commitment keeps the job metadata small.
MAX_HISTORY = 10


@dataclass(frozen=True)
class JobUser:
    user_id: NonEmptyStr  # also the phone's participant identity in the room
    display_name: str = ""
    timezone: str = "UTC"


@dataclass(frozen=True)
class JobCheckIn:
    """One earlier call's verdict on a commitment."""

    verdict: NonEmptyStr  # kept | broken | partly | unclear | cancelled
    asked_on: str = ""  # ISO date of that call, in the user's time zone
    evidence: str | None = None  # the user's words the verdict rests on


@dataclass(frozen=True)
class JobCommitment:
    commitment_id: NonEmptyStr
    text: NonEmptyStr
    due_date: str | None = None  # ISO date, in the user's time zone
    recurrence: str | None = None  # daily | weekdays | weekly, or None for a one-off
    history: list[JobCheckIn] = field(default_factory=list)  # newest first


@dataclass(frozen=True)
class AgentJob:
    call_id: NonEmptyStr
    workflow_id: NonEmptyStr  # where the agent sends its signals
    user: JobUser
    memory: list[str] = field(default_factory=list)
    memory_degraded: bool = False  # the memory fetch failed: the agent must not pretend
    due_commitments: list[JobCommitment] = field(default_factory=list)
    script: str | None = None  # offline conversation script the agent and the phone share
    caller_name: str = DEFAULT_CALLER_NAME  # who the agent is: the name the VoIP push shows
    # The agent waits this long for the phone to join (the workflow's own join timeout) ...
    join_timeout_s: float = _TIMING_DEFAULTS.join_timeout_s
    # ... and ends its session this long (plus a margin) after it, if the room never closes.
    max_call_s: float = _TIMING_DEFAULTS.max_call_s
    local_date: str = ""  # ISO date: the user's date at the call ("" from an older workflow)
    last_call_summary: str | None = None  # the analysis summary of the user's last call
    topics: list[str] = field(default_factory=list)  # topics for this call, from the last one
    # The user consented: the agent records the call and says so first (docs/recordings.md).
    recording_consent: bool = False

    @property
    def phone_identity(self) -> str:
        """The phone joins the room with the user id as its identity."""
        return self.user.user_id

    def to_json(self) -> str:
        return json.dumps(asdict(self))


def room_metadata_for(call_id: str, agent_metadata: str = "") -> str:
    """The room's own metadata: every participant (the phone too) can read it, so it names the
    call and nothing private. The agent's context (memory, commitments) travels only on the
    agent dispatch, whose metadata reaches the agent's job and no participant. The offline
    conversation script's name (local stacks only; the phone simulator plays the user's side
    of it) is kept from the job: it says nothing about the user."""
    public: dict[str, str] = {"call_id": call_id}
    try:
        script = json.loads(agent_metadata).get("script") if agent_metadata else None
    except (ValueError, AttributeError):
        script = None
    if isinstance(script, str) and script:
        public["script"] = script
    return json.dumps(public)


def agent_job_for(
    *,
    call_id: str,
    workflow_id: str,
    user: User,
    due_commitments: list[Commitment],
    memory: list[MemoryItem],
    memory_degraded: bool,
    timings: CallTimings,
    caller_name: str,
    script: str | None,
    history: dict[str, list[CheckIn]] | None = None,
    local_date: str = "",
    last_call_summary: str | None = None,
    topics: list[str] | None = None,
    recording_consent: bool = False,
) -> AgentJob:
    """`history` maps a commitment id to its check-ins, in any order."""
    history = history or {}
    return AgentJob(
        call_id=call_id,
        workflow_id=workflow_id,
        user=JobUser(user.user_id, user.display_name, user.timezone),
        memory=[m.content for m in memory],
        memory_degraded=memory_degraded,
        due_commitments=[
            JobCommitment(
                c.commitment_id,
                c.text,
                c.due_date,
                c.recurrence,
                _job_history(history.get(c.commitment_id, [])),
            )
            for c in due_commitments
        ],
        script=script,
        caller_name=caller_name,
        join_timeout_s=timings.join_timeout_s,
        max_call_s=timings.max_call_s,
        local_date=local_date,
        last_call_summary=last_call_summary,
        topics=list(topics or []),
        recording_consent=recording_consent,
    )


def _job_history(check_ins: list[CheckIn]) -> list[JobCheckIn]:
    """Newest first (by the call's date, then when it was stored), at most MAX_HISTORY."""
    newest_first = sorted(
        (c for c in check_ins if c.verdict),
        key=lambda c: (c.asked_on, c.created_at or "", c.check_in_id),
        reverse=True,
    )
    return [JobCheckIn(c.verdict, c.asked_on, c.evidence) for c in newest_first[:MAX_HISTORY]]
