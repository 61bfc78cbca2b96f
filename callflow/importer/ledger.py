"""The import ledger over Postgres (migration 0011): each run's report, each item's outcome in
its run, and the `source` of the call records an import wrote.

An item's outcome is written once per run: a retried or resumed item gets back the outcome it
already had, so no count goes up twice. A conversation already imported by any run is found by
its call record (`outcome = 'imported'` with the source's name).
"""

from __future__ import annotations

import dataclasses
import json

from callflow.importer.errors import LedgerAuthError, LedgerError, LedgerInvalid, LedgerUnavailable
from callflow.pg import PgErrors, PgStore
from workflows.import_messages import ImportCounts, ImportReport, ItemOutcome


def report_from_json(data: dict[str, object]) -> ImportReport:
    counts = data.get("counts") or {}
    reasons = data.get("reasons") or []
    assert isinstance(counts, dict) and isinstance(reasons, list)
    fields = {f.name for f in dataclasses.fields(ImportReport)} - {"counts", "reasons"}
    return ImportReport(
        **{k: v for k, v in data.items() if k in fields},  # type: ignore[arg-type]
        counts=ImportCounts(**counts),
        reasons=[ItemOutcome(**r) for r in reasons],
    )


class PostgresImportLedger(PgStore):
    errors = PgErrors(
        store="import ledger",
        base=LedgerError,
        unavailable=LedgerUnavailable,
        auth=LedgerAuthError,
        invalid=LedgerInvalid,
    )

    async def item_outcome(self, run_id: str, item_id: str) -> ItemOutcome | None:
        with self._translate("item_outcome"):
            row = await self._pool.fetchrow(
                "select status, reason, user_id from import_items"
                " where run_id = $1 and item_id = $2",
                run_id,
                item_id,
            )
        if row is None:
            return None
        return ItemOutcome(item_id, row["status"], row["reason"], row["user_id"])

    async def record_outcome(
        self,
        run_id: str,
        outcome: ItemOutcome,
        call_id: str | None = None,
        source: str | None = None,
    ) -> ItemOutcome:
        """Keep the item's outcome in this run; the first one written stays (and is returned).
        With `call_id` and `source`, the call record is marked as the source's in the same
        statement: a crash leaves both or neither, so a retry never finds the call imported
        without this run's outcome for it."""
        with self._translate("record_outcome"):
            row = await self._pool.fetchrow(
                "with marked as (update calls set source = $7 where call_id = $6"
                " and $7::text is not null returning call_id)"
                " insert into import_items (run_id, item_id, status, reason, user_id, call_id)"
                " values ($1, $2, $3, $4, $5, $6)"
                " on conflict (run_id, item_id) do update set run_id = import_items.run_id"
                " returning status, reason, user_id",
                run_id,
                outcome.item_id,
                outcome.status,
                outcome.reason,
                outcome.user_id,
                call_id,
                source,
            )
        assert row is not None
        return ItemOutcome(outcome.item_id, row["status"], row["reason"], row["user_id"])

    async def already_imported(self, call_id: str, source: str) -> bool:
        with self._translate("already_imported"):
            found = await self._pool.fetchval(
                "select 1 from calls where call_id = $1 and outcome = 'imported' and source = $2",
                call_id,
                source,
            )
        return found is not None

    async def save_report(self, report: ImportReport) -> None:
        with self._translate("save_report"):
            await self._pool.execute(
                "insert into import_runs (run_id, kind, done, report)"
                " values ($1, $2, $3, $4::text::jsonb)"
                " on conflict (run_id) do update set done = excluded.done,"
                " report = excluded.report, updated_at = now()",
                report.run_id,
                report.kind,
                report.done,
                json.dumps(dataclasses.asdict(report)),
            )

    async def get_report(self, run_id: str) -> ImportReport | None:
        with self._translate("get_report"):
            text = await self._pool.fetchval(
                "select report::text from import_runs where run_id = $1", run_id
            )
        return report_from_json(json.loads(text)) if text is not None else None
