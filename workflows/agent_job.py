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

from callflow.models import Commitment, MemoryItem, User
from workflows.messages import DEFAULT_CALLER_NAME, CallTimings

# The agent's parser rejects "" for these (the annotation only constrains that parser).
NonEmptyStr = Annotated[str, pydantic.Field(min_length=1)]

_TIMING_DEFAULTS = CallTimings()


@dataclass(frozen=True)
class JobUser:
    user_id: NonEmptyStr  # also the phone's participant identity in the room
    display_name: str = ""
    timezone: str = "UTC"


@dataclass(frozen=True)
class JobCommitment:
    commitment_id: NonEmptyStr
    text: NonEmptyStr
    due_date: str | None = None  # ISO date, in the user's time zone


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

    @property
    def phone_identity(self) -> str:
        """The phone joins the room with the user id as its identity."""
        return self.user.user_id

    def to_json(self) -> str:
        return json.dumps(asdict(self))


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
) -> AgentJob:
    return AgentJob(
        call_id=call_id,
        workflow_id=workflow_id,
        user=JobUser(user.user_id, user.display_name, user.timezone),
        memory=[m.content for m in memory],
        memory_degraded=memory_degraded,
        due_commitments=[
            JobCommitment(c.commitment_id, c.text, c.due_date) for c in due_commitments
        ],
        script=script,
        caller_name=caller_name,
        join_timeout_s=timings.join_timeout_s,
        max_call_s=timings.max_call_s,
    )
