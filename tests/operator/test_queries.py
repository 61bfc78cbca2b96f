from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from callflow.operator.errors import BadArgument
from callflow.operator.queries import (
    calls_query,
    literal,
    parse_duration,
    stuck_candidates_query,
)


def test_calls_query_combines_filters():
    assert calls_query() == "WorkflowType = 'CallWorkflow'"
    assert calls_query(stage="awaiting_join", running_only=True) == (
        "WorkflowType = 'CallWorkflow' AND CallStage = 'awaiting_join'"
        " AND ExecutionStatus = 'Running'"
    )
    assert calls_query(user_id="u1", outcome="missed") == (
        "WorkflowType = 'CallWorkflow' AND CallUserId = 'u1' AND CallOutcome = 'missed'"
    )


def test_literals_are_escaped():
    assert literal("o'brien") == "'o\\'brien'"


def test_stuck_candidates_are_running_calls_started_before_the_cutoff():
    query = stuck_candidates_query(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))
    assert query.endswith(
        "ExecutionStatus = 'Running' AND StartTime < '2026-01-02T03:04:05.000000Z'"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("5m", timedelta(minutes=5)),
        ("90s", timedelta(seconds=90)),
        ("1h30m", timedelta(minutes=90)),
        ("7", timedelta(minutes=7)),
    ],
)
def test_durations(text: str, expected: timedelta):
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "5 minutes", "m", "-1m"])
def test_bad_durations_name_the_option(text: str):
    with pytest.raises(BadArgument) as caught:
        parse_duration(text)
    assert caught.value.field == "--older-than"
