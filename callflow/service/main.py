"""Run the webhook + call API service from Settings (`callflow serve-api`)."""

from __future__ import annotations

import asyncio
import logging
from contextlib import AsyncExitStack

from callflow.runtime import build_records, build_service_app, build_webhook_app
from callflow.service.runner import serve
from callflow.settings import Settings

log = logging.getLogger("callflow.service")


async def run_service(settings: Settings, *, host: str | None, port: int | None) -> None:
    async with AsyncExitStack() as stack:
        records = (await build_records(settings, stack)).adapter
        app = await build_service_app(settings, stack, records=records)
        server = await serve(
            app, host or settings.api_host, port if port is not None else settings.api_port
        )
        stack.push_async_callback(server.stop)
        log.info("call API listening on %s", server.url)
        if settings.webhook_port is not None:
            webhook = await serve(
                await build_webhook_app(settings, stack, records),
                settings.webhook_host,
                settings.webhook_port,
            )
            stack.push_async_callback(webhook.stop)
            log.info("LiveKit webhook listening on %s/livekit/webhook", webhook.url)
        await asyncio.Event().wait()
