"""`ImportHistoryWorkflow`: one import run (docs/history-import.md).

Reads the source a page at a time; each page's items are imported in bounded batches, at most
`rate_per_s` items a second, each item its own activity with its own retries. After each page
the run continues as new, carrying its cursor and its report, so its history stays small
however long the source. A failed item is counted with its reason and the rest go on; a page
that cannot be read (an unknown agent, an unreadable file) ends the run with that error in
its report. The report is stored after every page and at the end, and the `status` query
returns it at any time.
"""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.importing import ImportActivities
    from workflows.import_messages import (
        IMPORT_STATUS_QUERY,
        IMPORT_WORKFLOW_TYPE,
        KEPT_REASONS,
        ImportInput,
        ImportReport,
        ItemInput,
        ItemOutcome,
        ItemStatus,
        PageInput,
        PageItem,
        PageOutput,
    )

PAGE_TIMEOUT = timedelta(minutes=2)
ITEM_TIMEOUT = timedelta(minutes=5)  # the LLM analysis of one long conversation included
REPORT_TIMEOUT = timedelta(seconds=30)


def _cause(error: BaseException) -> str:
    """The adapter's own message, from under Temporal's wrapping."""
    while isinstance(error, ActivityError) and error.cause is not None:
        error = error.cause
    if isinstance(error, ApplicationError):
        return error.message
    return str(error) or type(error).__name__


@workflow.defn(name=IMPORT_WORKFLOW_TYPE)
class ImportHistoryWorkflow:
    def __init__(self) -> None:
        self._report: ImportReport | None = None

    @workflow.query(name=IMPORT_STATUS_QUERY)
    def status(self) -> ImportReport | None:
        return self._report

    @workflow.run
    async def run(self, input: ImportInput) -> ImportReport:
        report = input.report or ImportReport(
            run_id=input.run_id, kind=input.source.kind, dry_run=input.dry_run
        )
        self._report = report
        try:
            page = await workflow.execute_activity_method(
                ImportActivities.fetch_import_page,
                PageInput(input.run_id, input.source, input.cursor, input.page_size),
                start_to_close_timeout=PAGE_TIMEOUT,
                retry_policy=RetryPolicy(
                    initial_interval=timedelta(seconds=1),
                    maximum_interval=timedelta(seconds=30),
                    maximum_attempts=input.item_attempts,
                ),
            )
        except ActivityError as e:
            report.error = _cause(e)
            return await self._finish(report, input.dry_run)
        report.pages += 1
        report.total = page.total if page.total is not None else report.total
        await self._import_page(input, page, report)
        if page.next_cursor is None:
            return await self._finish(report, input.dry_run)
        await self._save(report, input.dry_run)
        workflow.continue_as_new(dataclasses.replace(input, cursor=page.next_cursor, report=report))

    async def _import_page(
        self, input: ImportInput, page: PageOutput, report: ImportReport
    ) -> None:
        batch_size = max(1, input.batch_size)
        for start in range(0, len(page.items), batch_size):
            batch = page.items[start : start + batch_size]
            began = workflow.now()
            outcomes = await asyncio.gather(*(self._import_item(input, item) for item in batch))
            for outcome in outcomes:
                report.counts.add(outcome.status)
                if outcome.status != ItemStatus.IMPORTED:
                    if len(report.reasons) < KEPT_REASONS:
                        report.reasons.append(outcome)
                    else:
                        report.reasons_omitted += 1
            if input.rate_per_s > 0:
                pause = len(batch) / input.rate_per_s - (workflow.now() - began).total_seconds()
                if pause > 0:
                    await workflow.sleep(pause)

    async def _import_item(self, input: ImportInput, item: PageItem) -> ItemOutcome:
        if item.error is not None:  # unreadable already when the page was read
            return ItemOutcome(item.item_id, ItemStatus.FAILED, item.error)
        try:
            return await workflow.execute_activity_method(
                ImportActivities.import_conversation,
                ItemInput(input.run_id, input.source, item, input.dry_run),
                start_to_close_timeout=ITEM_TIMEOUT,
                retry_policy=RetryPolicy(
                    initial_interval=timedelta(seconds=1),
                    maximum_interval=timedelta(seconds=30),
                    maximum_attempts=input.item_attempts,
                ),
            )
        except ActivityError as e:
            reason = _cause(e)
            if item.item_id not in reason:
                reason = f"{item.item_id}: {reason}"
            return ItemOutcome(item.item_id, ItemStatus.FAILED, reason)

    async def _save(self, report: ImportReport, dry_run: bool) -> None:
        if dry_run:
            return  # a dry run writes nothing, its report included
        await workflow.execute_activity_method(
            ImportActivities.save_import_report,
            report,
            start_to_close_timeout=REPORT_TIMEOUT,
            retry_policy=RetryPolicy(maximum_interval=timedelta(seconds=30)),
        )

    async def _finish(self, report: ImportReport, dry_run: bool) -> ImportReport:
        report.done = True
        await self._save(report, dry_run)
        return report
