"""The call's instructions: what they say about the due commitments, their history and the last
call, and how the scripted LLM reads them back; and the offline scripts fit its plan."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from livekit.agents import llm

from agent.instructions import (
    LAST_CALL_HEADING,
    build_instructions,
    call_date,
    commitment_line,
    parse_caller_name,
    parse_display_name,
    parse_due_commitments,
    parse_local_date,
    today_line,
)
from agent.offline.llm import BATTERY_TOOL, GOODBYE_MARKER, due_in_words, plan_reply
from agent.offline.script import DEFAULT_SCRIPT_NAME, FOLLOWUP_SCRIPT_NAME, get_script
from workflows.agent_job import AgentJob, JobCheckIn, JobCommitment, JobUser

MEDITATE = JobCommitment(
    "k-1",
    "meditate for ten minutes every morning",
    "2026-12-01",
    "daily",
    [JobCheckIn("kept", "2026-11-30"), JobCheckIn("broken", "2026-11-29", "I (really) overslept")],
)
WALK = JobCommitment("k-2", "walk 10,000 steps (outside) every day this week", "2026-12-01")


def job(**overrides: object) -> AgentJob:
    fields: dict[str, object] = {
        "call_id": "c-1",
        "workflow_id": "call-c-1",
        "user": JobUser("u-1", "Ada", "Europe/London"),
        "due_commitments": [MEDITATE, WALK],
        "caller_name": "Coach Bea",
        "local_date": "2026-12-01",
    }
    fields.update(overrides)
    return AgentJob(**fields)  # type: ignore[arg-type]


def test_each_due_commitment_carries_its_due_date_recurrence_and_history() -> None:
    instructions = build_instructions(job())
    assert (
        "- meditate for ten minutes every morning (due 2026-12-01, daily; "
        "so far: kept on 2026-11-30, broken on 2026-11-29)"
    ) in instructions
    assert (
        "- walk 10,000 steps (outside) every day this week (due 2026-12-01; not asked about before)"
    ) in instructions
    assert "overslept" not in instructions  # only the newest check-in's words are quoted


def test_the_newest_check_in_s_words_are_quoted_without_parentheses() -> None:
    line = commitment_line(
        JobCommitment("k", "stretch", None, history=[JobCheckIn("partly", "", "only (twice)")])
    )
    assert (
        line == '- stretch (no due date; so far: partly kept; last time they said: "only ,twice")'
    )
    assert parse_due_commitments(f"Commitments that fall due now:\n{line}") == ["stretch"]


def test_a_long_history_is_cut_short() -> None:
    history = [JobCheckIn("kept", f"2026-11-{d:02d}") for d in range(30, 22, -1)]
    line = commitment_line(JobCommitment("k", "stretch", "2026-12-01", history=history))
    assert "so far: kept on 2026-11-30, kept on 2026-11-29" in line
    assert "kept on 2026-11-26, and 3 earlier)" in line


def test_parse_due_commitments_round_trips_the_bare_texts() -> None:
    instructions = build_instructions(job())
    assert parse_due_commitments(instructions) == [MEDITATE.text, WALK.text]
    assert parse_due_commitments(build_instructions(job(due_commitments=[]))) == []


def test_the_plan_asks_about_every_commitment_in_order_before_a_new_one() -> None:
    instructions = build_instructions(job())
    assert "one at a time and in this order" in instructions
    assert "Ask about every one of them before asking for anything new" in instructions
    assert '"by Friday, the 4th"' in instructions


def test_the_last_call_s_summary_and_topics_are_rendered() -> None:
    instructions = build_instructions(
        job(last_call_summary="Ada kept her run and felt proud.", topics=["her knee", "sleep"])
    )
    section = instructions.split(LAST_CALL_HEADING, 1)[1].split("\n\n", 1)[0]
    assert "- Summary: Ada kept her run and felt proud." in section
    assert "- Follow up on: her knee" in section and "- Follow up on: sleep" in section
    bare = build_instructions(job()).split(LAST_CALL_HEADING, 1)[1].split("\n\n", 1)[0]
    assert "nothing recorded" in bare


def test_names_and_the_local_date_parse_back() -> None:
    instructions = build_instructions(job())
    assert "Today is Tuesday 1 December 2026 for them." in instructions
    assert parse_local_date(instructions) == date(2026, 12, 1)
    assert parse_caller_name(instructions) == "Coach Bea"
    assert parse_display_name(instructions) == "Ada"


def test_without_a_local_date_the_user_s_time_zone_decides_the_day() -> None:
    late = datetime(2026, 12, 1, 23, 30, tzinfo=UTC)
    assert call_date(job(local_date=""), late) == date(2026, 12, 1)
    tokyo = job(local_date="", user=JobUser("u-1", "Ada", "Asia/Tokyo"))
    assert call_date(tokyo, late) == date(2026, 12, 2)
    assert parse_local_date(build_instructions(tokyo, late)) == date(2026, 12, 2)
    assert today_line(date(2027, 1, 3)) == "Today is Sunday 3 January 2027 for them."


@pytest.mark.parametrize(
    ("due", "recurrence", "words"),
    [
        (date(2026, 12, 1), "daily", "starting today"),
        (date(2026, 12, 1), None, "today"),
        (date(2026, 12, 2), None, "tomorrow, Wednesday the 2nd"),
        (date(2026, 12, 4), None, "by Friday, the 4th"),
        (date(2026, 12, 7), "weekly", "starting Monday, the 7th"),
        (date(2026, 12, 11), None, "by Friday, the 11th of December"),
        (date(2027, 1, 1), None, "by Friday, the 1st of January"),
    ],
)
def test_due_dates_in_words(due: date, recurrence: str | None, words: str) -> None:
    assert due_in_words(due, date(2026, 12, 1), recurrence) == words


def _converse(instructions: str, lines: list[str]) -> list[str]:
    """What the scripted coach says, turn by turn, to a phone speaking `lines` one per agent
    turn (as callflow.local.phone.voice.converse does), with the battery tool answering."""
    ctx = llm.ChatContext()
    ctx.add_message(role="system", content=instructions)
    said: list[str] = []
    pending = list(lines)
    for _ in range(20):
        text, tool = plan_reply(ctx, {BATTERY_TOOL})
        ctx.add_message(role="assistant", content=text)
        if tool is not None:
            ctx.items.append(llm.FunctionCall(name=tool, arguments="{}", call_id="call-1"))
            ctx.items.append(
                llm.FunctionCallOutput(
                    name=tool, output='{"level": 0.5}', call_id="call-1", is_error=False
                )
            )
            continue  # the same agent turn goes on after the tool
        said.append(text)
        if not pending:
            return said
        ctx.add_message(role="user", content=pending.pop(0))
    raise AssertionError("the conversation did not end")


@pytest.mark.parametrize(
    ("script", "due"),
    [
        (DEFAULT_SCRIPT_NAME, [WALK]),
        (FOLLOWUP_SCRIPT_NAME, [MEDITATE]),
    ],
)
def test_each_script_line_follows_an_agent_question_and_the_last_turn_is_goodbye(
    script: str, due: list[JobCommitment]
) -> None:
    lines = list(get_script(script).phone_lines)
    turns = _converse(build_instructions(job(due_commitments=due)), lines)
    assert len(turns) == len(lines) + 1
    assert [GOODBYE_MARKER in t for t in turns] == [False] * len(lines) + [True]
    for n, commitment in enumerate(due):
        assert commitment.text in turns[n]
    assert "commit to?" in turns[len(due)]
    assert turns[len(due) + 1].startswith("Got it: ")


def test_the_default_script_commits_to_something_due_the_same_day() -> None:
    lines = list(get_script(None).phone_lines)
    turns = _converse(build_instructions(job(due_commitments=[WALK])), lines)
    assert turns[2].startswith("Got it: meditate for ten minutes every morning, starting today.")


def test_the_followup_script_confirms_a_commitment_by_friday() -> None:
    lines = list(get_script(FOLLOWUP_SCRIPT_NAME).phone_lines)
    turns = _converse(build_instructions(job(due_commitments=[MEDITATE])), lines)
    assert turns[2].startswith("Got it: call my sister, by Friday, the 4th.")
