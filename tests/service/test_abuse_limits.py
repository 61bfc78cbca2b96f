"""Abuse limits of the call API: the per-user call cap holds across two API instances sharing
one records store; bodies are limited in size (413) and to JSON (415); the public webhook
listener serves the webhook alone."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest_asyncio

from callflow.local.stack.postgres import LocalPostgres
from callflow.models import User
from callflow.service import ServiceDeps, create_app
from callflow.service.app import create_webhook_app
from callflow.service.call_cap import PostgresCallCap
from tests.service.conftest import KNOWN_USER, Stack, auth_headers
from tests.service.livekit_signing import event_body, signed_headers
from workflows.messages import room_name_for

CAP = 3


@pytest_asyncio.fixture(scope="package", loop_scope="session")
async def cap_store(area_database: LocalPostgres) -> AsyncIterator[PostgresCallCap]:
    store = await PostgresCallCap.connect(area_database.dsn)
    try:
        yield store
    finally:
        await store.close()


def instance(stack: Stack, cap: PostgresCallCap, *, cap_per_day: int = CAP) -> httpx.AsyncClient:
    """One API replica: its own app (and its own pool), the shared records database."""
    settings = stack.settings.model_copy(
        update={"call_cap_per_day": cap_per_day, "api_max_body_bytes": 4096}
    )
    app = create_app(
        ServiceDeps(temporal=stack.client, records=stack.records, settings=settings, call_cap=cap)
    )
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://api",
        headers=auth_headers(),
        timeout=10,
    )


async def a_user(stack: Stack) -> str:
    user_id = f"user-cap-{uuid.uuid4().hex[:8]}"
    await stack.records.upsert_user(User(user_id, "Capped", voip_token="ef" * 32))
    return user_id


async def test_the_cap_holds_across_two_instances_sharing_one_store(
    stack: Stack, area_database: LocalPostgres
) -> None:
    one = await PostgresCallCap.connect(area_database.dsn)
    two = await PostgresCallCap.connect(area_database.dsn)
    user_id = await a_user(stack)
    try:
        async with instance(stack, one) as a, instance(stack, two) as b:
            # Twice the cap at once, spread over both replicas.
            answers = await asyncio.gather(
                *(
                    (a if n % 2 else b).post("/calls", json={"user_id": user_id})
                    for n in range(2 * CAP)
                )
            )
            later = await b.post("/calls", json={"user_id": user_id})
            other_user = await a.post("/calls", json={"user_id": await a_user(stack)})
    finally:
        await one.close()
        await two.close()

    statuses = sorted(r.status_code for r in answers)
    assert statuses == [201] * CAP + [429] * CAP, [r.text for r in answers]
    assert later.status_code == 429
    refused = later.json()["error"]
    assert refused["code"] == "call_cap_reached"
    assert "CALLFLOW_CALL_CAP_PER_DAY=3" in refused["message"]
    retry_after = int(later.headers["retry-after"])
    assert 24 * 3600 - 120 < retry_after <= 24 * 3600
    assert other_user.status_code == 201  # the cap is per user


async def test_reusing_an_idempotency_key_does_not_count_twice(
    stack: Stack, cap_store: PostgresCallCap
) -> None:
    user_id = await a_user(stack)
    async with instance(stack, cap_store, cap_per_day=1) as api:
        body = {"user_id": user_id, "idempotency_key": uuid.uuid4().hex}
        first = await api.post("/calls", json=body)
        again = await api.post("/calls", json=body)
        another = await api.post("/calls", json={"user_id": user_id})
    assert (first.status_code, again.status_code, another.status_code) == (201, 200, 429)


async def test_an_unknown_user_does_not_use_up_a_place(
    stack: Stack, cap_store: PostgresCallCap
) -> None:
    async with instance(stack, cap_store, cap_per_day=1) as api:
        unknown = await api.post("/calls", json={"user_id": "user-nobody"})
    assert unknown.status_code == 404


async def test_a_body_over_the_limit_is_413(stack: Stack, cap_store: PostgresCallCap) -> None:
    big = b'{"user_id": "' + b"x" * 5000 + b'"}'
    async with instance(stack, cap_store) as api:
        declared = await api.post(
            "/calls", content=big, headers={"Content-Type": "application/json"}
        )

        async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it streams
            for _ in range(5):
                yield b" " * 1024

        streamed = await api.post(
            "/calls", content=chunks(), headers={"Content-Type": "application/json"}
        )
        small = await api.post("/calls", json={"user_id": KNOWN_USER})
    assert declared.status_code == 413, declared.text
    assert declared.json()["error"]["code"] == "body_too_large"
    assert "CALLFLOW_API_MAX_BODY_BYTES" in declared.json()["error"]["message"]
    assert streamed.status_code == 413, streamed.text
    assert small.status_code == 201, small.text


async def test_only_json_content_types_are_accepted(
    stack: Stack, cap_store: PostgresCallCap
) -> None:
    body = b'{"user_id": "user-ada"}'
    async with instance(stack, cap_store) as api:
        form = await api.post(
            "/calls", content=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
        )
        text = await api.post("/calls", content=body, headers={"Content-Type": "text/plain"})
        charset = await api.post(
            "/calls", content=body, headers={"Content-Type": "application/json; charset=utf-8"}
        )
        hook = event_body("room_finished", room_name_for("c-unknown", 1))
        webhook = await api.post(
            "/livekit/webhook",
            content=hook,
            headers={**signed_headers(hook), "Content-Type": "application/webhook+json"},
        )
    assert form.status_code == 415 and text.status_code == 415
    assert form.json()["error"]["code"] == "unsupported_media_type"
    assert charset.status_code == 201, charset.text
    assert webhook.status_code == 200, webhook.text  # LiveKit's own JSON type still gets in


async def test_the_public_listener_serves_the_webhook_alone(stack: Stack) -> None:
    app = create_webhook_app(
        ServiceDeps(temporal=stack.client, records=stack.records, settings=stack.settings)
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://hooks") as hooks:
        hook = event_body("room_finished", room_name_for("c-unknown", 1))
        signed = await hooks.post("/livekit/webhook", content=hook, headers=signed_headers(hook))
        unsigned = await hooks.post("/livekit/webhook", content=hook)
        health = await hooks.get("/healthz")
        calls = await hooks.post("/calls", json={"user_id": KNOWN_USER}, headers=auth_headers())
        status = await hooks.get("/calls/anything", headers=auth_headers())
    assert signed.status_code == 200 and unsigned.status_code == 401
    assert health.status_code == 200
    assert calls.status_code == 404 and status.status_code == 404
