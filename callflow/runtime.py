"""Adapter selection from Settings, and the long-running processes built on it.

Unset provider keys select the local adapters (DESIGN.md section 3); the log line
`adapters: ...` names what each port uses, never a secret.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack

import httpx

from callflow.analysis.offline import OfflineAnalyzer
from callflow.analysis.openai import OpenAIAnalyzer
from callflow.memory.postgres import PostgresMemory
from callflow.memory.supermemory import SupermemoryMemory
from callflow.notify.webhook import SignedWebhookNotifier
from callflow.ports import CallAnalyzer, MemoryStore, RecordsStore
from callflow.push.apns import ApnsPushSender
from callflow.records.postgres import PostgresRecords
from callflow.records.supabase import SupabaseRecords
from callflow.rooms.livekit import LiveKitRooms
from callflow.settings import ConfigurationError, Settings, get_settings
from callflow.temporal_client import connect_temporal
from worker import Ports, create_worker

log = logging.getLogger("callflow")


def _require_database_url(settings: Settings, port: str) -> str:
    if not settings.database_url:
        raise ConfigurationError(
            f"{port}: DATABASE_URL is not set. `callflow dev` sets it to the embedded Postgres; "
            "otherwise set DATABASE_URL, or SUPABASE_URL + SUPABASE_SERVICE_ROLE_KEY"
        )
    return settings.database_url


async def build_records(settings: Settings, stack: AsyncExitStack) -> RecordsStore:
    settings.require_supabase()
    if settings.supabase_url:
        supabase = await SupabaseRecords.from_settings(settings)
        stack.push_async_callback(supabase.close)
        return supabase
    records = await PostgresRecords.connect(_require_database_url(settings, "records"))
    stack.push_async_callback(records.close)
    return records


async def build_memory(settings: Settings, stack: AsyncExitStack) -> MemoryStore:
    if settings.supermemory_api_key:
        supermemory = SupermemoryMemory.from_settings(settings)
        stack.push_async_callback(supermemory.close)
        return supermemory
    memory = await PostgresMemory.connect(_require_database_url(settings, "memory"))
    stack.push_async_callback(memory.close)
    return memory


def build_analyzer(settings: Settings) -> CallAnalyzer:
    if settings.openai_api_key:
        return OpenAIAnalyzer.create(
            settings.openai_api_key.get_secret_value(),
            settings.openai_model,
            settings.openai_base_url,
        )
    return OfflineAnalyzer()


async def build_ports(settings: Settings, stack: AsyncExitStack) -> Ports:
    settings.validate_for_runtime()
    if settings.uses_production_apns:
        push = ApnsPushSender.production(settings)
    else:
        push = ApnsPushSender.local_from_state(
            settings.state_dir, settings.local_apns_host, settings.local_apns_port
        )
    stack.push_async_callback(push.close)
    rooms = LiveKitRooms(
        settings.livekit_url,
        settings.livekit_api_key,
        settings.livekit_api_secret.get_secret_value(),
        departure_timeout_s=settings.livekit_departure_timeout_s,
    )
    stack.push_async_callback(rooms.close)
    notifier = None
    if settings.app_backend_webhook_url:
        http = httpx.AsyncClient()
        stack.push_async_callback(http.aclose)
        notifier = SignedWebhookNotifier(
            settings.app_backend_webhook_url, settings.app_backend_webhook_secret, http
        )
    ports = Ports(
        records=await build_records(settings, stack),
        memory=await build_memory(settings, stack),
        push=push,
        rooms=rooms,
        analyzer=build_analyzer(settings),
        notifier=notifier,
    )
    for port, adapter in settings.describe_adapters().items():
        log.info("adapter %-11s %s", port, adapter)
    return ports


async def run_worker(
    settings: Settings, *, ready: Callable[[], Awaitable[None]] | None = None
) -> None:
    """Run the Temporal worker until cancelled."""
    async with AsyncExitStack() as stack:
        client = await connect_temporal(settings)
        ports = await build_ports(settings, stack)
        worker = create_worker(
            client,
            ports,
            task_queue=settings.task_queue,
            max_concurrent_activities=settings.worker_max_activities,
            max_concurrent_workflow_tasks=settings.worker_max_workflow_tasks,
            max_cached_workflows=settings.worker_max_cached_workflows,
        )
        log.info(
            "worker polling task queue %r at %s", settings.task_queue, settings.temporal_address
        )
        async with worker:
            if ready is not None:
                await ready()
            await asyncio.Event().wait()


async def run_worker_from_settings() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    await run_worker(get_settings())
