"""`callflow calls list|status|stuck`: every line ends with the call's Temporal UI link."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import TypeVar

import click
from temporalio.client import Client

from callflow.cli_support import run_with_temporal
from callflow.operator.calls import CallDetail, CallRow, call_status, list_calls, stuck_calls
from callflow.operator.errors import BadArgument, OperatorError
from callflow.operator.queries import calls_query, parse_duration
from callflow.settings import Settings, get_settings
from workflows.messages import temporal_ui_link

T = TypeVar("T")


def _explain(exc: Exception) -> str | None:
    if isinstance(exc, BadArgument):
        return f"invalid {exc.field}: {exc.message}"
    if isinstance(exc, OperatorError):
        return str(exc)
    return None


def _run(settings: Settings, work: Callable[[Client], Awaitable[T]]) -> T:
    return run_with_temporal(settings, work, _explain)


def _when(at: datetime | None) -> str:
    return at.strftime("%Y-%m-%d %H:%M:%SZ") if at else "-"


def _age(age: timedelta) -> str:
    seconds = int(age.total_seconds())
    return (
        f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
        if seconds >= 3600
        else (f"{seconds // 60}m{seconds % 60:02d}s")
    )


def format_row(row: CallRow, settings: Settings) -> str:
    link = temporal_ui_link(settings.temporal_ui_url, settings.temporal_namespace, row.workflow_id)
    return (
        f"{row.call_id}  {row.state}  stage={row.stage or '-'}"
        f"  attempt={row.attempt if row.attempt is not None else '-'}"
        f"  outcome={row.outcome or '-'}  user={row.user_id or '-'}"
        f"  started={_when(row.started_at)}  {link}"
    )


def format_detail(detail: CallDetail, settings: Settings) -> str:
    lines = [format_row(detail.row, settings)]
    status = detail.status
    if status is None:
        lines.append(f"  live status unavailable ({detail.query_error})")
        return "\n".join(lines)
    lines.append(
        f"  stage {status.stage}, attempt {status.attempt}, outcome {status.outcome or '-'},"
        f" room {status.room or '-'}, phone joined {'yes' if status.phone_joined else 'no'},"
        f" turns {status.transcript_turns}"
    )
    if status.memory_degraded:
        lines.append("  memory degraded (the call went on without memory)")
    if status.failure_reason:
        lines.append(f"  failure: {status.failure_reason}")
    lines.extend(f"  {mark.at}  {mark.stage}" for mark in status.stages)
    return "\n".join(lines)


@click.group("calls")
def calls() -> None:
    """Find calls in Temporal (list, one call's status, stuck calls)."""


@calls.command("list")
@click.option("--user", "user_id", help="Only this user's calls.")
@click.option("--stage", help="Only calls in this stage (e.g. awaiting_join).")
@click.option("--outcome", help="Only calls with this outcome (e.g. missed).")
@click.option("--running", is_flag=True, help="Only calls still running.")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
def list_(
    user_id: str | None, stage: str | None, outcome: str | None, running: bool, limit: int
) -> None:
    """Recent calls, newest first."""
    settings = get_settings()
    query = calls_query(user_id=user_id, stage=stage, outcome=outcome, running_only=running)
    rows = _run(settings, lambda client: list_calls(client, query, limit))
    if not rows:
        click.echo(f"no calls match: {query}")
    for row in rows:
        click.echo(format_row(row, settings))


@calls.command()
@click.argument("call_id")
def status(call_id: str) -> None:
    """One call: its search attributes and its live status (stages with timestamps)."""
    settings = get_settings()
    detail = _run(settings, lambda client: call_status(client, call_id))
    click.echo(format_detail(detail, settings))


@calls.command()
@click.option(
    "--older-than",
    default="5m",
    show_default=True,
    help="A call is stuck when its current non-final stage began longer ago (90s, 5m, 1h).",
)
def stuck(older_than: str) -> None:
    """Running calls whose current stage began longer ago than --older-than."""
    settings = get_settings()
    try:
        threshold = parse_duration(older_than)
    except BadArgument as exc:
        raise click.ClickException(f"invalid {exc.field}: {exc.message}") from None
    found = _run(settings, lambda client: stuck_calls(client, threshold))
    if not found:
        click.echo(f"no call has been in a non-final stage for more than {older_than}")
    for item in found:
        known = "" if item.stage_age_known else " (stage start unknown: age since call start)"
        click.echo(
            f"{_age(item.age)} in {item.row.stage or '-'}{known}  " + format_row(item.row, settings)
        )
