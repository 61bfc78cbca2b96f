"""Running one import from the command line: start the run's workflow (or attach to it, for a
run id still running), show its progress, wait for its report. Where it runs is
callflow/local/import_target.py's choice."""

from __future__ import annotations

import asyncio
import secrets
import sys
from collections.abc import Callable
from dataclasses import dataclass

from temporalio.client import Client, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy

from callflow.settings import Settings
from workflows.import_history import ImportHistoryWorkflow
from workflows.import_messages import (
    IMPORT_STATUS_QUERY,
    ImportInput,
    ImportReport,
    ImportSource,
    import_workflow_id,
)

POLL_S = 0.5


@dataclass
class ImportTarget:
    """Where a run goes: a Temporal client and the task queue its worker polls."""

    client: Client
    task_queue: str
    settings: Settings  # with DATABASE_URL set to the records the run writes


def new_run_id(source: ImportSource) -> str:
    return f"{source.kind}-{secrets.token_hex(4)}"


def import_input(
    settings: Settings, run_id: str, source: ImportSource, dry_run: bool
) -> ImportInput:
    return ImportInput(
        run_id=run_id,
        source=source,
        dry_run=dry_run,
        page_size=settings.import_page_size,
        batch_size=settings.import_batch_size,
        rate_per_s=settings.import_rate_per_s,
    )


async def run_import(
    target: ImportTarget,
    input: ImportInput,
    on_progress: Callable[[ImportReport], None] | None = None,
) -> ImportReport:
    """Start (or, for a run id still running, attach to) the run and wait for its report."""
    handle: WorkflowHandle[
        ImportHistoryWorkflow, ImportReport
    ] = await target.client.start_workflow(
        ImportHistoryWorkflow.run,
        input,
        id=import_workflow_id(input.run_id),
        task_queue=target.task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )
    result = asyncio.ensure_future(handle.result())
    try:
        while not result.done():
            await asyncio.wait([result], timeout=POLL_S)
            if on_progress is not None and not result.done():
                status = await query_status(target.client, input.run_id)
                if status is not None:
                    on_progress(status)
        report = result.result()
    finally:
        result.cancel()
    if on_progress is not None:
        on_progress(report)
    return report


async def query_status(client: Client, run_id: str) -> ImportReport | None:
    """The run's live report (its workflow's `status` query); None when it cannot answer."""
    try:
        handle = client.get_workflow_handle(import_workflow_id(run_id))
        return await handle.query(IMPORT_STATUS_QUERY, result_type=ImportReport)
    except Exception:  # a query that cannot answer shows nothing this time
        return None


def progress_line(report: ImportReport, width: int = 30) -> str:
    c = report.counts
    done = c.processed
    if report.total:
        filled = min(width, round(width * done / report.total))
        bar = f"[{'#' * filled}{'-' * (width - filled)}] {done}/{report.total}"
    else:
        bar = f"{done} conversations"  # the API does not say how many there are
    state = "done" if report.done else f"page {report.pages}"
    return (
        f"{bar}  imported {c.imported}  skipped {c.skipped}  unmapped {c.unmapped}"
        f"  failed {c.failed}  ({state})"
    )


_last_shown: list[str] = [""]


def print_progress(report: ImportReport) -> None:
    """The progress bar on stderr, redrawn in place on a terminal, a line per change else."""
    line = progress_line(report)
    if line == _last_shown[0]:
        return
    _last_shown[0] = line
    if sys.stderr.isatty():
        print(f"\r{line}", end="\n" if report.done else "", file=sys.stderr, flush=True)
    else:
        print(line, file=sys.stderr, flush=True)
