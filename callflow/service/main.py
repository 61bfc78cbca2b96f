"""Run the webhook + call API service from Settings (`callflow serve-api`)."""

from __future__ import annotations

import asyncio
import logging
from contextlib import AsyncExitStack

from callflow.runtime import build_service_app
from callflow.service.runner import serve
from callflow.settings import Settings

log = logging.getLogger("callflow.service")


async def run_service(settings: Settings, *, host: str | None, port: int | None) -> None:
    async with AsyncExitStack() as stack:
        app = await build_service_app(settings, stack)
        server = await serve(
            app, host or settings.api_host, port if port is not None else settings.api_port
        )
        log.info("call API listening on %s", server.url)
        try:
            await asyncio.Event().wait()
        finally:
            await server.stop()
