"""A small PostgREST-compatible server (Supabase's /rest/v1) for the Supabase adapter's tests.

It enforces what the hosted service requires of a client and answers in PostgREST's formats:
- every request carries `apikey: <key>` and `Authorization: Bearer <key>` (else 401 as the
  Supabase gateway answers), and the `public` profile headers;
- reads are GET /rest/v1/<table>?select=...&<col>=<op>.<value>&order=...&limit=... -> JSON array;
- upserts are POST with `Prefer: resolution=merge-duplicates`, `on_conflict=<primary key>`, a JSON
  body (object or array; arrays name their keys in `columns`), only known columns;
- constraint failures answer PostgREST error objects (code, message, details, hint);
- POST /rest/v1/rpc/claim_push and /rpc/withhold_push {p_call_id, p_attempt} -> JSON boolean.
Tables live in memory; `fail_next` queues injected failures (status, body).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.support.http_service import LocalHttpService

TABLES: dict[str, tuple[tuple[str, ...], set[str]]] = {
    "users": (
        ("user_id",),
        {"user_id", "display_name", "voip_token", "timezone", "locale", "created_at"},
    ),
    "commitments": (
        ("commitment_id",),
        {"commitment_id", "user_id", "text", "due_date", "status", "source_call_id", "updated_at"},
    ),
    "calls": (
        ("call_id",),
        {
            "call_id",
            "user_id",
            "outcome",
            "attempts",
            "started_at",
            "ended_at",
            "failure_reason",
            "memory_degraded",
            "summary",
            "mood",
            "transcript",
            "usage",
            "cost_usd",
            "latency",
            "tools_called",
            "analysis_provider",
            "stages",
            "updated_at",
        },
    ),
    "push_log": (
        ("call_id", "attempt"),
        {"call_id", "attempt", "apns_id", "state", "claimed_at", "sent_at"},
    ),
}
DEFAULTS: dict[str, dict[str, Any]] = {
    "users": {"timezone": "UTC", "locale": "en-US", "voip_token": None},
    "commitments": {"status": "open", "due_date": None, "source_call_id": None},
    "calls": {},
    "push_log": {"state": "claimed", "apns_id": None, "sent_at": None},
}


def pg_error(status: int, code: str, message: str, details: str | None = None) -> JSONResponse:
    return JSONResponse(
        {"code": code, "details": details, "hint": None, "message": message}, status_code=status
    )


@dataclass
class PostgrestServer(LocalHttpService):
    service_key: str
    rows: dict[str, dict[tuple[Any, ...], dict[str, Any]]] = field(
        default_factory=lambda: {name: {} for name in TABLES}
    )
    fail_next: list[tuple[int, Any]] = field(default_factory=list)
    name = "local PostgREST server"

    def reset(self) -> None:
        super().reset()
        self.fail_next.clear()

    def routes(self) -> list[Route]:
        return [
            Route("/rest/v1/rpc/{fn}", self._rpc, methods=["POST"]),
            Route("/rest/v1/{table}", self._table, methods=["GET", "POST"]),
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

    # --- tables

    async def _table(self, request: Request) -> Response:
        body, refusal = await self._admit(request)
        if refusal is not None:
            return refusal
        table = request.path_params["table"]
        if table not in TABLES:
            return pg_error(404, "PGRST205", f"Could not find the table 'public.{table}'")
        if request.method == "GET":
            return self._select(table, request)
        return self._upsert(table, request, body)

    def _select(self, table: str, request: Request) -> Response:
        _, columns = TABLES[table]
        params = request.query_params
        wanted = params.get("select", "*")
        names = sorted(columns) if wanted == "*" else wanted.split(",")
        for name in names:
            if name not in columns:
                return pg_error(400, "42703", f"column {table}.{name} does not exist")
        rows = list(self.rows[table].values())
        for key, value in params.multi_items():
            if key in {"select", "order", "limit", "offset"}:
                continue
            if key not in columns:
                return pg_error(400, "42703", f"column {table}.{key} does not exist")
            op, _, operand = value.partition(".")
            rows = [r for r in rows if _matches(r.get(key), op, operand)]
        for part in reversed(params.get("order", "").split(",") if "order" in params else []):
            column, direction, *nulls = part.split(".")
            desc = direction == "desc"
            nulls_last = (nulls == ["nullslast"]) if nulls else not desc
            present = [r for r in rows if r.get(column) is not None]
            absent = [r for r in rows if r.get(column) is None]
            present.sort(key=lambda r: r[column], reverse=desc)
            rows = present + absent if nulls_last else absent + present
        if "limit" in params:
            rows = rows[: int(params["limit"])]
        return JSONResponse([{n: r.get(n) for n in names} for r in rows])

    def _upsert(self, table: str, request: Request, body: Any) -> Response:
        pk, columns = TABLES[table]
        prefer = {p.strip() for p in request.headers.get("prefer", "").split(",")}
        if "resolution=merge-duplicates" not in prefer:
            return pg_error(409, "23505", "duplicate key value violates unique constraint")
        if request.query_params.get("on_conflict") != ",".join(pk):
            return pg_error(
                400,
                "42P10",
                "there is no unique or exclusion constraint matching the ON CONFLICT specification",
            )
        items = body if isinstance(body, list) else [body]
        if isinstance(body, list):
            named = set(request.query_params.get("columns", "").replace('"', "").split(","))
            if named != {k for row in items for k in row}:
                return pg_error(400, "PGRST102", "columns do not match the payload's keys")
        for row in items:
            for key in row:
                if key not in columns:
                    return pg_error(
                        400, "PGRST204", f"Could not find the '{key}' column of '{table}'"
                    )
            refusal = self._check(table, row)
            if refusal is not None:
                return refusal
        for row in items:
            key = tuple(row[c] for c in pk)
            existing = self.rows[table].get(key)
            # merge-duplicates updates only the columns sent; inserts take the defaults.
            self.rows[table][key] = {**(existing or DEFAULTS[table]), **row}
        if "return=representation" in prefer:
            return JSONResponse(items, status_code=201)
        return Response(status_code=201)

    def _check(self, table: str, row: dict[str, Any]) -> Response | None:
        if table == "commitments":
            if (row["user_id"],) not in self.rows["users"]:
                return pg_error(
                    409,
                    "23503",
                    'insert or update on table "commitments" violates foreign key constraint '
                    '"commitments_user_id_fkey"',
                    f'Key (user_id)=({row["user_id"]}) is not present in table "users".',
                )
            if row.get("status", "open") not in {"open", "kept", "broken", "unclear"}:
                return pg_error(400, "23514", "violates check constraint")
        return None

    # --- rpc

    async def _rpc(self, request: Request) -> Response:
        body, refusal = await self._admit(request)
        if refusal is not None:
            return refusal
        fn = request.path_params["fn"]
        if (
            fn not in ("claim_push", "withhold_push")
            or not isinstance(body, dict)
            or set(body) != {"p_call_id", "p_attempt"}
            or not isinstance(body["p_attempt"], int)
        ):
            return pg_error(
                404,
                "PGRST202",
                f"Could not find the function public.{fn} in the schema cache",
            )
        key = (body["p_call_id"], body["p_attempt"])
        row = self.rows["push_log"].setdefault(
            key, {**DEFAULTS["push_log"], "call_id": key[0], "attempt": key[1]}
        )
        # The same rules as migrations/0002_withheld_push.sql.
        if fn == "withhold_push" and row["state"] != "sent":
            row["state"] = "withheld"
        return JSONResponse(row["state"] == ("claimed" if fn == "claim_push" else "withheld"))


def _matches(value: Any, op: str, operand: str) -> bool:
    if op == "is":
        return value is None if operand == "null" else str(value).lower() == operand
    if value is None:
        return False
    text = str(value).lower() if isinstance(value, bool) else str(value)
    if op == "eq":
        return text == operand
    if op == "neq":
        return text != operand
    if op in {"lt", "lte", "gt", "gte"}:
        left: Any = value
        right: Any = operand
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            right = float(operand)
        return {
            "lt": left < right,
            "lte": left <= right,
            "gt": left > right,
            "gte": left >= right,
        }[op]
    raise ValueError(f"operator {op} is not supported by the test server")
