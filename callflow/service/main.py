"""Run the webhook + call API service from Settings (`callflow serve-api`)."""

from __future__ import annotations

import asyncio
import logging
from contextlib import AsyncExitStack

from temporalio.client import Client

from callflow.runtime import build_records
from callflow.schedules.intents import PostgresScheduleIntentStore
from callflow.schedules.manager import ScheduleManager
from callflow.schedules.routes import schedule_routes
from callflow.service.app import create_app
from callflow.service.deps import ServiceDeps
from callflow.service.runner import serve
from callflow.settings import Settings
from callflow.telemetry import asgi_metrics_middleware
from callflow.temporal_client import connect_temporal

log = logging.getLogger("callflow.service")


async def run_service(settings: Settings, *, host: str | None, port: int | None) -> None:
    async with AsyncExitStack() as stack:
        records = await build_records(settings, stack)
        client: Client | None = None

        async def temporal() -> Client:
            nonlocal client
            if client is None:
                client = await connect_temporal(settings)
            return client

        intents = None
        if settings.database_url:
            intents = await PostgresScheduleIntentStore.connect(settings.database_url)
            stack.push_async_callback(intents.close)

        async def manager() -> ScheduleManager:
            return ScheduleManager(await temporal(), settings, intents)

        app = create_app(
            ServiceDeps(temporal=temporal, records=records, settings=settings),
            extra_routes=schedule_routes(manager),
        )
        server = await serve(
            asgi_metrics_middleware(app, settings),
            host or settings.api_host,
            port if port is not None else settings.api_port,
        )
        log.info("call API listening on %s", server.url)
        try:
            await asyncio.Event().wait()
        finally:
            await server.stop()
