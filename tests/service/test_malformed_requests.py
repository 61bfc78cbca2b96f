"""Malformed bodies get a 4xx naming the field, over real HTTP (issue 13, item 4)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from pydantic import SecretStr

from callflow.service import ServiceDeps, create_app, serve
from callflow.service.auth import ALL_SCOPES, api_key_entry, new_api_key
from tests.service.conftest import KNOWN_USER, Stack

# Deep enough to exhaust the decoder's recursion, small enough for the body limit.
DEEP = b"[" * 60_000
JSON = {"content-type": "application/json"}


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def api(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    """The service on a real port, called with an API key holding every scope: these tests are
    about bodies, not credentials."""
    key = new_api_key()
    settings = stack.settings.model_copy(
        update={"api_keys": SecretStr(api_key_entry("malformed-tests", key, ALL_SCOPES))}
    )
    app = create_app(ServiceDeps(temporal=stack.client, records=stack.records, settings=settings))
    server = await serve(app, "127.0.0.1", 0)
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=server.url, timeout=10, headers=headers) as client:
        try:
            yield client
        finally:
            await server.stop()


@pytest.mark.parametrize(
    "raw",
    [
        b'{"user_id": "user-\\u0000ada"}',  # an escaped NUL
        b'{"user_id": "user-\\ud800"}',  # an unpaired high surrogate, escaped
        b'{"user_id": "user-\xed\xa0\x80"}',  # the same, as raw (invalid UTF-8) bytes
        b'{"user_id": "user-\\udc00x"}',  # an unpaired low surrogate
    ],
    ids=["nul", "escaped-surrogate", "raw-surrogate", "low-surrogate"],
)
async def test_unstorable_text_is_422_naming_the_field(api: httpx.AsyncClient, raw: bytes) -> None:
    response = await api.post("/calls", content=raw, headers=JSON)

    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert (error["code"], error["field"]) == ("validation_failed", "user_id")
    assert "retry" not in error["message"]


async def test_deep_nesting_is_400_and_the_connection_stays_usable(api: httpx.AsyncClient) -> None:
    deep = await api.post("/calls", content=DEEP, headers=JSON)
    after = await api.post("/calls", json={"user_id": "user-nobody"})

    assert deep.status_code == 400, deep.text
    assert deep.json()["error"]["code"] == "malformed_body"
    assert "deeper than" in deep.json()["error"]["message"]
    assert deep.headers.get("connection") != "close"
    assert after.status_code == 404


async def test_a_misspelt_idempotency_key_is_refused_not_ignored(api: httpx.AsyncClient) -> None:
    body = {"user_id": KNOWN_USER, "idempotencyKey": uuid.uuid4().hex}

    response = await api.post("/calls", json=body)

    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["field"] == "idempotencyKey"
    assert "did you mean `idempotency_key`" in error["message"]


async def test_unknown_fields_are_refused_on_cancel_and_decline(api: httpx.AsyncClient) -> None:
    call_id = uuid.uuid4().hex
    cancel = await api.post(
        f"/calls/{call_id}/cancel", json={"reason": "stop", "requestedBy": "ops"}
    )
    decline = await api.post(f"/calls/{call_id}/decline", json={"why": "driving"})

    assert cancel.status_code == 422 and cancel.json()["error"]["field"] == "requestedBy"
    assert "did you mean `requested_by`" in cancel.json()["error"]["message"]
    assert decline.status_code == 422 and decline.json()["error"]["field"] == "why"


@pytest.mark.parametrize("path", ["/calls/a%00b/record", "/calls/a%00b", "/calls/a%00b/decline"])
async def test_unstorable_path_ids_are_422_naming_the_parameter(
    api: httpx.AsyncClient, path: str
) -> None:
    response = await (api.get(path) if not path.endswith("decline") else api.post(path))

    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == "call_id"
