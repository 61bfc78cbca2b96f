"""A receiver for livekit-server's webhooks that keeps the events whose signature verifies."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from aiohttp import web
from livekit import api

from callflow.local.stack.temporal import free_port


@dataclass
class WebhookSink:
    url: str
    receiver: api.WebhookReceiver | None = None  # set once the server's key and secret are known
    events: list[api.WebhookEvent] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    _runner: web.AppRunner | None = None

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.text()  # the raw body: its sha256 is what the JWT signs
        auth = request.headers.get("Authorization", "")
        try:
            assert self.receiver is not None
            event = self.receiver.receive(body, auth)
        except Exception as e:
            self.rejected.append(f"{type(e).__name__}: {e}")
            return web.json_response({"error": "invalid signature"}, status=401)
        self.events.append(event)
        return web.json_response({"ok": True})

    async def wait_for(
        self, event: str, *, room: str, identity: str | None = None, timeout_s: float = 10.0
    ) -> api.WebhookEvent:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for e in self.events:
                if e.event != event or e.room.name != room:
                    continue
                if identity is None or e.participant.identity == identity:
                    return e
            await asyncio.sleep(0.05)
        seen = [(e.event, e.room.name) for e in self.events]
        raise AssertionError(f"no {event} webhook for {room} in {timeout_s}s; got {seen}")

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


async def start_webhook_sink() -> WebhookSink:
    port = free_port()
    sink = WebhookSink(url=f"http://127.0.0.1:{port}/livekit/webhook")
    app = web.Application()
    app.router.add_post("/livekit/webhook", sink.handle)
    sink._runner = web.AppRunner(app)
    await sink._runner.setup()
    await web.TCPSite(sink._runner, "127.0.0.1", port).start()
    return sink
