"""Request limits of the call API, as ASGI middleware ahead of every route: a body larger than
`max_body_bytes` is refused with 413 (by its Content-Length before it is read, else once the
streamed bytes pass the limit), and a body with a declared non-JSON media type with 415.

JSON media types are `application/json` and `application/<anything>+json` (LiveKit's webhook
sends `application/webhook+json`). A body without a Content-Type is read as JSON, as before.
"""

from __future__ import annotations

import json

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

BODY_METHODS = {"POST", "PUT", "PATCH"}


class BodyTooLarge(HTTPException):
    """Raised from `receive` while a route reads the body: the app's handler renders it."""

    def __init__(self, max_body_bytes: int) -> None:
        super().__init__(
            413,
            f"the request body is over {max_body_bytes} bytes (CALLFLOW_API_MAX_BODY_BYTES)",
        )


def is_json_media_type(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


class RequestLimits:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in BODY_METHODS:
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            await self._too_large(send)
            return
        content_type = headers.get("content-type")
        has_body = (declared is not None and declared != "0") or "transfer-encoding" in headers
        if has_body and content_type is not None and not is_json_media_type(content_type):
            await _error(
                send,
                415,
                "unsupported_media_type",
                f"Content-Type {content_type.split(';', 1)[0]!r} is not JSON: send "
                "`Content-Type: application/json`",
            )
            return

        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise BodyTooLarge(self.max_body_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await self._too_large(send)

    async def _too_large(self, send: Send) -> None:
        await _error(
            send,
            413,
            "body_too_large",
            f"the request body is over {self.max_body_bytes} bytes (CALLFLOW_API_MAX_BODY_BYTES)",
        )


async def _error(send: Send, status: int, code: str, message: str) -> None:
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
