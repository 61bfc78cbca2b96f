"""The codec server: lets the Temporal UI and `temporal ... --codec-endpoint` decode histories.

Protocol (Temporal's remote codec): `POST /encode` and `POST /decode` with the JSON form of
`temporal.api.common.v1.Payloads` (`{"payloads": [{"metadata": {...}, "data": "<base64>"}]}`),
answered in the same form. Every request needs `Authorization: Bearer <token>` (the token is
CALLFLOW_CODEC_SERVER_TOKEN): this server decrypts anything it is sent, so it must not answer
strangers. The browser calls
it straight from the Temporal UI, hence CORS for that one origin.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import httpx
import uvicorn
from google.protobuf import json_format
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from temporalio.api.common.v1 import Payload, Payloads

from callflow.codec.codec import EncryptionCodec
from callflow.codec.converter import build_codec
from callflow.codec.errors import CodecConfigError, CodecError, CodecRequestError
from callflow.codec.ui_gateway import CODEC_PATH, UiGateway
from callflow.settings import Settings
from callflow.strict_json import NotJson, StrictJsonError, loads_strict

log = logging.getLogger(__name__)

_PROXIED_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
Transform = Callable[[Sequence[Payload]], Awaitable[list[Payload]]]


def _authorized(request: Request, token: str) -> bool:
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip(), token)


def _parse_payloads(body: bytes) -> Payloads:
    try:
        document = loads_strict(body)
    except NotJson:
        raise CodecRequestError('body is not JSON: send {"payloads": [...]}') from None
    except StrictJsonError as e:
        raise CodecRequestError(f'{e.message}: send {{"payloads": [...]}}') from None
    if not isinstance(document, dict) or not isinstance(document.get("payloads"), list):
        raise CodecRequestError('body must be an object with a "payloads" list')
    try:
        return json_format.ParseDict(document, Payloads(), ignore_unknown_fields=True)
    except json_format.ParseError as e:
        raise CodecRequestError(
            f'"payloads" is not Payload JSON (metadata values and data are base64): {e}'
        ) from None


def create_app(
    codec: EncryptionCodec,
    token: str,
    ui_origin: str,
    ui_upstream: str | None = None,
    *,
    ui_transport: httpx.AsyncBaseTransport | None = None,
) -> Starlette:
    """The ASGI app; `ui_origin` is the Temporal UI's origin (CALLFLOW_TEMPORAL_UI_URL).

    With `ui_upstream` (CALLFLOW_CODEC_UI_UPSTREAM) it also serves that Temporal UI on its own
    origin, with the codec under `/codec` accepting the operator's session cookie besides the
    bearer token (`ui_gateway.py` says why).
    """
    gateway = UiGateway(ui_upstream, token, ui_transport) if ui_upstream else None
    if not token:
        raise CodecConfigError(
            "CALLFLOW_CODEC_SERVER_TOKEN is unset: the codec server decrypts whatever it is "
            "sent, so it needs a bearer token (any long random string)"
        )

    def endpoint(transform: Transform) -> Callable[[Request], Awaitable[Response]]:
        async def handle(request: Request) -> Response:
            signed_in = gateway is not None and gateway.signed_in(request)
            if not (_authorized(request, token) or signed_in):
                return JSONResponse(
                    {
                        "error": "missing or wrong bearer token (header Authorization)"
                        + (f"; in a browser, sign in at {CODEC_PATH}/login" if gateway else "")
                    },
                    status_code=401,
                    headers={"WWW-Authenticate": "Bearer"},
                )
            try:
                payloads = _parse_payloads(await request.body())
                result = await transform(payloads.payloads)
            except CodecError as e:
                log.info(
                    "codec request refused",
                    extra={
                        "path": request.url.path,
                        "namespace": request.headers.get("x-namespace"),
                    },
                )
                return JSONResponse({"error": str(e)}, status_code=400)
            return JSONResponse(json_format.MessageToDict(Payloads(payloads=result)))

        return handle

    async def health(_: Request) -> Response:
        return JSONResponse({"ok": True, "key_ids": codec.key_ids})

    routes = [
        Route("/encode", endpoint(codec.encode), methods=["POST"]),
        Route("/decode", endpoint(codec.decode), methods=["POST"]),
        Route("/healthz", health, methods=["GET"]),
    ]
    if gateway is not None:
        routes += [
            Route(f"{CODEC_PATH}/encode", endpoint(codec.encode), methods=["POST"]),
            Route(f"{CODEC_PATH}/decode", endpoint(codec.decode), methods=["POST"]),
            Route(f"{CODEC_PATH}/login", gateway.login_form, methods=["GET"]),
            Route(f"{CODEC_PATH}/login", gateway.login, methods=["POST"]),
            Route(f"{CODEC_PATH}/logout", gateway.logout, methods=["POST"]),
            # Last: everything else is the Temporal UI.
            Route("/{path:path}", gateway.proxy, methods=_PROXIED_METHODS),
        ]
    return Starlette(
        routes=routes,
        lifespan=_closing(gateway),
        middleware=[
            Middleware(
                CORSMiddleware,
                allow_origins=[ui_origin.rstrip("/")],
                allow_methods=["POST", "OPTIONS"],
                allow_headers=["Authorization", "Content-Type", "X-Namespace"],
                allow_credentials=True,
            )
        ],
    )


def _closing(gateway: UiGateway | None) -> Callable[[Starlette], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            if gateway is not None:
                await gateway.aclose()

    return lifespan


def app_from_settings(settings: Settings) -> Starlette:
    codec = build_codec(settings)
    token = settings.codec_server_token.get_secret_value() if settings.codec_server_token else ""
    return create_app(codec, token, settings.temporal_ui_url, settings.codec_ui_upstream)


def codec_server(
    settings: Settings, host: str | None = None, port: int | None = None
) -> uvicorn.Server:
    """A uvicorn server for the codec app (`await server.serve()` inside a running loop)."""
    config = uvicorn.Config(
        app_from_settings(settings),
        host=host or settings.codec_server_host,
        port=port or settings.codec_server_port,
        log_level="warning",
        access_log=False,  # request bodies never reach logs; paths alone are not worth it
    )
    return uvicorn.Server(config)


def serve_codec(settings: Settings, host: str | None = None, port: int | None = None) -> None:
    """Blocking entry point of `callflow codec-server`."""
    codec_server(settings, host, port).run()
