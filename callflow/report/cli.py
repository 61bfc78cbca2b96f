"""`callflow report [--since 7d] [--json] [--html FILE]`: stderr gets the human summary, stdout
the one JSON line (with --json)."""

from __future__ import annotations

import asyncio
import json
import re
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click

from callflow.models import CallRecord
from callflow.report.figures import Report, build_report
from callflow.settings import Settings, get_settings

_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(text: str) -> timedelta:
    """'7d', '24h', '90m', '2w' -> the timedelta."""
    match = re.fullmatch(r"\s*(\d+)\s*([mhdw])\s*", text)
    if not match:
        raise click.BadParameter(f"{text!r}: give a number and a unit m, h, d or w (like 7d)")
    return timedelta(**{_UNITS[match[2]]: int(match[1])})


def summary_lines(report: Report, source: str) -> list[str]:
    lines = [
        f"{report.calls} calls from {source}" + (f" since {report.since}" if report.since else "")
    ]
    for c in report.criteria():
        met = {True: "met", False: "MISSED", None: "no data"}[c["met"]]
        lines.append(f"  {c['criterion']:<34} {c['value']!s:>10}  target {c['target']:<12} {met}")
    lines.append(f"  outcomes: {json.dumps(report.outcomes, sort_keys=True)}")
    lines.append(
        f"  pushes per call {report.pushes_per_call}, degraded memory rate "
        f"{report.degraded_memory_rate}, re-dispatches {report.redispatches}"
    )
    for d in report.per_day:
        lines.append(
            f"  {d.day}: {d.calls} calls, completion {d.completion_rate}, first audio p95 "
            f"{d.first_audio_p95_ms} ms, pushes/call {d.pushes_per_call}, degraded memory "
            f"{d.degraded_memory_rate}, re-dispatches {d.redispatches}, USD/min "
            f"{d.cost_per_minute_usd}, outcomes {json.dumps(d.outcomes, sort_keys=True)}"
        )
    return lines


async def read_calls(settings: Settings, since: datetime) -> tuple[list[CallRecord], str]:
    """The configured store's calls; without one, those of the local stack `callflow demo`
    used (its embedded Postgres is adopted if running, else started for the read)."""
    from callflow.report.source import (
        NoRecords,
        configured_store,
        demo_postgres_dir,
        read_configured,
        read_postgres,
    )

    if configured_store(settings) is not None:
        return await read_configured(settings, since)
    data_dir = demo_postgres_dir(settings)
    if not data_dir.is_dir():
        raise NoRecords(
            f"no records to report on: DATABASE_URL and SUPABASE_URL are unset and {data_dir} "
            "does not exist (run `callflow demo` first, or point DATABASE_URL at the records)"
        )
    from callflow.local.stack.postgres import start_postgres

    local = await start_postgres(data_dir)
    try:
        return await read_postgres(local.dsn, since), f"local demo stack ({data_dir})"
    finally:
        local.stop()


@click.command("report")
@click.option(
    "--since", "since_text", default="7d", show_default=True, help="window: 90m, 24h, 7d, 2w"
)
@click.option("--json", "json_output", is_flag=True, help="end with one JSON line of the figures")
@click.option("--html", "html_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="write the report with its charts to this HTML file")  # fmt: skip
def report(since_text: str, json_output: bool, html_path: Path | None) -> None:
    """The success criteria next to their targets, from the call records (with no database
    configured: the records of the local stack `callflow demo` used)."""
    from callflow.report.source import NoRecords

    since = datetime.now(UTC) - parse_since(since_text)
    try:
        calls, source = asyncio.run(read_calls(get_settings(), since))
    except NoRecords as e:
        raise click.ClickException(str(e)) from e
    result = build_report(calls, since=since)
    for line in summary_lines(result, source):
        click.echo(line, err=True)
    if html_path is not None:
        from callflow.report.page import render

        html_path.write_text(render(result), encoding="utf-8")
        click.echo(f"wrote {html_path}", err=True)
    if json_output:
        sys.stdout.write(json.dumps({**result.as_json(), "source": source}) + "\n")
