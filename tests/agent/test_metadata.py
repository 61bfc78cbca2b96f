"""The agent's one parser of its job: the JSON the workflow writes, back into an `AgentJob`."""

from __future__ import annotations

import json
from typing import Any

import pytest

from agent.errors import JobMetadataInvalid
from agent.instructions import build_instructions
from agent.metadata import parse_call_context
from callflow.models import CheckIn, Commitment, MemoryItem, User
from workflows.agent_job import (
    MAX_HISTORY,
    AgentJob,
    JobCheckIn,
    JobCommitment,
    JobUser,
    agent_job_for,
)
from workflows.messages import DEFAULT_CALLER_NAME, CallInput, CallTimings


def job_doc(**overrides: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "call_id": "c-1",
        "workflow_id": "call-c-1",
        "user": {"user_id": "u-1", "display_name": "Ada", "timezone": "Europe/London"},
        "memory": ["Ada trains for a half marathon"],
        "memory_degraded": False,
        "due_commitments": [
            {"commitment_id": "k-1", "text": "Run three times", "due_date": "2026-11-27"}
        ],
        "script": None,
        "caller_name": "Coach Bea",
        "join_timeout_s": 40,
        "max_call_s": 600.0,
    }
    doc.update(overrides)
    return doc


def test_the_workflow_s_job_parses_back_to_the_same_job() -> None:
    job = agent_job_for(
        call_id="c-9",
        workflow_id="call-c-9",
        user=User("u-9", "Ada", voip_token="ab", timezone="Asia/Tokyo"),
        due_commitments=[Commitment("k-1", "u-9", "stretch", None)],
        memory=[MemoryItem("likes mornings", 0.9, "c-8")],
        memory_degraded=True,
        timings=CallTimings(join_timeout_s=30, max_call_s=300),
        caller_name="Coach Bea",
        script="checkin",
    )

    parsed = parse_call_context(job.to_json())

    assert parsed == job
    assert parsed == AgentJob(
        call_id="c-9",
        workflow_id="call-c-9",
        user=JobUser("u-9", "Ada", "Asia/Tokyo"),
        memory=["likes mornings"],
        memory_degraded=True,
        due_commitments=[JobCommitment("k-1", "stretch", None)],
        script="checkin",
        caller_name="Coach Bea",
        join_timeout_s=30.0,
        max_call_s=300.0,
    )
    assert parsed.phone_identity == "u-9"


def test_a_job_written_before_caller_name_and_timings_gets_the_call_defaults() -> None:
    # The JSON of a ring scheduled by the previous workflow version (retried after a deploy).
    old = job_doc()
    for key in ("caller_name", "join_timeout_s", "max_call_s"):
        del old[key]

    job = parse_call_context(json.dumps(old))

    defaults = CallInput(call_id="c", user_id="u")
    assert job.caller_name == defaults.caller_name == DEFAULT_CALLER_NAME
    assert job.join_timeout_s == defaults.timings.join_timeout_s
    assert job.max_call_s == defaults.timings.max_call_s
    assert job.user.display_name == "Ada" and job.due_commitments[0].due_date == "2026-11-27"


def test_the_job_carries_history_local_date_and_the_last_call() -> None:
    meditate = Commitment("k-1", "u-9", "meditate every morning", "2026-12-01", recurrence="daily")
    history = {
        "k-1": [
            CheckIn("ci-1", "k-1", "call-1", "broken", "I overslept", "2026-11-29"),
            CheckIn("ci-2", "k-1", "call-2", "kept", None, "2026-11-30"),
        ],
        "k-other": [CheckIn("ci-3", "k-other", "call-2", "kept", None, "2026-11-30")],
    }
    job = agent_job_for(
        call_id="c-9",
        workflow_id="call-c-9",
        user=User("u-9", "Ada", voip_token=None),
        due_commitments=[meditate, Commitment("k-2", "u-9", "stretch", "2026-12-01")],
        memory=[],
        memory_degraded=False,
        timings=CallTimings(),
        caller_name="Coach Bea",
        script=None,
        history=history,
        local_date="2026-12-01",
        last_call_summary="Ada kept her run and felt good.",
        topics=["her knee"],
    )

    parsed = parse_call_context(job.to_json())

    assert parsed == job
    assert parsed.due_commitments == [
        JobCommitment(
            "k-1",
            "meditate every morning",
            "2026-12-01",
            "daily",
            [JobCheckIn("kept", "2026-11-30"), JobCheckIn("broken", "2026-11-29", "I overslept")],
        ),
        JobCommitment("k-2", "stretch", "2026-12-01"),
    ]
    assert parsed.local_date == "2026-12-01"
    assert parsed.last_call_summary == "Ada kept her run and felt good."
    assert parsed.topics == ["her knee"]


def test_history_keeps_the_newest_check_ins() -> None:
    days = [f"2026-11-{d:02d}" for d in range(1, 21)]
    check_ins = [CheckIn(f"ci-{d}", "k-1", f"call-{d}", "kept", None, d) for d in days]
    job = agent_job_for(
        call_id="c-9",
        workflow_id="call-c-9",
        user=User("u-9", "Ada", voip_token=None),
        due_commitments=[Commitment("k-1", "u-9", "stretch", "2026-12-01")],
        memory=[],
        memory_degraded=False,
        timings=CallTimings(),
        caller_name="Coach Bea",
        script=None,
        history={"k-1": check_ins},
    )
    kept = [c.asked_on for c in job.due_commitments[0].history]
    assert kept == sorted(days, reverse=True)[:MAX_HISTORY]


def test_a_job_written_before_history_and_the_last_call_gets_empty_defaults() -> None:
    job = parse_call_context(json.dumps(job_doc()))
    assert job.local_date == "" and job.last_call_summary is None and job.topics == []
    assert job.due_commitments == [JobCommitment("k-1", "Run three times", "2026-11-27")]
    assert job.due_commitments[0].recurrence is None and job.due_commitments[0].history == []


def test_unknown_fields_from_a_newer_workflow_are_ignored() -> None:
    job = parse_call_context(json.dumps(job_doc(locale="de-DE")))
    assert job.call_id == "c-1" and job.caller_name == "Coach Bea"


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        (job_doc(user={"display_name": "Ada"}), "user.user_id"),
        (job_doc(user={"user_id": ""}), "user.user_id"),
        (job_doc(call_id=None), "call_id"),
        (job_doc(workflow_id=""), "workflow_id"),
        (job_doc(memory=["ok", 3]), "memory[1]"),
        (
            job_doc(due_commitments=[{"commitment_id": "k", "text": "a"}, {"text": "b"}]),
            "due_commitments[1].commitment_id",
        ),
        (job_doc(due_commitments=[{"commitment_id": "k", "text": ""}]), "due_commitments[0].text"),
        (job_doc(join_timeout_s="45"), "join_timeout_s"),  # strict: a string is not a number
        (job_doc(memory_degraded="yes"), "memory_degraded"),
        (job_doc(caller_name=7), "caller_name"),
        (job_doc(topics="knee"), "topics"),
        (job_doc(last_call_summary=3), "last_call_summary"),
        (
            job_doc(
                due_commitments=[
                    {"commitment_id": "k", "text": "a", "history": [{"asked_on": "2026-11-30"}]}
                ]
            ),
            "due_commitments[0].history[0].verdict",
        ),
    ],
)
def test_a_bad_field_is_named(doc: dict[str, Any], field: str) -> None:
    with pytest.raises(JobMetadataInvalid) as caught:
        parse_call_context(json.dumps(doc))
    message = str(caught.value)
    assert message.startswith(f"job metadata field {field}: "), message
    assert message.endswith(
        "expected the AgentJob JSON the workflow writes (workflows/agent_job.py)"
    )


def test_several_bad_fields_are_all_named() -> None:
    with pytest.raises(JobMetadataInvalid) as caught:
        parse_call_context(json.dumps(job_doc(call_id="", max_call_s=None)))
    message = str(caught.value)
    assert "field call_id:" in message and "field max_call_s:" in message


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ("", "job metadata is empty"),
        ("   ", "job metadata is empty"),
        ("{not json", "job metadata is not JSON"),
        ("[1, 2]", "job metadata must be a JSON object"),
    ],
)
def test_a_document_that_is_no_job_is_refused(raw: str, says: str) -> None:
    with pytest.raises(JobMetadataInvalid, match=says):
        parse_call_context(raw)


def test_the_agent_introduces_itself_with_the_job_s_caller_name() -> None:
    instructions = build_instructions(parse_call_context(json.dumps(job_doc())))
    assert instructions.splitlines()[0].startswith("You are Coach Bea, ")
    assert "You are calling Ada (time zone Europe/London)." in instructions
    assert "- Run three times (due 2026-11-27; not asked about before)" in instructions
    assert DEFAULT_CALLER_NAME not in instructions


def test_a_user_without_a_display_name_is_greeted_as_there() -> None:
    doc = job_doc(user={"user_id": "u-1", "display_name": "", "timezone": ""})
    instructions = build_instructions(parse_call_context(json.dumps(doc)))
    assert "You are calling there (time zone UTC)." in instructions
