"""`callflow import elevenlabs|file|status`: bring the ElevenLabs-era history in
(docs/history-import.md). Progress goes to stderr; with --json the last line on stdout is
`{"imported", "skipped", "unmapped", "failed", ...}`."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

import click

from callflow.settings import get_settings
from workflows.import_messages import ImportReport, ImportSource


def parse_since(value: str | None) -> int | None:
    """An ISO date (midnight UTC) or date-time (with an offset; UTC if none) -> unix seconds."""
    if value is None:
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter(f"{value!r} is not an ISO date (2026-03-01) or time") from exc
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return int(at.timestamp())


def report_json(report: ImportReport) -> str:
    c = report.counts
    return json.dumps(
        {
            "imported": c.imported,
            "skipped": c.skipped,
            "unmapped": c.unmapped,
            "failed": c.failed,
            "run_id": report.run_id,
            "done": report.done,
            "dry_run": report.dry_run,
            "error": report.error,
            "reasons": [dataclasses.asdict(r) for r in report.reasons],
        }
    )


def print_report(report: ImportReport, as_json: bool) -> None:
    c = report.counts
    say = click.echo
    say(
        f"import {report.run_id}{' (dry run)' if report.dry_run else ''}: imported {c.imported},"
        f" skipped {c.skipped}, unmapped {c.unmapped}, failed {c.failed}",
        err=as_json,
    )
    for r in report.reasons:
        reason = r.reason or ""
        named = reason if reason.startswith(r.item_id) else f"{r.item_id}: {reason}"
        say(f"  {r.status:<8} {named}", err=as_json)
    if report.reasons_omitted:
        say(f"  ... and {report.reasons_omitted} more", err=as_json)
    if report.error:
        say(f"the import stopped: {report.error}", err=True)
    if as_json:
        click.echo(report_json(report))


def _run(source: ImportSource, dry_run: bool, as_json: bool, run_id: str | None) -> None:
    from callflow.importer.runner import import_input, new_run_id, print_progress, run_import
    from callflow.local.import_target import import_target

    async def go() -> ImportReport:
        settings = get_settings()
        async with import_target(settings) as target:
            rid = run_id or new_run_id(source)
            click.echo(f"import run {rid} (see it with `callflow import status {rid}`)", err=True)
            return await run_import(
                target, import_input(target.settings, rid, source, dry_run), print_progress
            )

    report = asyncio.run(go())
    print_report(report, as_json)
    sys.exit(1 if report.error else 0)


_common = [
    click.option("--since", default=None, help="only conversations started on/after this date"),
    click.option("--dry-run", is_flag=True, help="read and analyse, write nothing"),
    click.option("--json", "as_json", is_flag=True, help="end with one JSON line on stdout"),
    click.option(
        "--mapping",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        default=None,
        help="CSV of `key,user_id` (key: conversation id, source user id or variable value)",
    ),
    click.option(
        "--user-id-variable",
        default="user_id",
        show_default=True,
        help="the dynamic variable holding the callflow user id",
    ),
    click.option("--run-id", default=None, help="resume (or name) this run"),
]


def _with_common(f):  # type: ignore[no-untyped-def]
    for option in reversed(_common):
        f = option(f)
    return f


@click.group("import")
def import_group() -> None:
    """Import the ElevenLabs-era history: memories, commitments, call records."""


@import_group.command("elevenlabs")
@click.option("--agent-id", required=True, help="the ElevenLabs agent whose conversations to read")
@_with_common
def import_elevenlabs(
    agent_id: str,
    since: str | None,
    dry_run: bool,
    as_json: bool,
    mapping: Path | None,
    user_id_variable: str,
    run_id: str | None,
) -> None:
    """Read the agent's conversations through the ElevenLabs API (ELEVENLABS_API_KEY,
    ELEVENLABS_BASE_URL) and import each."""
    source = ImportSource(
        kind="elevenlabs",
        agent_id=agent_id,
        since_unix_s=parse_since(since),
        mapping_path=str(mapping.resolve()) if mapping else None,
        user_id_variable=user_id_variable,
    )
    _run(source, dry_run, as_json, run_id)


@import_group.command("file")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@_with_common
def import_file(
    path: Path,
    since: str | None,
    dry_run: bool,
    as_json: bool,
    mapping: Path | None,
    user_id_variable: str,
    run_id: str | None,
) -> None:
    """Import a JSON or JSONL export of conversations (format: docs/history-import.md)."""
    from callflow.importer.errors import UnreadableSource
    from callflow.importer.export_file import ExportFile

    try:
        ExportFile().page(path, 0, 0)  # unreadable or unparseable as a whole: say so now
    except UnreadableSource as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    source = ImportSource(
        kind="file",
        path=str(path.resolve()),
        since_unix_s=parse_since(since),
        mapping_path=str(mapping.resolve()) if mapping else None,
        user_id_variable=user_id_variable,
    )
    _run(source, dry_run, as_json, run_id)


@import_group.command("status")
@click.argument("run_id")
@click.option("--json", "as_json", is_flag=True, help="one JSON line on stdout")
def import_status(run_id: str, as_json: bool) -> None:
    """Show an import run's progress: live from its workflow, else its stored report."""
    from callflow.importer.runner import progress_line
    from callflow.local.import_target import find_report

    report = asyncio.run(find_report(get_settings(), run_id))
    if report is None:
        click.echo(f"no import run {run_id!r} (neither running nor stored)", err=True)
        sys.exit(1)
    click.echo(progress_line(report), err=as_json)
    print_report(report, as_json)
