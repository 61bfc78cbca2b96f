"""A Postgres cluster set up as Supabase sets up a project today, for the Supabase stand-ins.

Supabase's roles exist (`anon` and `authenticated`, `service_role` with BYPASSRLS), they may use
schema `public`, and new tables are granted to nobody (the defaults since 2026-10-30, Supabase
changelog #45329): only a migration's own `grant` lets `service_role` use a table. Roles are
cluster-wide and the migrations' grants are guarded on the roles existing when they run, so the
roles are made before any database of the cluster is migrated, on a cluster of its own (the
session's shared one stays plain Postgres, as `callflow dev` runs it).
"""

from __future__ import annotations

import dataclasses
import uuid

import asyncpg

from callflow.local.stack.postgres import (
    LocalPostgres,
    apply_migrations,
    dsn_for,
    start_scratch_postgres,
)

SUPABASE_ROLES_SQL = """
do $$
begin
    if not exists (select 1 from pg_roles where rolname = 'anon') then
        create role anon nologin noinherit;
    end if;
    if not exists (select 1 from pg_roles where rolname = 'authenticated') then
        create role authenticated nologin noinherit;
    end if;
    if not exists (select 1 from pg_roles where rolname = 'service_role') then
        create role service_role nologin noinherit bypassrls;
    end if;
end;
$$;
"""

# Per database: the roles may use schema public, and nothing in it is granted by default.
SUPABASE_SCHEMA_SQL = """
grant usage on schema public to anon, authenticated, service_role;
"""


async def start_supabase_postgres() -> LocalPostgres:
    """A scratch cluster with Supabase's roles (its own `callflow` database, migrated before
    they existed, is not for the stand-ins: take databases from `supabase_database_for`)."""
    pg = await start_scratch_postgres(prefix="callflow-supabase-pg-")
    conn = await asyncpg.connect(pg.admin_dsn)
    try:
        await conn.execute(SUPABASE_ROLES_SQL)
    finally:
        await conn.close()
    return pg


async def supabase_database_for(server: LocalPostgres, area: str) -> LocalPostgres:
    """A new database on `server` (made by `start_supabase_postgres`) prepared as a Supabase
    project, then migrated with the repository's migrations."""
    name = f"{area}_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(server.admin_dsn)
    try:
        await admin.execute(f'create database "{name}"')  # our own name: no injection
    finally:
        await admin.close()
    dsn = dsn_for(server.socket_dir, server.port, name)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(SUPABASE_SCHEMA_SQL)
    finally:
        await conn.close()
    applied = await apply_migrations(dsn)
    return dataclasses.replace(
        server, dsn=dsn, applied_migrations=applied, delete_on_stop=None, _server=None
    )
