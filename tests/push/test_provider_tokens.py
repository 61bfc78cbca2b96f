"""Provider tokens as APNs rules them: one per (team, key) per process, refreshed at 50 minutes;
the local endpoint answers a token change within 20 minutes with 429, a token older than an hour
with 403 ExpiredProviderToken, and a forged one with 403 InvalidProviderToken."""

from __future__ import annotations

import asyncio
import ssl
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import jwt
import pytest
import pytest_asyncio
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from callflow.local.phone.apns_endpoint import (
    MAX_NEW_TOKENS_PER_INTERVAL,
    LocalApns,
    start_local_apns,
)
from callflow.push.token_cache import REUSE_FOR_S, SharedProviderToken
from tests.push.conftest import new_token, sender_for
from tests.push.test_apns_sender import Phone, push_to


class Clock:
    """Wall time plus an offset the test moves."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


@pytest_asyncio.fixture(loop_scope="session")
async def fresh_apns(tmp_path: Path) -> AsyncIterator[tuple[LocalApns, Clock]]:
    """An endpoint with its own key, so no token of another test has been seen by it."""
    clock = Clock()
    endpoint = await start_local_apns(tmp_path, clock=clock)
    yield endpoint, clock
    await endpoint.stop()


async def test_a_second_sender_in_the_process_reuses_the_token(
    fresh_apns: tuple[LocalApns, Clock],
) -> None:
    # A second sender, or a second connection, used to sign a token of its own: a token per
    # connection is the churn APNs answers with 429 TooManyProviderTokenUpdates.
    endpoint, _ = fresh_apns
    token = new_token()
    endpoint.register_device(token, Phone())
    for _ in range(2):
        sender = sender_for(endpoint)
        try:
            assert (await sender.send_voip(push_to(token))).delivered
        finally:
            await sender.close()
    assert endpoint.app.new_tokens_accepted == 1
    assert endpoint.app.token_updates_refused == 0


@pytest.mark.slow
async def test_pushes_eleven_seconds_apart_share_connection_and_token(
    fresh_apns: tuple[LocalApns, Clock],
) -> None:
    # The measurement: aioapns closed a connection idle for 10 s and signed a new token
    # for the next one.
    endpoint, _ = fresh_apns
    token = new_token()
    endpoint.register_device(token, Phone())
    sender = sender_for(endpoint)
    try:
        assert (await sender.send_voip(push_to(token))).delivered
        await asyncio.sleep(11)
        assert (await sender.send_voip(push_to(token))).delivered
    finally:
        await sender.close()
    assert endpoint.app.new_tokens_accepted == 1
    assert endpoint.app.token_updates_refused == 0


def test_the_token_is_reused_for_fifty_minutes_then_refreshed() -> None:
    now = [1_800_000_000.0]
    key = _new_key()
    shared = SharedProviderToken(key, "KEY1234567", "TEAM123456", clock=lambda: now[0])
    first = shared.get_header()
    now[0] += REUSE_FOR_S - 1
    assert shared.get_header() == first
    now[0] += 1
    refreshed = shared.get_header()
    assert refreshed != first and shared.tokens_signed == 2
    claims = jwt.decode(refreshed.removeprefix("bearer "), options={"verify_signature": False})
    assert claims == {"iss": "TEAM123456", "iat": int(now[0])}
    assert 20 * 60 < REUSE_FOR_S < 60 * 60


def _new_key() -> str:
    return (
        ec.generate_private_key(ec.SECP256R1())
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )


def _signed(endpoint: LocalApns, issued_at: float, key_pem: str | None = None) -> str:
    token = jwt.encode(
        {"iss": endpoint.team_id, "iat": int(issued_at)},
        key_pem or endpoint.key_pem,
        algorithm="ES256",
        headers={"kid": endpoint.key_id},
    )
    return f"bearer {token}"


async def _post(
    endpoint: LocalApns, authorization: str, client: httpx.AsyncClient | None = None
) -> tuple[int, str | None]:
    """One push with this provider token, on `client`'s connection or a new one."""
    if client is None:
        context = ssl.create_default_context(cafile=str(endpoint.ca_file))
        async with httpx.AsyncClient(http2=True, verify=context) as new_connection:
            return await _post(endpoint, authorization, new_connection)
    device = new_token()
    endpoint.register_device(device, Phone())
    response = await client.post(
        f"https://127.0.0.1:{endpoint.port}/3/device/{device}",
        content=b"{}",
        headers={
            "authorization": authorization,
            "apns-topic": endpoint.topic,
            "apns-push-type": "voip",
            "apns-id": str(uuid.uuid4()),
        },
    )
    return response.status_code, (response.json()["reason"] if response.content else None)


async def test_endpoint_enforces_apples_token_rules(
    fresh_apns: tuple[LocalApns, Clock],
) -> None:
    endpoint, clock = fresh_apns
    first = _signed(endpoint, clock())
    context = ssl.create_default_context(cafile=str(endpoint.ca_file))
    async with httpx.AsyncClient(http2=True, verify=context) as one_connection:
        assert await _post(endpoint, first, one_connection) == (200, None)
        assert await _post(endpoint, first, one_connection) == (200, None)  # reuse is wanted
        clock.offset += 60
        # One connection keeps one token for at least 20 minutes.
        assert await _post(endpoint, _signed(endpoint, clock()), one_connection) == (
            429,
            "TooManyProviderTokenUpdates",
        )
        assert await _post(endpoint, first, one_connection) == (200, None)

    # Other servers (each a connection of its own) may sign their own tokens for the key, a
    # few of them; a sender signing one per connection is refused.
    for n in range(1, MAX_NEW_TOKENS_PER_INTERVAL):
        clock.offset += 1
        assert await _post(endpoint, _signed(endpoint, clock())) == (200, None), n
    clock.offset += 1
    assert await _post(endpoint, _signed(endpoint, clock())) == (
        429,
        "TooManyProviderTokenUpdates",
    )

    clock.offset += 21 * 60  # 20 minutes after those tokens: a new one is allowed
    second = _signed(endpoint, clock())
    assert await _post(endpoint, second) == (200, None)

    clock.offset += 40 * 60  # the first token is now over an hour old
    assert await _post(endpoint, first) == (403, "ExpiredProviderToken")
    assert await _post(endpoint, second) == (200, None)

    forged = _signed(endpoint, clock(), key_pem=_new_key())
    assert await _post(endpoint, forged) == (403, "InvalidProviderToken")
    assert await _post(endpoint, "bearer a.b.c") == (403, "InvalidProviderToken")
