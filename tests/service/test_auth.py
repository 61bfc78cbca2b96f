"""Every call API route refuses strangers: no credential -> 401, a wrong key -> 401, a key
without the route's scope -> 403, the right one -> 2xx. Declines also take the call's room
token (the VoIP push's) or the user's Supabase JWT, and never another user's."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
import pytest
import pytest_asyncio
from pydantic import SecretStr

from callflow.models import CallRecord, User
from callflow.schedules.manager import ScheduleManager
from callflow.schedules.routes import schedule_routes
from callflow.service import ServiceDeps, create_app
from callflow.service.auth import Scope, new_api_key, parse_api_keys
from callflow.settings import ConfigurationError
from tests.service.conftest import (
    FULL_KEY,
    KNOWN_USER,
    LIVEKIT_KEY,
    LIVEKIT_SECRET,
    SCOPED_KEYS,
    Stack,
    auth_headers,
)
from tests.service.helpers import received, start_call
from tests.service.livekit_signing import event_body, signed_headers
from workflows.messages import room_name_for

SCHEDULE = {"timezone": "UTC", "days": ["mon"], "times": ["07:30"]}
SUPABASE_SECRET = "supabase-test-jwt-secret-0123456789abcdef"


@dataclass
class Api:
    http: httpx.AsyncClient  # no credentials of its own


@pytest_asyncio.fixture(loop_scope="session")
async def api_client(stack: Stack) -> AsyncIterator[Api]:
    """The call API with the schedule routes, as `build_service_app` mounts them."""
    settings = replace_settings(stack, supabase_jwt_secret=SecretStr(SUPABASE_SECRET))

    async def manager() -> ScheduleManager:
        return ScheduleManager(stack.client, settings, None)

    app = create_app(ServiceDeps(temporal=stack.client, records=stack.records, settings=settings))
    auth = app.state.auth
    app.router.routes.extend(
        schedule_routes(
            manager,
            find_user=stack.records.get_user,
            authorize=lambda request: auth.require(request, Scope.SCHEDULES_WRITE),
        )
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api", timeout=10) as http:
        yield Api(http)


def replace_settings(stack: Stack, **changes: Any) -> Any:
    return stack.settings.model_copy(update=changes)


def room_token(
    identity: str,
    room: str,
    *,
    ttl_s: int = 600,
    secret: str = LIVEKIT_SECRET,
    expired: bool = False,
) -> str:
    """A token as the ring activity mints it (or an expired / forged one)."""
    now = int(time.time())
    claims = {
        "iss": LIVEKIT_KEY,
        "sub": identity,
        "nbf": now - 900,
        "exp": now - 300 if expired else now + ttl_s,
        "video": {"roomJoin": True, "room": room, "canPublish": True, "canSubscribe": True},
    }
    return jwt.encode(claims, secret, algorithm="HS256")


def supabase_jwt(sub: str, *, expired: bool = False, secret: str = SUPABASE_SECRET) -> str:
    now = int(time.time())
    claims = {"sub": sub, "aud": "authenticated", "exp": now - 300 if expired else now + 600}
    return jwt.encode(claims, secret, algorithm="HS256")


async def declines(stack: Stack, call_id: str) -> int:
    got = await received(stack, call_id)
    return sum(1 for s in got.signals if s.get("signal") == "declined")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def send(
    http: httpx.AsyncClient, method: str, path: str, body: Any, headers: dict[str, str]
) -> httpx.Response:
    return await http.request(method, path, json=body, headers=headers)


# (method, path template, body, the scope it needs, a scope it does not, the 2xx answer)
ROUTES = [
    ("POST", "/calls", {"user_id": KNOWN_USER}, Scope.CALLS_WRITE, Scope.CALLS_READ, 201),
    ("GET", "/calls/{call}", None, Scope.CALLS_READ, Scope.CALLS_WRITE, 200),
    ("GET", "/calls/{record}/record", None, Scope.CALLS_READ, Scope.OPERATOR, 200),
    ("POST", "/calls/{call}/decline", {"reason": "busy"}, Scope.CALLS_WRITE, Scope.CALLS_READ, 202),
    ("POST", "/calls/{call}/cancel", {"reason": "ops"}, Scope.OPERATOR, Scope.CALLS_WRITE, 200),
    ("PUT", "/users/{user}/schedule", SCHEDULE, Scope.SCHEDULES_WRITE, Scope.OPERATOR, 201),
    ("DELETE", "/users/{user}/schedule", None, Scope.SCHEDULES_WRITE, Scope.CALLS_WRITE, 204),
    (
        "PUT",
        "/users/{user}/recording-consent",
        {"consent": True},
        Scope.SCHEDULES_WRITE,
        Scope.CALLS_READ,
        200,
    ),
]


@pytest.mark.parametrize(
    ("method", "template", "body", "scope", "other_scope", "ok"),
    ROUTES,
    ids=[f"{r[0]} {r[1]}" for r in ROUTES],
)
async def test_every_route_refuses_strangers_and_wrong_scopes(
    stack: Stack,
    api_client: Api,
    method: str,
    template: str,
    body: Any,
    scope: str,
    other_scope: str,
    ok: int,
) -> None:
    call_id = await start_call(stack)
    record_id = call_id
    if "{record}" in template:
        record_id = f"rec-{uuid.uuid4().hex[:8]}"
        await stack.records.save_call(
            CallRecord(
                call_id=record_id,
                user_id=KNOWN_USER,
                outcome="completed",
                attempts=1,
                started_at="2026-12-01T07:30:00+00:00",
                ended_at="2026-12-01T07:34:10+00:00",
            )
        )
    user_id = f"user-sched-{uuid.uuid4().hex[:6]}"
    if "{user}" in template:
        await stack.records.upsert_user(
            User(user_id=user_id, display_name="Sched", voip_token="cd" * 32)
        )
        if method == "DELETE":
            put = await send(
                api_client.http, "PUT", f"/users/{user_id}/schedule", SCHEDULE, auth_headers()
            )
            assert put.status_code == 201, put.text
    path = template.format(call=call_id, record=record_id, user=user_id)
    http = api_client.http

    anonymous = await send(http, method, path, body, {})
    made_up = await send(http, method, path, body, bearer("not-a-real-key-0123456789"))
    unknown_key = await send(http, method, path, body, bearer(new_api_key()))
    wrong_scope = await send(http, method, path, body, bearer(SCOPED_KEYS[other_scope]))
    right = await send(http, method, path, body, bearer(SCOPED_KEYS[scope]))

    for refused in (anonymous, made_up, unknown_key):
        assert refused.status_code == 401, refused.text
        assert refused.json()["error"]["code"] == "unauthenticated"
        assert refused.headers["www-authenticate"].startswith("Bearer")
    assert wrong_scope.status_code == 403, wrong_scope.text
    assert scope in wrong_scope.json()["error"]["message"]
    assert right.status_code == ok, right.text
    if template.endswith("/decline"):
        assert await declines(stack, call_id) == 1  # only the right one got in


async def test_healthz_stays_open_and_says_nothing(api_client: Api) -> None:
    response = await api_client.http.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


async def test_the_webhook_is_verified_by_its_signature_alone(
    stack: Stack, api_client: Api
) -> None:
    body = event_body("room_finished", room_name_for("c-unknown", 1))
    unsigned = await api_client.http.post(
        "/livekit/webhook", content=body, headers={"Content-Type": "application/webhook+json"}
    )
    with_key_only = await api_client.http.post(
        "/livekit/webhook", content=body, headers={**auth_headers(FULL_KEY)}
    )
    signed = await api_client.http.post(
        "/livekit/webhook",
        content=body,
        headers={**signed_headers(body), "Content-Type": "application/webhook+json"},
    )
    assert unsigned.status_code == 401 and with_key_only.status_code == 401
    assert signed.status_code == 200, signed.text


# --- decline with the user's own tokens ---------------------------------------------------


async def test_decline_with_the_push_room_token_is_accepted(stack: Stack, api_client: Api) -> None:
    call_id = await start_call(stack)
    token = room_token(KNOWN_USER, room_name_for(call_id, 1))
    response = await api_client.http.post(f"/calls/{call_id}/decline", headers=bearer(token))
    assert response.status_code == 202, response.text
    assert await declines(stack, call_id) == 1


async def test_decline_with_a_later_attempts_room_token_is_accepted(
    stack: Stack, api_client: Api
) -> None:
    call_id = await start_call(stack)
    token = room_token(KNOWN_USER, room_name_for(call_id, 2))
    response = await api_client.http.post(f"/calls/{call_id}/decline", headers=bearer(token))
    assert response.status_code == 202, response.text


@pytest.mark.parametrize(
    ("make", "status"),
    [
        (lambda call, other: room_token("user-bob", room_name_for(other, 1)), 403),
        (lambda call, other: room_token("user-bob", room_name_for(call, 1)), 403),
        (lambda call, other: room_token(KNOWN_USER, room_name_for(other, 1)), 403),
        (lambda call, other: room_token(KNOWN_USER, f"callflow-{call}-x1"), 403),
        (lambda call, other: room_token(KNOWN_USER, room_name_for(call, 1), expired=True), 401),
        (
            lambda call, other: room_token(
                KNOWN_USER, room_name_for(call, 1), secret="forged-secret-0123456789abcdefgh"
            ),
            401,
        ),
        (lambda call, other: supabase_jwt(KNOWN_USER), 202),
        (lambda call, other: supabase_jwt("user-bob"), 403),
        (lambda call, other: supabase_jwt(KNOWN_USER, expired=True), 401),
        (lambda call, other: supabase_jwt(KNOWN_USER, secret="x" * 40), 401),
    ],
    ids=[
        "another user's token for another call",
        "another identity for this room",
        "this user's token for another call",
        "a room that is not one of the call's",
        "expired room token",
        "forged signature",
        "the user's supabase jwt",
        "another user's supabase jwt",
        "expired supabase jwt",
        "forged supabase jwt",
    ],
)
async def test_decline_token_cases(stack: Stack, api_client: Api, make: Any, status: int) -> None:
    call_id = await start_call(stack)
    other = await start_call(stack)
    response = await api_client.http.post(
        f"/calls/{call_id}/decline", headers=bearer(make(call_id, other))
    )
    assert response.status_code == status, response.text
    assert await declines(stack, call_id) == (1 if status == 202 else 0)


async def test_nothing_secret_reaches_the_log(
    stack: Stack, api_client: Api, caplog: pytest.LogCaptureFixture
) -> None:
    call_id = await start_call(stack)
    token = room_token(KNOWN_USER, room_name_for(call_id, 1))
    forged = room_token(KNOWN_USER, room_name_for(call_id, 1), secret="y" * 40)
    with caplog.at_level(logging.DEBUG):
        await api_client.http.post("/calls", json={"user_id": KNOWN_USER}, headers=auth_headers())
        await api_client.http.get(f"/calls/{call_id}", headers=bearer(SCOPED_KEYS[Scope.OPERATOR]))
        await api_client.http.post(f"/calls/{call_id}/decline", headers=bearer(forged))
        await api_client.http.post(f"/calls/{call_id}/decline", headers=bearer(token))
    settings_api_keys = stack.settings.api_keys
    assert settings_api_keys is not None
    digests = [k.digest.hex() for k in parse_api_keys(settings_api_keys.get_secret_value())]
    for secret in [FULL_KEY, *SCOPED_KEYS.values(), token, forged, SUPABASE_SECRET, *digests]:
        assert secret not in caplog.text
    assert FULL_KEY not in repr(stack.settings) and FULL_KEY not in str(stack.settings)


# --- keys as configured --------------------------------------------------------------------


def test_several_keys_are_active_at_once_for_rotation(stack: Stack) -> None:
    entries = parse_api_keys(stack.settings.api_keys.get_secret_value())  # type: ignore[union-attr]
    assert len(entries) == 1 + len(SCOPED_KEYS)


@pytest.mark.parametrize(
    "text",
    [
        "backend:nothex:calls:write",
        f"backend:{'a' * 64}:calls:everything",
        f"backend:{'a' * 64}:",
        "backend-only-a-name",
    ],
)
def test_malformed_key_settings_name_the_fix(text: str) -> None:
    with pytest.raises(ConfigurationError, match="CALLFLOW_API_KEYS"):
        parse_api_keys(text)


def test_keys_hold_only_digests() -> None:
    from callflow.service.auth import api_key_entry

    key = new_api_key()
    entry = api_key_entry("app-backend", key, [Scope.CALLS_WRITE])
    assert key not in entry
    [parsed] = parse_api_keys(entry)
    assert (parsed.name, parsed.scopes) == ("app-backend", frozenset({Scope.CALLS_WRITE}))
