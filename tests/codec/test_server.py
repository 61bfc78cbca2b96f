"""The codec server over real HTTP (uvicorn on loopback), as the Temporal UI calls it."""

from __future__ import annotations

import base64

import httpx
import pytest
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads

from callflow.codec import CodecConfigError, EncryptionCodec
from callflow.codec.server import create_app
from tests.codec.conftest import KEY_A, TOKEN, UI_ORIGIN

AUTH = {"Authorization": f"Bearer {TOKEN}", "X-Namespace": "default"}


def body(*payloads: Payload) -> dict[str, object]:
    return json_format.MessageToDict(Payloads(payloads=payloads))


def plain(text: str) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=f'"{text}"'.encode())


async def sealed_with_a(text: str) -> Payload:
    [sealed] = await EncryptionCodec({"A": KEY_A}, "A").encode([plain(text)])
    return sealed


async def test_decode_with_token_returns_plaintext(codec_url: str) -> None:
    sealed = await sealed_with_a("walked the dog")
    async with httpx.AsyncClient(base_url=codec_url) as http:
        response = await http.post("/decode", json=body(sealed), headers=AUTH)
    assert response.status_code == 200, response.text
    [decoded] = response.json()["payloads"]
    assert base64.b64decode(decoded["data"]) == b'"walked the dog"'
    assert base64.b64decode(decoded["metadata"]["encoding"]) == b"json/plain"


async def test_encode_uses_the_active_key_and_decodes_back(codec_url: str) -> None:
    async with httpx.AsyncClient(base_url=codec_url) as http:
        encoded = await http.post("/encode", json=body(plain("hello")), headers=AUTH)
        [payload] = encoded.json()["payloads"]
        assert base64.b64decode(payload["metadata"]["encryption-key-id"]) == b"B"
        decoded = await http.post("/decode", json=encoded.json(), headers=AUTH)
    assert json_format.ParseDict(decoded.json(), Payloads()).payloads[0] == plain("hello")


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong-token"}, {"Authorization": TOKEN}],
    ids=["no-token", "wrong-token", "no-bearer-scheme"],
)
async def test_refuses_without_the_right_token(codec_url: str, headers: dict[str, str]) -> None:
    sealed = await sealed_with_a("secret")
    async with httpx.AsyncClient(base_url=codec_url) as http:
        response = await http.post("/decode", json=body(sealed), headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert "secret" not in response.text


async def test_bad_bodies_get_a_clear_400(codec_url: str) -> None:
    async with httpx.AsyncClient(base_url=codec_url) as http:
        not_json = await http.post("/decode", content=b"{", headers=AUTH)
        no_list = await http.post("/decode", json={"items": []}, headers=AUTH)
        bad_data = await http.post("/decode", json={"payloads": [{"data": 5}]}, headers=AUTH)
        unknown_key = await http.post(
            "/decode",
            json=body(
                Payload(metadata={"encoding": b"binary/encrypted", "encryption-key-id": b"Z"})
            ),
            headers=AUTH,
        )
    assert (not_json.status_code, no_list.status_code, bad_data.status_code) == (400, 400, 400)
    assert "not JSON" in not_json.json()["error"]
    assert '"payloads" list' in no_list.json()["error"]
    assert "base64" in bad_data.json()["error"]
    assert unknown_key.status_code == 400 and "'Z'" in unknown_key.json()["error"]


async def test_cors_preflight_from_the_temporal_ui(codec_url: str) -> None:
    preflight = {
        "Origin": UI_ORIGIN,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type,x-namespace",
    }
    async with httpx.AsyncClient(base_url=codec_url) as http:
        allowed = await http.options("/decode", headers=preflight)
        stranger = await http.options(
            "/decode", headers={**preflight, "Origin": "http://evil.example"}
        )
        actual = await http.post(
            "/decode",
            json=body(plain("x")),
            headers={**AUTH, "Origin": UI_ORIGIN},
        )
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == UI_ORIGIN
    assert "authorization" in allowed.headers["access-control-allow-headers"].lower()
    assert "x-namespace" in allowed.headers["access-control-allow-headers"].lower()
    assert allowed.headers["access-control-allow-credentials"] == "true"
    assert "access-control-allow-origin" not in stranger.headers
    assert actual.headers["access-control-allow-origin"] == UI_ORIGIN


def test_a_codec_server_without_a_token_does_not_start() -> None:
    with pytest.raises(CodecConfigError, match="CALLFLOW_CODEC_SERVER_TOKEN"):
        create_app(EncryptionCodec({"A": KEY_A}, "A"), "", UI_ORIGIN)


@pytest.mark.parametrize(
    "raw",
    [b'{"payloads": ' + b"[" * 100_000, b'{"payloads": [{"metadata": {"a\\u0000": "eA=="}}]}'],
    ids=["deep", "nul"],
)
async def test_malformed_bodies_are_400_and_the_connection_stays_up(
    codec_url: str, raw: bytes
) -> None:
    async with httpx.AsyncClient(base_url=codec_url) as http:
        response = await http.post("/decode", content=raw, headers=AUTH)
        after = await http.get("/healthz")
    assert response.status_code == 400, response.text
    assert after.status_code == 200
