"""A small PostgREST-compatible server (Supabase's /rest/v1) over a real Postgres database, for the
Supabase adapter's tests: the rows, constraints and SQL functions are those of the migrations.

It enforces what the hosted service requires of a client and answers in PostgREST's formats:
- every request carries `apikey: <key>` and `Authorization: Bearer <key>` (else 401 as the
  Supabase gateway answers), and the `public` profile headers;
- reads are GET /rest/v1/<table>?select=...&<col>=<op>.<value>&order=...&limit=... -> JSON array
  (operators eq, neq, lt, lte, gt, gte, is, in);
- inserts and upserts are POST with a JSON body (object or array; arrays name their keys in
  `columns`), only known columns; `Prefer: resolution=merge-duplicates` with `on_conflict=<cols>`
  makes it an upsert that updates the columns sent, else a duplicate key is a 409;
- POST /rest/v1/rpc/<function> with a JSON object of named arguments calls that SQL function;
- every request runs as Supabase runs it: in a transaction under `set local role service_role`
  (the role the service-role key maps to), in a database with Supabase's roles and default
  privileges (tests/support/supabase_db.py), so a table or function the migrations did not
  grant to `service_role` answers `42501 permission denied`, as it does on a project;
- database errors answer PostgREST error objects (code, message, details, hint) with PostgREST's
  HTTP status for their SQLSTATE.
`fail_next` queues injected failures (status, body).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.support.http_service import LocalHttpService

_OPERATORS = {"eq": "=", "neq": "<>", "lt": "<", "lte": "<=", "gt": ">", "gte": ">="}


def pg_error(
    status: int, code: str, message: str, details: str | None = None, hint: str | None = None
) -> JSONResponse:
    return JSONResponse(
        {"code": code, "details": details, "hint": hint, "message": message}, status_code=status
    )


def http_status(sqlstate: str) -> int:
    """The status PostgREST answers for a database error's SQLSTATE."""
    if sqlstate in ("23503", "23505"):
        return 409
    if sqlstate in ("42883", "42P01"):
        return 404
    if sqlstate == "42501":
        return 403
    if sqlstate == "25006":
        return 405
    if sqlstate.startswith(("08", "53")):
        return 503
    if sqlstate.startswith(("22", "23", "42")) or sqlstate == "P0001":
        return 400
    return 500


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@dataclass
class PostgrestServer(LocalHttpService):
    service_key: str
    dsn: str
    fail_next: list[tuple[int, Any]] = field(default_factory=list)
    role: str = "service_role"  # the database role the service-role key maps to
    _pool: asyncpg.Pool | None = field(default=None, init=False, repr=False)
    name = "local PostgREST server"

    async def start(self) -> None:
        self._pool = await asyncpg.create_pool(self.dsn, min_size=1, max_size=4)
        if not await self._pool.fetchval("select 1 from pg_roles where rolname = $1", self.role):
            await self.stop()
            raise RuntimeError(
                f"{self.name}: the database has no {self.role!r} role; make it with "
                "tests/support/supabase_db.py (Supabase's roles and default privileges)"
            )
        await super().start()

    async def stop(self) -> None:
        await super().stop()
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError(f"{self.name} is not started: call start() first")
        return self._pool

    def reset(self) -> None:
        super().reset()
        self.fail_next.clear()

    def routes(self) -> list[Route]:
        return [
            Route("/rest/v1/rpc/{fn}", self._rpc, methods=["POST"]),
            Route("/rest/v1/{table}", self._table, methods=["GET", "POST", "PATCH"]),
        ]

    # --- checks every request passes through

    async def _admit(self, request: Request) -> tuple[Any, Response | None]:
        body = (await self.record(request)).body
        if self.fail_next:
            status, payload = self.fail_next.pop(0)
            if isinstance(payload, str):
                return body, Response(payload, status_code=status, media_type="text/plain")
            return body, JSONResponse(payload, status_code=status)
        if request.headers.get("apikey") != self.service_key:
            return body, JSONResponse(
                {"message": "Invalid API key", "hint": "Double check your Supabase API key."},
                status_code=401,
            )
        if request.headers.get("authorization") != f"Bearer {self.service_key}":
            return body, pg_error(401, "PGRST301", "JWT could not be decoded")
        profile = "accept-profile" if request.method == "GET" else "content-profile"
        if request.headers.get(profile) != "public":
            return body, pg_error(406, "PGRST106", "The schema must be one of: public")
        if request.method == "POST" and request.headers.get("content-type") != "application/json":
            return body, pg_error(415, "PGRST102", "Content-Type must be application/json")
        return body, None

    async def _columns(self, table: str) -> dict[str, str]:
        """The table's columns and their SQL types; empty when there is no such table."""
        rows = await self.pool.fetch(
            "select a.attname, format_type(a.atttypid, a.atttypmod) as type"
            " from pg_attribute a join pg_class c on c.oid = a.attrelid"
            " join pg_namespace n on n.oid = c.relnamespace"
            " where n.nspname = 'public' and c.relname = $1 and c.relkind in ('r', 'p', 'v')"
            " and a.attnum > 0 and not a.attisdropped order by a.attnum",
            table,
        )
        return {r["attname"]: r["type"] for r in rows}

    async def _run(self, sql: str, *args: Any) -> tuple[list[str] | None, Response | None]:
        try:
            async with self.pool.acquire() as conn, conn.transaction():
                # The connection is the database owner's; the request's SQL runs as the key's role.
                await conn.execute(f"set local role {_ident(self.role)}")
                rows = await conn.fetch(sql, *args)
        except asyncpg.PostgresError as exc:
            code = exc.sqlstate or "XX000"
            detail = getattr(exc, "detail", None)
            hint = getattr(exc, "hint", None)
            return None, pg_error(http_status(code), code, str(exc), detail, hint)
        return [r[0] for r in rows], None

    # --- tables

    async def _table(self, request: Request) -> Response:
        body, refusal = await self._admit(request)
        if refusal is not None:
            return refusal
        table = request.path_params["table"]
        columns = await self._columns(table)
        if not columns:
            return pg_error(404, "PGRST205", f"Could not find the table 'public.{table}'")
        if request.method == "GET":
            return await self._select(table, columns, request)
        if request.method == "PATCH":
            return await self._update(table, columns, request, body)
        return await self._insert(table, columns, request, body)

    async def _select(self, table: str, columns: dict[str, str], request: Request) -> Response:
        params = request.query_params
        wanted = params.get("select", "*")
        names = list(columns) if wanted == "*" else wanted.split(",")
        for name in names:
            if name not in columns:
                return pg_error(400, "42703", f"column {table}.{name} does not exist")
        where: list[str] = []
        args: list[Any] = []
        for key, value in params.multi_items():
            if key in {"select", "order", "limit", "offset"}:
                continue
            if key not in columns:
                return pg_error(400, "42703", f"column {table}.{key} does not exist")
            negated = value.startswith("not.")
            op, _, operand = value.removeprefix("not.").partition(".")
            column, kind = _ident(key), columns[key]
            if op == "is" and operand in ("null", "true", "false"):
                where.append(f"{column} is {'not ' if negated else ''}{operand}")
            elif op == "in" and operand.startswith("(") and operand.endswith(")"):
                args.append([v.strip('"') for v in operand[1:-1].split(",") if v])
                where.append(f"{column} = any(${len(args)}::text[]::{kind}[])")
            elif op in _OPERATORS:
                args.append(operand)
                where.append(f"{column} {_OPERATORS[op]} ${len(args)}::text::{kind}")
            else:
                return pg_error(400, "PGRST100", f"unsupported operator {op!r} in {key}={value}")
        order: list[str] = []
        for part in params.get("order", "").split(",") if params.get("order") else []:
            column, *modifiers = part.split(".")
            if column not in columns:
                return pg_error(400, "42703", f"column {table}.{column} does not exist")
            words = {"asc": "asc", "desc": "desc", "nullsfirst": "nulls first"}
            words["nullslast"] = "nulls last"
            if any(m not in words for m in modifiers):
                return pg_error(400, "PGRST100", f"bad order term {part!r}")
            order.append(" ".join([_ident(column), *(words[m] for m in modifiers)]))
        sql = f"select {', '.join(_ident(n) for n in names)} from {_ident(table)}"
        if where:
            sql += " where " + " and ".join(where)
        if order:
            sql += " order by " + ", ".join(order)
        for clause in ("limit", "offset"):
            if clause in params:
                args.append(int(params[clause]))
                sql += f" {clause} ${len(args)}"
        rows, failure = await self._run(f"select row_to_json(x)::text from ({sql}) x", *args)
        if failure is not None:
            return failure
        assert rows is not None
        return Response("[" + ",".join(rows) + "]", media_type="application/json")

    async def _update(
        self, table: str, columns: dict[str, str], request: Request, body: Any
    ) -> Response:
        """PATCH with `eq` filters only (what the adapters send), returning the rows."""
        if not isinstance(body, dict) or not body:
            return pg_error(400, "PGRST102", "the body must be a non-empty JSON object")
        for key in body:
            if key not in columns:
                return pg_error(400, "PGRST204", f"Could not find the '{key}' column of '{table}'")
        args: list[Any] = [json.dumps(body)]
        where: list[str] = []
        for key, value in request.query_params.multi_items():
            op, _, operand = value.partition(".")
            if key not in columns or op != "eq":
                return pg_error(400, "PGRST100", f"unsupported filter {key}={value}")
            args.append(operand)
            where.append(f"{_ident(key)} = ${len(args)}::text::{columns[key]}")
        sets = ", ".join(
            f"{_ident(k)} = (json_populate_record(null::{_ident(table)}, $1::json)).{_ident(k)}"
            for k in body
        )
        sql = f"update {_ident(table)} as t set {sets}"
        if where:
            sql += " where " + " and ".join(where)
        rows, failure = await self._run(sql + " returning row_to_json(t)::text", *args)
        if failure is not None:
            return failure
        assert rows is not None
        return Response("[" + ",".join(rows) + "]", media_type="application/json")

    async def _insert(
        self, table: str, columns: dict[str, str], request: Request, body: Any
    ) -> Response:
        prefer = {p.strip() for p in request.headers.get("prefer", "").split(",")}
        items = body if isinstance(body, list) else [body]
        if not all(isinstance(row, dict) for row in items):
            return pg_error(400, "PGRST102", "the body must be a JSON object or array of objects")
        keys = list(dict.fromkeys(k for row in items for k in row))
        if isinstance(body, list):
            named = request.query_params.get("columns", "").replace('"', "").split(",")
            if set(named) != set(keys):
                return pg_error(400, "PGRST102", "columns do not match the payload's keys")
        for key in keys:
            if key not in columns:
                return pg_error(400, "PGRST204", f"Could not find the '{key}' column of '{table}'")
        listed = ", ".join(_ident(k) for k in keys)
        sql = (
            f"insert into {_ident(table)} as t ({listed})"
            f" select {listed} from json_populate_recordset(null::{_ident(table)}, $1::json)"
        )
        if "resolution=merge-duplicates" in prefer:
            target = request.query_params.get("on_conflict", "").split(",")
            if any(c not in columns for c in target):
                return pg_error(400, "42703", f"on_conflict names an unknown column: {target}")
            sql += f" on conflict ({', '.join(_ident(c) for c in target)})"
            updated = [k for k in keys if k not in target]
            if updated:
                sets = ", ".join(f"{_ident(k)} = excluded.{_ident(k)}" for k in updated)
                sql += f" do update set {sets}"
            else:
                sql += " do nothing"
        sql += " returning row_to_json(t)::text"
        rows, failure = await self._run(sql, json.dumps(items))
        if failure is not None:
            return failure
        assert rows is not None
        if "return=representation" in prefer:
            return Response(
                "[" + ",".join(rows) + "]", status_code=201, media_type="application/json"
            )
        return Response(status_code=201)

    # --- rpc

    async def _rpc(self, request: Request) -> Response:
        body, refusal = await self._admit(request)
        if refusal is not None:
            return refusal
        fn = request.path_params["fn"]
        given = set(body) if isinstance(body, dict) else None
        candidates = await self.pool.fetch(
            "select p.proargnames as names,"
            " array(select format_type(t, null) from unnest(p.proargtypes) t) as types"
            " from pg_proc p join pg_namespace n on n.oid = p.pronamespace"
            " where n.nspname = 'public' and p.proname = $1 and p.proargmodes is null",
            fn,
        )
        for candidate in candidates:
            names, types = list(candidate["names"] or []), list(candidate["types"])
            if given is not None and set(names) == given:
                break
        else:
            return pg_error(
                404,
                "PGRST202",
                f"Could not find the function public.{fn} in the schema cache",
            )
        arguments = ", ".join(
            f"{_ident(n)} => ($1::jsonb {'->' if t in ('json', 'jsonb') else '->>'} "
            f"{_literal(n)})::{t}"
            for n, t in zip(names, types, strict=True)
        )
        rows, failure = await self._run(
            f"select to_json({_ident(fn)}({arguments}))::text", json.dumps(body)
        )
        if failure is not None:
            return failure
        assert rows is not None
        return Response(rows[0], media_type="application/json")


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
