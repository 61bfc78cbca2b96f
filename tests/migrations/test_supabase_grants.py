"""The migrations on a database set up as Supabase sets up a project today (its roles, new tables
granted to nobody): `service_role` gets exactly what callflow needs, `anon` and `authenticated`
get nothing, every function pins its search_path, and re-running a migration, in any order,
leaves the schema as the full set of migrations made it."""

from __future__ import annotations

import itertools

import asyncpg
import pytest

from callflow.local.stack.postgres import LocalPostgres
from callflow.migrations import migration_files
from tests.support.supabase_db import supabase_database_for

DML = ("SELECT", "INSERT", "UPDATE", "DELETE")
OTHER_TABLE_PRIVILEGES = ("TRUNCATE", "REFERENCES", "TRIGGER")


async def _tables(conn: asyncpg.Connection) -> list[str]:
    rows = await conn.fetch(
        "select tablename from pg_tables where schemaname = 'public'"
        " and tablename <> 'schema_migrations' order by 1"
    )
    return [r[0] for r in rows]


async def _functions(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return list(
        await conn.fetch(
            "select p.oid, p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')'"
            " as sig, p.prosecdef, p.proconfig from pg_proc p"
            " join pg_namespace n on n.oid = p.pronamespace"
            " where n.nspname = 'public' and p.prokind = 'f' order by 2"
        )
    )


async def _schema_state(conn: asyncpg.Connection) -> dict[str, object]:
    """What a re-run must not change: every function's definition and ACL, every table's ACL
    and constraints."""
    functions = await conn.fetch(
        "select p.proname, pg_get_functiondef(p.oid) as def, p.proacl::text as acl"
        " from pg_proc p join pg_namespace n on n.oid = p.pronamespace"
        " where n.nspname = 'public' and p.prokind = 'f' order by 1, 2"
    )
    tables = await conn.fetch(
        "select c.relname, c.relacl::text as acl, c.relrowsecurity,"
        " array(select pg_get_constraintdef(k.oid) from pg_constraint k"
        "       where k.conrelid = c.oid order by 1) as constraints"
        " from pg_class c join pg_namespace n on n.oid = c.relnamespace"
        " where n.nspname = 'public' and c.relkind = 'r' and c.relname <> 'schema_migrations'"
        " order by 1"
    )
    return {
        "functions": [tuple(r) for r in functions],
        "tables": [tuple(r) for r in tables],
    }


@pytest.fixture
async def fresh_supabase_db(supabase_postgres: LocalPostgres) -> LocalPostgres:
    return await supabase_database_for(supabase_postgres, "migrations")


async def test_service_role_gets_what_it_needs_and_the_api_roles_nothing(
    fresh_supabase_db: LocalPostgres,
) -> None:
    conn = await asyncpg.connect(fresh_supabase_db.dsn)
    try:
        tables = await _tables(conn)
        assert {"users", "calls", "push_log", "agent_slots"} <= set(tables)
        problems: list[str] = []
        for table, priv in itertools.product(tables, DML):
            if not await conn.fetchval(
                "select has_table_privilege('service_role', $1, $2)", f"public.{table}", priv
            ):
                problems.append(f"service_role lacks {priv} on {table}")
        for table, priv in itertools.product(tables, OTHER_TABLE_PRIVILEGES):
            if await conn.fetchval(
                "select has_table_privilege('service_role', $1, $2)", f"public.{table}", priv
            ):
                problems.append(f"service_role needlessly has {priv} on {table}")
        for table, role, priv in itertools.product(
            tables, ("anon", "authenticated"), DML + OTHER_TABLE_PRIVILEGES
        ):
            if await conn.fetchval(
                "select has_table_privilege($1, $2, $3)", role, f"public.{table}", priv
            ):
                problems.append(f"{role} has {priv} on {table}")
        for fn in await _functions(conn):
            if fn["prosecdef"]:
                problems.append(f"{fn['sig']} is security definer")
            if "search_path=public, pg_temp" not in (fn["proconfig"] or []):
                problems.append(f"{fn['sig']} does not pin search_path: {fn['proconfig']}")
            if not await conn.fetchval(
                "select has_function_privilege('service_role', $1::oid, 'EXECUTE')", fn["oid"]
            ):
                problems.append(f"service_role may not execute {fn['sig']}")
            for role in ("anon", "authenticated"):
                if await conn.fetchval(
                    "select has_function_privilege($1, $2::oid, 'EXECUTE')", role, fn["oid"]
                ):
                    problems.append(f"{role} may execute {fn['sig']}")
        assert problems == []
        # And as the role the service-role key maps to, each table really reads.
        for table in tables:
            async with conn.transaction():
                await conn.execute("set local role service_role")
                await conn.fetchval(f'select count(*) from public."{table}"')
    finally:
        await conn.close()


@pytest.mark.parametrize("order", ["each-alone", "reversed", "in-order"])
async def test_rerunning_migrations_in_any_order_changes_nothing(
    fresh_supabase_db: LocalPostgres, order: str
) -> None:
    # Every migration is applied; then each is applied again (alone, in reverse, in order) and
    # must leave the whole schema, later files' changes included, as it was.
    files = migration_files()
    runs = {
        "each-alone": [[f] for f in files],
        "reversed": [list(reversed(files))],
        "in-order": [files],
    }[order]
    conn = await asyncpg.connect(fresh_supabase_db.dsn)
    try:
        before = await _schema_state(conn)
        for run in runs:
            for path in run:
                await conn.execute(path.read_text())
                assert await _schema_state(conn) == before, f"re-running {path.name} changed it"
        # The claim_push in force is still the one that respects a withheld push (0002).
        await conn.execute(
            "insert into push_log (call_id, attempt, state) values ('rerun', 1, 'withheld')"
        )
        assert await conn.fetchval("select claim_push('rerun', 1)") is False
    finally:
        await conn.close()
