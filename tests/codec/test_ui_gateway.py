"""The codec server's sign-in for the Temporal UI it serves (callflow/codec/ui_gateway.py)."""

from __future__ import annotations

import base64

import httpx
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from callflow.codec import EncryptionCodec
from callflow.codec.local import codec_endpoint_of, local_codec_settings
from callflow.codec.server import create_app
from callflow.codec.ui_gateway import SESSION_COOKIE, session_valid, session_value
from callflow.settings import Settings
from tests.codec.conftest import KEY_A, TOKEN, UI_ORIGIN, codec_settings
from tests.codec.test_server import body, sealed_with_a


def test_sessions_expire_and_die_with_the_token() -> None:
    value = session_value(TOKEN, now=1_000)
    assert session_valid(value, TOKEN, now=1_001)
    assert not session_valid(value, TOKEN, now=1_000 + 13 * 3600)
    assert not session_valid(value, "rotated-token", now=1_001)
    assert not session_valid("9999999999.forged", TOKEN)
    assert not session_valid(None, TOKEN)


def fake_ui() -> Starlette:
    async def page(request: Request) -> JSONResponse:
        return JSONResponse(
            {"path": request.url.path, "query": request.url.query},
            headers={"set-cookie": "_csrf=abc; Path=/"},
        )

    return Starlette(routes=[Route("/{path:path}", page, methods=["GET", "POST"])])


async def test_sign_in_then_decode_with_the_cookie_and_the_ui_is_proxied() -> None:
    ui = httpx.ASGITransport(app=fake_ui())
    app = create_app(
        EncryptionCodec({"A": KEY_A}, "A"), TOKEN, UI_ORIGIN, "http://ui.test", ui_transport=ui
    )
    sealed = await sealed_with_a("ran 5k")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://codec.test"
    ) as http:
        async with app.router.lifespan_context(app):
            anonymous = await http.post("/codec/decode", json=body(sealed))
            wrong = await http.post("/codec/login", data={"token": "nope", "next": "/x"})
            evil = await http.post("/codec/login", data={"token": TOKEN, "next": "//evil.example/"})
            signed = await http.post("/codec/login", data={"token": TOKEN, "next": "/ns/w"})
            decoded = await http.post("/codec/decode?preserveStorageRefs=true", json=body(sealed))
            page = await http.get("/namespaces/default/workflows?a=1")

    assert anonymous.status_code == 401 and "/codec/login" in anonymous.json()["error"]
    assert wrong.status_code == 401 and SESSION_COOKIE not in wrong.cookies
    assert evil.status_code == 303 and evil.headers["location"] == "/"
    assert signed.status_code == 303 and signed.headers["location"] == "/ns/w"
    cookie = signed.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/codec" in cookie
    assert decoded.status_code == 200, decoded.text
    assert base64.b64decode(decoded.json()["payloads"][0]["data"]) == b'"ran 5k"'
    assert page.status_code == 200
    assert page.json() == {"path": "/namespaces/default/workflows", "query": "a=1"}
    assert page.headers["set-cookie"] == "_csrf=abc; Path=/"


def test_the_local_stack_gives_its_codec_a_token_and_the_ui_its_endpoint() -> None:
    assert local_codec_settings(Settings(), fixed_ports=True) == {}
    base = codec_settings({"A": KEY_A}, "A").model_copy(update={"codec_server_token": None})
    codec = local_codec_settings(base, fixed_ports=True)
    assert codec["codec_server_port"] == 8081
    assert isinstance(codec["codec_server_token"], SecretStr)
    assert len(codec["codec_server_token"].get_secret_value()) >= 32
    assert codec_endpoint_of(codec) == "http://127.0.0.1:8081/codec"
    assert codec_endpoint_of({}) is None
