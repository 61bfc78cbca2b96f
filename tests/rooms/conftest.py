"""A real livekit-server on loopback, and a webhook receiver it posts to, shared by the session."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
import pytest_asyncio
from aiohttp import web
from livekit import api

from callflow.rooms import LiveKitRooms
from callflow.stack.livekit import LocalLiveKit, start_livekit
from callflow.stack.temporal import free_port

API_KEY = "devkey"


@dataclass
class WebhookSink:
    """Receives LiveKit webhooks and keeps the ones whose signature verifies."""

    url: str
    receiver: api.WebhookReceiver | None = None
    events: list[api.WebhookEvent] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)

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


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def webhook_sink() -> AsyncIterator[WebhookSink]:
    port = free_port()
    sink = WebhookSink(url=f"http://127.0.0.1:{port}/livekit/webhook")
    app = web.Application()
    app.router.add_post("/livekit/webhook", sink.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield sink
    await runner.cleanup()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def livekit_server(
    tmp_path_factory: pytest.TempPathFactory, webhook_sink: WebhookSink
) -> AsyncIterator[LocalLiveKit]:
    secret = secrets.token_urlsafe(32)
    server = await start_livekit(
        tmp_path_factory.mktemp("livekit"),
        api_key=API_KEY,
        api_secret=secret,
        webhook_urls=[webhook_sink.url],
    )
    webhook_sink.receiver = api.WebhookReceiver(api.TokenVerifier(API_KEY, secret))
    print(f"livekit-server answered in {server.started_in_s * 1000:.0f} ms at {server.url}")
    yield server
    server.stop()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def rooms(livekit_server: LocalLiveKit) -> AsyncIterator[LiveKitRooms]:
    adapter = LiveKitRooms(livekit_server.url, livekit_server.api_key, livekit_server.api_secret)
    yield adapter
    await adapter.close()


@pytest.fixture
def room_name(request: pytest.FixtureRequest) -> str:
    """A room name unique to the test, in callflow's naming scheme."""
    return f"callflow-{request.node.name.replace('_', '-')}-{secrets.token_hex(3)}-a1"
