"""The local APNs endpoint answers like APNs: checked with a plain HTTP/2 client (httpx)."""

from __future__ import annotations

import json
import ssl
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import jwt
import pytest
import pytest_asyncio
from cryptography import x509

from callflow.local.phone.apns_endpoint import LocalApns
from callflow.push.local_credentials import ensure_local_credentials
from callflow.push.token_cache import shared_provider_token
from tests.push.conftest import new_token


def provider_token(endpoint: LocalApns, issued_at: int | None = None) -> str:
    """This process's token for the endpoint's key (the one its senders use: the endpoint
    refuses a second token within 20 minutes), or a token issued at `issued_at`."""
    if issued_at is None:
        shared = shared_provider_token(endpoint.key_pem, endpoint.key_id, endpoint.team_id)
        return shared.get_header().removeprefix("bearer ")
    return jwt.encode(
        {"iss": endpoint.team_id, "iat": issued_at},
        endpoint.key_pem,
        algorithm="ES256",
        headers={"kid": endpoint.key_id},
    )


@pytest_asyncio.fixture(loop_scope="session")
async def h2(local_apns: LocalApns) -> AsyncIterator[httpx.AsyncClient]:
    context = ssl.create_default_context(cafile=str(local_apns.ca_file))
    async with httpx.AsyncClient(
        http2=True, verify=context, base_url=f"https://127.0.0.1:{local_apns.port}"
    ) as client:
        yield client


def voip_headers(endpoint: LocalApns, **overrides: str | None) -> dict[str, str]:
    headers: dict[str, str | None] = {
        "authorization": f"bearer {provider_token(endpoint)}",
        "apns-topic": endpoint.topic,
        "apns-push-type": "voip",
        "apns-priority": "10",
        "apns-id": str(uuid.uuid4()),
    }
    headers.update(overrides)
    return {k: v for k, v in headers.items() if v is not None}


async def noop(payload: dict[str, object]) -> None:
    return None


async def post(
    client: httpx.AsyncClient, endpoint: LocalApns, token: str, body: bytes, **headers: str | None
) -> httpx.Response:
    return await client.post(
        f"/3/device/{token}", content=body, headers=voip_headers(endpoint, **headers)
    )


async def test_accepted_push_echoes_apns_id_over_http2(
    local_apns: LocalApns, h2: httpx.AsyncClient
) -> None:
    token = new_token()
    local_apns.register_device(token, noop)
    apns_id = str(uuid.uuid4())
    response = await post(h2, local_apns, token, b'{"call_id":"x"}', **{"apns-id": apns_id})
    assert response.http_version == "HTTP/2"
    assert response.status_code == 200
    assert response.headers["apns-id"] == apns_id
    assert response.content == b""


async def test_missing_apns_id_gets_one_assigned(
    local_apns: LocalApns, h2: httpx.AsyncClient
) -> None:
    token = new_token()
    local_apns.register_device(token, noop)
    response = await post(h2, local_apns, token, b"{}", **{"apns-id": None})
    assert response.status_code == 200
    assert uuid.UUID(response.headers["apns-id"])


@pytest.mark.parametrize(
    ("headers", "status", "reason"),
    [
        ({"authorization": None}, 403, "MissingProviderToken"),
        ({"authorization": "bearer not.a.jwt"}, 403, "InvalidProviderToken"),
        ({"apns-topic": None}, 400, "MissingTopic"),
        ({"apns-topic": "app.callflow.ios"}, 400, "DeviceTokenNotForTopic"),
        ({"apns-topic": "com.other.app.voip"}, 400, "TopicDisallowed"),
        ({"apns-push-type": "sms"}, 400, "InvalidPushType"),
        ({"apns-push-type": "alert"}, 400, "DeviceTokenNotForTopic"),
        ({"apns-id": "push-1"}, 400, "BadMessageId"),
        ({"apns-priority": "7"}, 400, "BadPriority"),
        ({"apns-expiration": "soon"}, 400, "BadExpirationDate"),
        ({"apns-collapse-id": "c" * 65}, 400, "BadCollapseId"),
    ],
)
async def test_requests_apns_would_refuse_are_refused(
    local_apns: LocalApns,
    h2: httpx.AsyncClient,
    headers: dict[str, str | None],
    status: int,
    reason: str,
) -> None:
    token = new_token()
    local_apns.register_device(token, noop)
    response = await post(h2, local_apns, token, b"{}", **headers)
    assert (response.status_code, response.json()["reason"]) == (status, reason)


async def test_expired_provider_token(local_apns: LocalApns, h2: httpx.AsyncClient) -> None:
    old = provider_token(local_apns, issued_at=int(time.time()) - 2 * 3600)
    response = await post(h2, local_apns, new_token(), b"{}", authorization=f"bearer {old}")
    assert (response.status_code, response.json()["reason"]) == (403, "ExpiredProviderToken")


@pytest.mark.parametrize(
    ("body", "status", "reason"),
    [
        (json.dumps({"blob": "x" * 5200}).encode(), 413, "PayloadTooLarge"),
        (b"", 400, "PayloadEmpty"),
        (b"{not json", 400, "BadPayload"),
        (b"[1, 2]", 400, "BadPayload"),
    ],
)
async def test_payload_rules(
    local_apns: LocalApns, h2: httpx.AsyncClient, body: bytes, status: int, reason: str
) -> None:
    token = new_token()
    local_apns.register_device(token, noop)
    response = await post(h2, local_apns, token, body)
    assert (response.status_code, response.json()["reason"]) == (status, reason)


async def test_unregistered_answer_carries_a_timestamp(
    local_apns: LocalApns, h2: httpx.AsyncClient
) -> None:
    token = new_token()
    local_apns.register_device(token, noop)
    local_apns.unregister(token)
    response = await post(h2, local_apns, token, b"{}")
    assert response.status_code == 410
    document = response.json()
    assert document["reason"] == "Unregistered"
    assert abs(document["timestamp"] / 1000 - time.time()) < 60


async def test_wrong_method_and_path(local_apns: LocalApns, h2: httpx.AsyncClient) -> None:
    token = new_token()
    got = await h2.get(f"/3/device/{token}", headers=voip_headers(local_apns))
    assert (got.status_code, got.json()["reason"]) == (405, "MethodNotAllowed")
    wrong = await h2.post("/2/device/abc", content=b"{}", headers=voip_headers(local_apns))
    assert (wrong.status_code, wrong.json()["reason"]) == (404, "BadPath")


async def test_http1_is_not_apns(local_apns: LocalApns) -> None:
    context = ssl.create_default_context(cafile=str(local_apns.ca_file))
    async with httpx.AsyncClient(http2=False, verify=context) as client:
        response = await client.post(
            f"https://127.0.0.1:{local_apns.port}/3/device/{new_token()}",
            content=b"{}",
            headers=voip_headers(local_apns),
        )
    assert response.status_code == 400


async def test_refused_pushes_are_not_counted_as_received(
    local_apns: LocalApns, h2: httpx.AsyncClient
) -> None:
    before = len(local_apns.received)
    await post(h2, local_apns, new_token(), b"{}")  # unknown device
    assert len(local_apns.received) == before


def test_credentials_are_reused_and_the_certificate_chains_to_the_ca(
    apns_state_dir: Path,
) -> None:
    first = ensure_local_credentials(apns_state_dir)
    second = ensure_local_credentials(apns_state_dir)
    assert first == second
    assert len(first.key_id) == 10 and len(first.team_id) == 10
    assert "BEGIN PRIVATE KEY" in first.signing_key_pem
    cert = x509.load_pem_x509_certificate(first.cert_file.read_bytes())
    ca = x509.load_pem_x509_certificate(first.ca_file.read_bytes())
    cert.verify_directly_issued_by(ca)
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in names.get_values_for_type(x509.DNSName)
    assert (first.signing_key_pem, first.cert_key_file.stat().st_mode & 0o777) == (
        second.signing_key_pem,
        0o600,
    )


def test_fresh_state_dir_gets_fresh_identities(tmp_path: Path) -> None:
    a = ensure_local_credentials(tmp_path / "a")
    b = ensure_local_credentials(tmp_path / "b")
    assert a.key_id != b.key_id and a.signing_key_pem != b.signing_key_pem
