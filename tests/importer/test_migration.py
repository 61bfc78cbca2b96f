"""Migration 0011: `imported` joins the outcomes the check allows (keeping every other), the
`source` column and the ledger tables exist, and running it again changes nothing."""

from __future__ import annotations

import asyncpg

from callflow.migrations import MIGRATIONS_DIR

MIGRATION = MIGRATIONS_DIR / "0011_history_import.sql"


async def _allowed(db: asyncpg.Connection) -> str:
    return str(
        await db.fetchval(
            "select pg_get_constraintdef(oid) from pg_constraint"
            " where conrelid = 'calls'::regclass and conname = 'calls_outcome_check'"
        )
    )


async def test_the_migration_adds_imported_and_is_safe_to_rerun(db: asyncpg.Connection) -> None:
    before = await _allowed(db)
    for outcome in ("imported", "completed", "no_capacity", "skipped"):
        assert f"'{outcome}'" in before, before
    await db.execute(MIGRATION.read_text())
    assert await _allowed(db) == before
    source_default = await db.fetchval(
        "select column_default from information_schema.columns"
        " where table_name = 'calls' and column_name = 'source'"
    )
    assert "callflow" in str(source_default)
    for table in ("import_runs", "import_items"):
        assert await db.fetchval("select to_regclass($1)", table) is not None


async def test_the_migration_keeps_outcomes_it_does_not_know(db: asyncpg.Connection) -> None:
    """Another migration's outcome (here `later_outcome`) stays allowed beside `imported`."""
    tr = db.transaction()
    await tr.start()
    try:
        await db.execute(
            "alter table calls drop constraint calls_outcome_check;"
            " alter table calls add constraint calls_outcome_check"
            " check (outcome = any (array['completed', 'later_outcome']::text[])) not valid"
        )
        await db.execute(MIGRATION.read_text())
        after = await _allowed(db)
        for outcome in ("completed", "later_outcome", "imported"):
            assert f"'{outcome}'" in after, after
    finally:
        await tr.rollback()
