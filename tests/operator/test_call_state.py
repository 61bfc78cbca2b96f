"""Operator lines name the call's outcome, not Temporal's execution status (issue 13, item 7)."""

from __future__ import annotations

from datetime import UTC, datetime

from callflow.operator.calls import CallRow
from callflow.operator.cli import format_row
from callflow.settings import Settings


def row(status: str, outcome: str | None) -> CallRow:
    return CallRow(
        workflow_id="call-c1",
        call_id="c1",
        status=status,
        stage="done" if outcome else "awaiting_join",
        user_id="u1",
        attempt=1,
        outcome=outcome,
        started_at=datetime(2026, 12, 1, tzinfo=UTC),
        closed_at=None,
    )


def test_a_cancelled_call_reads_cancelled_not_completed() -> None:
    line = format_row(row("COMPLETED", "cancelled"), Settings())

    assert line.startswith("c1  cancelled  ")
    assert "completed" not in line


def test_running_and_outcome_less_endings() -> None:
    assert format_row(row("RUNNING", None), Settings()).startswith("c1  running  ")
    terminated = format_row(row("TERMINATED", None), Settings())
    assert terminated.startswith("c1  ended without an outcome (terminated)  ")
