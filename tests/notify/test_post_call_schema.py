"""The post-call webhook's body, built by `workflows.call_record.post_call_event` from a realistic
call record for every outcome, validates against callflow/notify/schemas/post_call.v1.json and
says what the call did."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from callflow.commitments import new_commitment_id
from callflow.models import CallRecord, Commitment, Outcome
from callflow.notify.schema import POST_CALL_SCHEMA_VERSION, post_call_problems, post_call_schema
from callflow.notify.webhook import encode_event
from callflow.ports import (
    CallAnalysis,
    CommitmentUpdate,
    NewCommitment,
    PostCallCommitment,
    PostCallEvent,
    PostCallVerdict,
)
from workflows.call_record import build_call_record, post_call_event
from workflows.messages import (
    AgentReady,
    AgentReport,
    PriceTable,
    Stage,
    StageMark,
    TranscriptTurnSignal,
)

CALL_ID = "call-2026-11-27-ada"
T0 = datetime(2026, 11, 27, 7, 30, tzinfo=UTC)  # the workflow starts; the call is due at once
BASE = T0.timestamp()
PRICES = PriceTable(
    stt_per_minute=0.01,
    llm_per_1k_prompt_tokens=0.001,
    llm_per_1k_completion_tokens=0.002,
    tts_per_1k_characters=0.03,
    livekit_per_minute=0.004,
)
REPORT = AgentReport(
    event_id="report",
    stt_seconds=90,
    llm_prompt_tokens=2000,
    llm_completion_tokens=500,
    tts_characters=1500,
    tools_called=["get_battery_level"],
)
# stt 1.5 min * 0.01 + 2k prompt * 0.001 + 0.5k completion * 0.002 + 1.5k chars * 0.03
# + 3 room minutes * 0.004
COST = 0.015 + 0.002 + 0.001 + 0.045 + 0.012

RUN = Commitment("c-run", "u-ada", "Run 5k three times this week", due_date="2026-11-27")
READ = Commitment(
    "c-read",
    "u-ada",
    "Read 20 pages every night",
    due_date="2026-11-26",
    recurrence="daily",
    until="2026-12-20",
)
MUM = Commitment("c-mum", "u-ada", "Call mum", due_date="2026-11-27")
DUE = [RUN, READ, MUM]

ANALYSIS = CallAnalysis(
    summary="Ada ran three times and read on two nights; she will start meditating.",
    mood="good",
    new_commitments=[
        NewCommitment(
            "Meditate ten minutes every morning",
            due_date="2026-11-28",
            recurrence="daily",
            due_time="07:00",
        ),
        NewCommitment("  ", due_date="2026-11-28"),  # blank: the save skips it, so does the event
        NewCommitment("Book the dentist", due_date="2026-12-01"),
    ],
    commitment_updates=[
        CommitmentUpdate("c-run", "kept", "  I ran three times, 5k each.  "),
        CommitmentUpdate("c-read", "partly", "only two nights, I was too tired"),
        CommitmentUpdate("c-mum", "unclear"),
        CommitmentUpdate("c-run", "broken", "a second verdict on one commitment"),
        CommitmentUpdate("c-not-due", "kept", "a commitment nobody asked about"),
        CommitmentUpdate("c-read", "maybe"),
    ],
    topics_next_time=["sleep before 23:00"],
    provider="offline analyzer",
)
CREATED = [new_commitment_id(CALL_ID, 0), new_commitment_id(CALL_ID, 2)]


def at(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat()


def marks(*stages: tuple[Stage, float]) -> list[StageMark]:
    return [StageMark(stage, at(s)) for stage, s in stages]


def turn(n: int, role: str, text: str, start: float, end: float) -> TranscriptTurnSignal:
    return TranscriptTurnSignal(f"t{n}", role, text, BASE + start, BASE + end)


ANSWERED = marks(
    (Stage.SCHEDULED, 0),
    (Stage.LOADING_USER, 0),
    (Stage.FETCHING_MEMORY, 0.2),
    (Stage.RINGING, 0.5),
    (Stage.AWAITING_JOIN, 1),
    (Stage.IN_CALL, 12),
)
UNANSWERED = marks(
    (Stage.SCHEDULED, 0),
    (Stage.LOADING_USER, 0),
    (Stage.RINGING, 0.5),
    (Stage.AWAITING_JOIN, 1),
    (Stage.BACKING_OFF, 31),
    (Stage.RINGING, 61),
    (Stage.AWAITING_JOIN, 62),
    (Stage.BACKING_OFF, 92),
    (Stage.RINGING, 152),
    (Stage.AWAITING_JOIN, 153),
)
NOT_RUNG = marks((Stage.SCHEDULED, 0), (Stage.LOADING_USER, 0))
CONVERSATION = [
    # in arrival order, not speaking order
    turn(1, "user", "Yes! I ran three times, 5k each.", 20.0, 24.5),
    turn(0, "agent", "Morning Ada! Did you get your runs in?", 13.0, 16.0),
    turn(2, "agent", "Brilliant. And the reading?", 25.0, 27.0),
    turn(3, "user", "Only two nights, I was too tired. I'll meditate from tomorrow.", 28.0, 190.5),
]
GREETING_ONLY = [turn(0, "agent", "Morning Ada! Did you get your runs in?", 13.0, 16.0)]


def record(
    outcome: str,
    *,
    stages: list[StageMark],
    attempts: int,
    reason: str | None,
    analysis: CallAnalysis | None = None,
    turns: Iterable[TranscriptTurnSignal] = (),
    ready: bool = False,
    report: AgentReport | None = None,
    ends_at: float = 192.0,
) -> CallRecord:
    """The record `CallWorkflow._finish` builds (the outcome kept as its string value: `no_agent`
    and `no_conversation` are outcomes of the conversation rule)."""
    built = build_call_record(
        call_id=CALL_ID,
        user_id="u-ada",
        outcome=Outcome.COMPLETED,
        attempts=attempts,
        stages=stages,
        now=T0 + timedelta(seconds=ends_at),
        failure_reason=reason,
        memory_degraded=False,
        analysis=analysis,
        turns=turns,
        agent_ready=AgentReady("ready", "room", first_audio_ms=850.0) if ready else None,
        agent_report=report,
        prices=PRICES,
    )
    return dataclasses.replace(built, outcome=outcome)


def body(event: PostCallEvent) -> dict[str, Any]:
    """What the notifier sends, decoded."""
    decoded: dict[str, Any] = json.loads(encode_event(event))
    return decoded


def scenario(name: str) -> tuple[PostCallEvent, dict[str, Any]]:
    """(the event, the fields it must have) for each outcome."""
    if name == "completed":
        rec = record(
            "completed",
            stages=ANSWERED,
            attempts=1,
            reason=None,
            analysis=ANALYSIS,
            turns=CONVERSATION,
            ready=True,
            report=REPORT,
        )
        event = post_call_event(
            rec,
            analysis=ANALYSIS,
            due_commitments=DUE,
            pushes_sent=1,
            created_commitment_ids=CREATED,
        )
        return event, {"reason": None, "duration_s": 177.5, "cost_usd": COST, "mood": "good"}
    if name == "completed_analysis_failed":
        reason = "analysis failed: AnalysisInvalid: the model's output did not validate"
        rec = record(
            "completed",
            stages=ANSWERED,
            attempts=1,
            reason=reason,
            turns=CONVERSATION,
            ready=True,
            report=REPORT,
        )
        event = post_call_event(rec, analysis=None, due_commitments=DUE, pushes_sent=1)
        return event, {"reason": reason, "duration_s": 177.5, "cost_usd": COST, "summary": None}
    if name == "missed":
        reason = "no answer after 3 attempt(s)"
        rec = record("missed", stages=UNANSWERED, attempts=3, reason=reason)
        event = post_call_event(rec, analysis=None, due_commitments=DUE, pushes_sent=3)
        return event, {"reason": reason, "duration_s": None, "cost_usd": None, "pushes_sent": 3}
    if name == "declined":
        rec = record("declined", stages=UNANSWERED[:4], attempts=1, reason="declined on CallKit")
        event = post_call_event(rec, analysis=None, due_commitments=DUE, pushes_sent=1)
        return event, {"reason": "declined on CallKit", "duration_s": None, "attempts": 1}
    if name == "unreachable":
        reason = "the user has no VoIP push token registered"
        rec = record("unreachable", stages=NOT_RUNG, attempts=0, reason=reason)
        event = post_call_event(rec, analysis=None, due_commitments=DUE, pushes_sent=0)
        return event, {"reason": reason, "pushes_sent": 0, "cost_usd": None}
    if name == "cancelled":
        reason = "cancelled: the user moved the call to the evening"
        rec = record("cancelled", stages=NOT_RUNG, attempts=0, reason=reason)
        event = post_call_event(rec, analysis=None, due_commitments=DUE, pushes_sent=0)
        return event, {"reason": reason, "duration_s": None}
    if name == "failed":
        reason = "UserNotFound: no user with user_id='u-ada' in the records store"
        rec = record("failed", stages=NOT_RUNG, attempts=0, reason=reason)
        event = post_call_event(rec, analysis=None, due_commitments=[], pushes_sent=0)
        return event, {"reason": reason, "duration_s": None, "cost_usd": None}
    if name == "no_agent":
        reason = "answered, but no agent greeted the user"
        rec = record("no_agent", stages=ANSWERED, attempts=1, reason=reason, ends_at=72.0)
        event = post_call_event(rec, analysis=None, due_commitments=DUE, pushes_sent=1)
        return event, {"reason": reason, "duration_s": None, "cost_usd": None}
    if name == "no_conversation":
        reason = "the agent greeted, but the user said nothing"
        silent_report = dataclasses.replace(REPORT, stt_seconds=0, llm_prompt_tokens=0)
        rec = record(
            "no_conversation",
            stages=ANSWERED,
            attempts=1,
            reason=reason,
            turns=GREETING_ONLY,
            ready=True,
            report=silent_report,
        )
        event = post_call_event(rec, analysis=None, due_commitments=DUE, pushes_sent=1)
        # 0.5k completion * 0.002 + 1.5k chars * 0.03 + 3 room minutes * 0.004
        return event, {"reason": reason, "duration_s": 3.0, "cost_usd": 0.001 + 0.045 + 0.012}
    if name == "skipped":
        reason = "skipped: the ring fell in the user's quiet hours 22:00-07:00 (Europe/Paris)"
        rec = record("skipped", stages=NOT_RUNG, attempts=1, reason=reason)
        event = post_call_event(rec, analysis=None, due_commitments=DUE, pushes_sent=0)
        return event, {"reason": reason, "pushes_sent": 0, "duration_s": None}
    if name == "no_capacity":
        reason = "no agent slot came free within 600 s of the due time (capacity 4, 4 in use)"
        rec = record("no_capacity", stages=NOT_RUNG, attempts=1, reason=reason)
        event = post_call_event(rec, analysis=None, due_commitments=DUE, pushes_sent=0)
        return event, {"reason": reason, "pushes_sent": 0, "duration_s": None}
    raise AssertionError(name)


SCENARIOS = [
    "completed",
    "completed_analysis_failed",
    "missed",
    "declined",
    "unreachable",
    "cancelled",
    "failed",
    "no_agent",
    "no_conversation",
    "skipped",
    "no_capacity",
]


@pytest.mark.parametrize("name", SCENARIOS)
def test_every_outcome_validates_against_the_schema(name: str) -> None:
    event, expected = scenario(name)
    sent = body(event)
    assert post_call_problems(sent) == []
    assert sent["outcome"] == name.removesuffix("_analysis_failed")
    assert sent["schema_version"] == POST_CALL_SCHEMA_VERSION == 1
    assert (sent["call_id"], sent["user_id"]) == (CALL_ID, "u-ada")
    assert sent["started_at"] == T0.isoformat()
    for key, value in expected.items():
        if isinstance(value, float):
            assert sent[key] == pytest.approx(value), key
        else:
            assert sent[key] == value, key
    if name != "completed":
        assert (sent["summary"], sent["mood"]) == (None, None)
        assert sent["verdicts"] == sent["new_commitments"] == sent["topics_next_time"] == []


def test_every_outcome_of_the_workflow_is_in_the_schema() -> None:
    allowed = set(post_call_schema()["properties"]["outcome"]["enum"])
    assert {o.value for o in Outcome} <= allowed
    assert {s.removesuffix("_analysis_failed") for s in SCENARIOS} == allowed


def test_the_completed_call_reports_its_verdicts_and_new_commitments() -> None:
    event, _ = scenario("completed")
    sent = body(event)
    assert sent["summary"] == ANALYSIS.summary
    assert sent["topics_next_time"] == ["sleep before 23:00"]
    # one verdict per due commitment, the first one given; none on a commitment not asked about
    # or with a value that is no verdict
    assert sent["verdicts"] == [
        {
            "commitment_id": "c-run",
            "text": "Run 5k three times this week",
            "verdict": "kept",
            "evidence": "I ran three times, 5k each.",
        },
        {
            "commitment_id": "c-read",
            "text": "Read 20 pages every night",
            "verdict": "partly",
            "evidence": "only two nights, I was too tired",
        },
        {"commitment_id": "c-mum", "text": "Call mum", "verdict": "unclear", "evidence": None},
    ]
    assert sent["new_commitments"] == [
        {
            "commitment_id": new_commitment_id(CALL_ID, 0),
            "text": "Meditate ten minutes every morning",
            "due_date": "2026-11-28",
            "due_time": "07:00",
            "recurrence": "daily",
        },
        {
            "commitment_id": new_commitment_id(CALL_ID, 2),
            "text": "Book the dentist",
            "due_date": "2026-12-01",
            "due_time": None,
            "recurrence": None,
        },
    ]
    assert (sent["attempts"], sent["pushes_sent"], sent["memory_degraded"]) == (1, 1, False)
    assert sent["ended_at"] == at(192.0)


def test_a_restated_or_unsaved_commitment_has_no_id() -> None:
    rec = record(
        "completed", stages=ANSWERED, attempts=1, reason=None, analysis=ANALYSIS, turns=CONVERSATION
    )
    # the save restated "Book the dentist" onto an existing row: it created only the first
    restated = post_call_event(
        rec,
        analysis=ANALYSIS,
        due_commitments=DUE,
        pushes_sent=1,
        created_commitment_ids=CREATED[:1],
    )
    unsaved = post_call_event(rec, analysis=ANALYSIS, due_commitments=DUE, pushes_sent=1)
    assert [c.commitment_id for c in restated.new_commitments] == [CREATED[0], None]
    assert [c.commitment_id for c in unsaved.new_commitments] == [None, None]
    assert post_call_problems(body(unsaved)) == []


def test_a_call_in_which_the_user_said_nothing_changes_no_commitment() -> None:
    # a call answered before the conversation rule existed ends `completed`, and is analysed
    rec = record(
        "completed",
        stages=ANSWERED,
        attempts=1,
        reason=None,
        analysis=ANALYSIS,
        turns=GREETING_ONLY,
    )
    event = post_call_event(
        rec, analysis=ANALYSIS, due_commitments=DUE, pushes_sent=1, created_commitment_ids=CREATED
    )
    assert (event.verdicts, event.new_commitments) == ([], [])
    assert event.summary == ANALYSIS.summary
    assert post_call_problems(body(event)) == []


def test_the_analysis_values_are_normalised_as_the_save_stores_them() -> None:
    analysis = CallAnalysis(
        summary="s",
        mood="low",
        new_commitments=[
            NewCommitment("Stretch", due_date="not a date", recurrence="WEEKLY", due_time="6:30"),
            NewCommitment("Swim", due_date=None, recurrence="fortnightly", due_time="18:30:00"),
        ],
        commitment_updates=[CommitmentUpdate("c-mum", "cancelled", "   ")],
    )
    rec = record("completed", stages=ANSWERED, attempts=1, reason=None, analysis=analysis)
    rec = dataclasses.replace(rec, transcript=[])  # no transcript: no speech, nothing changes
    assert (
        post_call_event(rec, analysis=analysis, due_commitments=DUE, pushes_sent=1).verdicts == []
    )
    rec = record(
        "completed", stages=ANSWERED, attempts=1, reason=None, analysis=analysis, turns=CONVERSATION
    )
    event = post_call_event(rec, analysis=analysis, due_commitments=DUE, pushes_sent=1)
    assert event.verdicts == [PostCallVerdict("c-mum", "Call mum", "cancelled", None)]
    assert event.new_commitments == [
        PostCallCommitment("Stretch", due_date=None, due_time=None, recurrence="weekly"),
        PostCallCommitment("Swim", due_date=None, due_time="18:30", recurrence=None),
    ]
    assert post_call_problems(body(event)) == []


def test_an_event_from_an_older_workflow_history_still_validates() -> None:
    # the six fields events had before v1: the others take their defaults
    old = PostCallEvent("call-old", "u-1", "completed", 1, "Ran twice.", "2026-11-27T07:34:10Z")
    sent = body(old)
    assert post_call_problems(sent) == []
    assert sent["schema_version"] == 1 and sent["started_at"] is None


def test_the_keys_the_app_already_reads_keep_their_meaning() -> None:
    event, _ = scenario("missed")
    sent = body(event)
    assert {k: sent[k] for k in ("call_id", "user_id", "outcome", "attempts", "summary")} == {
        "call_id": CALL_ID,
        "user_id": "u-ada",
        "outcome": "missed",
        "attempts": 3,
        "summary": None,
    }
    assert datetime.fromisoformat(sent["ended_at"]) == T0 + timedelta(seconds=192)


def test_the_schema_lists_exactly_the_fields_the_event_sends() -> None:
    schema = post_call_schema()
    defs = schema["$defs"]
    for shape, properties, required in (
        (PostCallEvent, schema["properties"], schema["required"]),
        (PostCallVerdict, defs["verdict"]["properties"], defs["verdict"]["required"]),
        (
            PostCallCommitment,
            defs["new_commitment"]["properties"],
            defs["new_commitment"]["required"],
        ),
    ):
        names = {f.name for f in dataclasses.fields(shape)}
        assert set(properties) == names, shape.__name__
        assert set(required) == names, shape.__name__


def test_the_schema_is_package_data_and_a_valid_draft_2020_12_schema() -> None:
    source = resources.files("callflow.notify").joinpath("schemas/post_call.v1.json")
    schema = json.loads(source.read_text(encoding="utf-8"))
    assert schema == post_call_schema(1)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)


@pytest.mark.parametrize(
    "field", ["schema_version", "call_id", "outcome", "ended_at", "verdicts", "cost_usd"]
)
def test_the_schema_rejects_a_payload_missing_a_required_field(field: str) -> None:
    sent = body(scenario("completed")[0])
    del sent[field]
    assert post_call_problems(sent) == [f"(body): {field!r} is a required property"]


def test_the_schema_rejects_a_nested_item_missing_a_required_field() -> None:
    sent = body(scenario("completed")[0])
    del sent["verdicts"][0]["verdict"]
    del sent["new_commitments"][1]["due_date"]
    assert post_call_problems(sent) == [
        "new_commitments/1: 'due_date' is a required property",
        "verdicts/0: 'verdict' is a required property",
    ]


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("outcome",), "voicemail"),
        (("schema_version",), 2),
        (("mood",), "ecstatic"),
        (("attempts",), -1),
        (("duration_s",), "177.5"),
        (("ended_at",), "27/11/2026 07:33"),
        (("verdicts", 0, "verdict"), "maybe"),
        (("new_commitments", 0, "due_date"), "tomorrow"),
        (("new_commitments", 0, "recurrence"), "monthly"),
    ],
)
def test_the_schema_rejects_a_wrong_value(path: tuple[str | int, ...], value: object) -> None:
    sent = body(scenario("completed")[0])
    target: Any = sent
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    assert post_call_problems(sent) != []


def test_only_a_completed_call_carries_an_analysis() -> None:
    sent = body(scenario("completed")[0])
    sent["outcome"] = "missed"
    problems = post_call_problems(sent)
    assert any(p.startswith("summary:") for p in problems)
    assert any(p.startswith("verdicts:") for p in problems)


def test_receivers_may_meet_fields_added_later_in_v1() -> None:
    sent = body(scenario("missed")[0])
    sent["a_field_added_later"] = {"optional": True}
    assert post_call_problems(sent) == []
