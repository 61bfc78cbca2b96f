"""The job metadata the workflow's activity puts on the agent dispatch (and on the room).

It is the JSON of `workflows.agent_job.AgentJob`, parsed once at the edge by one validating
parser; a malformed document raises `JobMetadataInvalid` naming the field, because a silent
default would make the agent greet the wrong person.
"""

from __future__ import annotations

import pydantic
from pydantic_core import ErrorDetails

from agent.errors import JobMetadataInvalid
from workflows.agent_job import AgentJob, JobCommitment, JobUser

# The names the agent code uses for the job's parts.
CallContext = AgentJob
UserProfile = JobUser
DueCommitment = JobCommitment

_JOB = pydantic.TypeAdapter(AgentJob)
_EXPECTED = "expected the AgentJob JSON the workflow writes (workflows/agent_job.py)"


def parse_call_context(raw: str) -> AgentJob:
    """Parse the job metadata JSON; raises JobMetadataInvalid naming the bad field."""
    if not raw or not raw.strip():
        raise JobMetadataInvalid(
            "job metadata is empty: dispatch the agent with the call's AgentJob JSON "
            "(call_id, workflow_id, user, memory, due_commitments, ...)"
        )
    try:
        # strict: "45" is not a number and "yes" not a boolean; unknown fields are ignored, so
        # a newer workflow's job still reaches an older agent.
        return _JOB.validate_json(raw, strict=True)
    except pydantic.ValidationError as exc:
        raise JobMetadataInvalid(_describe(exc)) from exc


def _describe(exc: pydantic.ValidationError) -> str:
    problems = [_problem(error) for error in exc.errors(include_url=False)]
    more = f" (and {len(problems) - 1} more: {'; '.join(problems[1:])})" if problems[1:] else ""
    return f"{problems[0]}{more}: {_EXPECTED}"


def _problem(error: ErrorDetails) -> str:
    if error["type"] == "json_invalid":
        return f"job metadata is not JSON ({error['msg']})"
    if not error["loc"]:
        return f"job metadata must be a JSON object, got {error['input']!r}"
    where = ""
    for part in error["loc"]:
        where += f"[{part}]" if isinstance(part, int) else f".{part}" if where else str(part)
    got = "" if error["type"] == "missing" else f", got {error['input']!r}"
    return f"job metadata field {where}: {error['msg'].lower()}{got}"
