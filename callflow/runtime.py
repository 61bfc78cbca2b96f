"""The one place the system is assembled: adapters chosen from `Settings`, the Temporal worker
and the call API service built on them.

Production (`callflow worker`, `callflow serve-api`), the local stack, the demo, the benchmarks
and the end-to-end tests all go through these functions; the local stack only changes the
endpoints in the settings it passes. Unset provider keys select the local adapters. Every
builder returns its adapter with a description of it, and that description is what the log
line `adapter <port> <description>` prints, so the log cannot disagree with the choice (and
never holds a secret).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar, cast

import httpx
from starlette.types import ASGIApp
from temporalio.client import Client
from temporalio.worker import Worker

from activities.analysis import AnalysisActivities, NotifyActivities
from activities.error_edge import ErrorEdge
from activities.importing import ImportActivities
from activities.memory import MemoryActivities
from activities.recordings import RecordingActivities
from activities.records import RecordsActivities
from activities.ring import RingActivities
from activities.rooms import RoomActivities
from activities.slots import SlotActivities
from callflow.analysis.anthropic import AnthropicAnalyzer
from callflow.analysis.offline import OfflineAnalyzer
from callflow.analysis.openai import OpenAIAnalyzer
from callflow.importer.elevenlabs import ElevenLabsSource
from callflow.importer.ledger import PostgresImportLedger
from callflow.importer.ports import HistoryImport, no_conversation_api
from callflow.memory.postgres import PostgresMemory
from callflow.memory.supermemory import SupermemoryMemory
from callflow.monitoring.activity_metrics import ActivityMetrics
from callflow.monitoring.metrics import serve_metrics
from callflow.notify.webhook import SignedWebhookNotifier
from callflow.ports import (
    AgentSlots,
    AppBackendNotifier,
    CallAnalyzer,
    MemoryStore,
    PushSender,
    RecordingRecords,
    RecordingStore,
    RecordsStore,
    RoomService,
)
from callflow.push.apns import ApnsPushSender
from callflow.recordings.retention import ensure_cleanup_schedule
from callflow.recordings.s3 import recording_store_from
from callflow.records.postgres import PostgresRecords
from callflow.records.supabase import SupabaseRecords
from callflow.rooms.livekit import LiveKitRooms
from callflow.schedules.intents import PostgresScheduleIntentStore
from callflow.schedules.manager import ScheduleManager
from callflow.schedules.routes import schedule_routes
from callflow.service.app import create_app, create_webhook_app
from callflow.service.auth import Authenticator, Scope
from callflow.service.call_cap import CallCap, PostgresCallCap, SupabaseCallCap
from callflow.service.deps import ServiceDeps
from callflow.settings import ConfigurationError, Settings, get_settings
from callflow.slots.postgres import PostgresAgentSlots
from callflow.slots.supabase import SupabaseAgentSlots
from callflow.telemetry import asgi_metrics_middleware
from callflow.temporal_client import connect_temporal
from workflows.call import CallWorkflow
from workflows.import_history import ImportHistoryWorkflow
from workflows.recording_cleanup import RecordingCleanupWorkflow

log = logging.getLogger("callflow")

T = TypeVar("T")


@dataclass
class Built(Generic[T]):
    """An adapter and what it is, in words safe to log."""

    adapter: T
    description: str


@dataclass
class Ports:
    records: RecordsStore
    memory: MemoryStore
    push: PushSender
    rooms: RoomService
    analyzer: CallAnalyzer
    notifier: AppBackendNotifier | None
    slots: AgentSlots | None = None  # None: agent capacity is not managed
    descriptions: dict[str, str] = field(default_factory=dict)
    history_import: HistoryImport | None = None  # None: imports fail, saying what is missing
    recordings: RecordingStore | None = None  # None: recordings off (no S3 endpoint set)


def _require_database_url(settings: Settings, port: str) -> str:
    if not settings.database_url:
        raise ConfigurationError(
            f"{port}: DATABASE_URL is not set. `callflow dev` sets it to the embedded Postgres; "
            "otherwise set DATABASE_URL, or SUPABASE_URL + SUPABASE_SERVICE_ROLE_KEY"
        )
    return settings.database_url


async def build_records(settings: Settings, stack: AsyncExitStack) -> Built[RecordsStore]:
    settings.require_supabase()
    if settings.supabase_url:
        supabase = await SupabaseRecords.from_settings(settings)
        stack.push_async_callback(supabase.close)
        return Built(supabase, "supabase")
    records = await PostgresRecords.connect(_require_database_url(settings, "records"))
    stack.push_async_callback(records.close)
    return Built(records, "postgres (DATABASE_URL)")


async def build_agent_slots(settings: Settings, stack: AsyncExitStack) -> Built[AgentSlots]:
    """The agent-capacity store the agent workers report to and the ring path holds slots in:
    Supabase when SUPABASE_URL is set, else Postgres at DATABASE_URL (the records' database)."""
    settings.require_supabase()
    if settings.supabase_url:
        supabase = await SupabaseAgentSlots.from_settings(settings)
        stack.push_async_callback(supabase.close)
        return Built(supabase, "supabase (rpc acquire_agent_slot)")
    if not settings.database_url:
        raise ConfigurationError(
            "agent slots: neither SUPABASE_URL nor DATABASE_URL is set. Set DATABASE_URL (the "
            "records' Postgres; `callflow dev` sets it), or SUPABASE_URL + "
            "SUPABASE_SERVICE_ROLE_KEY"
        )
    slots = await PostgresAgentSlots.connect(settings.database_url)
    stack.push_async_callback(slots.close)
    return Built(slots, "postgres (DATABASE_URL)")


async def build_memory(settings: Settings, stack: AsyncExitStack) -> Built[MemoryStore]:
    if settings.supermemory_api_key:
        supermemory = SupermemoryMemory.from_settings(settings)
        stack.push_async_callback(supermemory.close)
        return Built(supermemory, "supermemory")
    memory = await PostgresMemory.connect(_require_database_url(settings, "memory"))
    stack.push_async_callback(memory.close)
    return Built(memory, "postgres full-text (no SUPERMEMORY_API_KEY)")


def build_analyzer(settings: Settings) -> Built[CallAnalyzer]:
    if settings.openai_api_key:
        analyzer = OpenAIAnalyzer.create(
            settings.openai_api_key.get_secret_value(),
            settings.openai_model,
            settings.openai_base_url,
        )
        return Built(analyzer, f"openai structured output ({settings.openai_model})")
    if settings.anthropic_api_key:
        # Only an Anthropic key: the analysis runs on Anthropic too (OpenAI wins when both are
        # set, as it leads the agent's LLM fallback).
        claude = AnthropicAnalyzer.create(
            settings.anthropic_api_key.get_secret_value(),
            settings.anthropic_model,
            settings.anthropic_base_url,
        )
        return Built(claude, f"anthropic tool-use structured output ({settings.anthropic_model})")
    return Built(
        OfflineAnalyzer(), "offline heuristic analyzer (no OPENAI_API_KEY or ANTHROPIC_API_KEY)"
    )


def build_push(settings: Settings, stack: AsyncExitStack) -> Built[PushSender]:
    if settings.uses_production_apns:
        push = ApnsPushSender.production(settings)
        described = f"apns ({'sandbox' if settings.apns_use_sandbox else 'production'})"
    else:
        push = ApnsPushSender.local_from_state(
            settings.state_dir, settings.local_apns_host, settings.local_apns_port
        )
        described = (
            f"local apns endpoint {settings.local_apns_host}:{settings.local_apns_port} "
            "(no APNS_KEY_*)"
        )
    stack.push_async_callback(push.close)
    return Built(push, described)


def build_rooms(settings: Settings, stack: AsyncExitStack) -> Built[RoomService]:
    rooms = LiveKitRooms(
        settings.livekit_url,
        settings.livekit_api_key,
        settings.livekit_api_secret.get_secret_value(),
        departure_timeout_s=settings.livekit_departure_timeout_s,
        public_url=settings.livekit_public_url,
    )
    stack.push_async_callback(rooms.close)
    return Built(rooms, f"livekit at {settings.livekit_url}")


def build_notifier(settings: Settings, stack: AsyncExitStack) -> Built[AppBackendNotifier | None]:
    if not settings.app_backend_webhook_url:
        return Built(None, "none configured (post-call webhook skipped)")
    http = httpx.AsyncClient()
    stack.push_async_callback(http.aclose)
    notifier = SignedWebhookNotifier(
        settings.app_backend_webhook_url, settings.app_backend_webhook_secret, http
    )
    return Built(notifier, f"signed webhook to {settings.app_backend_webhook_url}")


async def build_ports(settings: Settings, stack: AsyncExitStack) -> Ports:
    settings.validate_for_runtime()
    push = build_push(settings, stack)
    rooms = build_rooms(settings, stack)
    notifier = build_notifier(settings, stack)
    records = await build_records(settings, stack)
    memory = await build_memory(settings, stack)
    analyzer = build_analyzer(settings)
    history_import = await build_history_import(settings, stack)
    recordings = build_recordings(settings, stack)
    slots = (
        await build_agent_slots(settings, stack)
        if settings.agent_slots
        else Built(None, "off (CALLFLOW_AGENT_SLOTS=false: phones ring without a held agent)")
    )
    ports = Ports(
        records=records.adapter,
        memory=memory.adapter,
        push=push.adapter,
        rooms=rooms.adapter,
        analyzer=analyzer.adapter,
        notifier=notifier.adapter,
        slots=slots.adapter,
        history_import=history_import.adapter,
        recordings=recordings.adapter,
        descriptions={
            "records": records.description,
            "memory": memory.description,
            "push": push.description,
            "rooms": rooms.description,
            "analysis": analyzer.description,
            "app_backend": notifier.description,
            "agent_slots": slots.description,
            "imports": history_import.description,
            "recordings": recordings.description,
        },
    )
    for port, description in ports.descriptions.items():
        log.info("adapter %-11s %s", port, description)
    return ports


def build_recordings(settings: Settings, stack: AsyncExitStack) -> Built[RecordingStore | None]:
    store = recording_store_from(settings)
    if store is None:
        return Built(None, "off (CALLFLOW_RECORDINGS_S3_ENDPOINT unset: no call is recorded)")
    stack.push_async_callback(store.aclose)
    return Built(store, store.describe())


async def build_history_import(settings: Settings, stack: AsyncExitStack) -> Built[HistoryImport]:
    """The history import's ledger (Postgres at DATABASE_URL) and its ElevenLabs client (built
    when an import first asks, so a worker without ELEVENLABS_API_KEY still imports files)."""
    ledger = None
    if settings.database_url:
        ledger = await PostgresImportLedger.connect(settings.database_url)
        stack.push_async_callback(ledger.close)
    source = "elevenlabs sdk" if settings.elevenlabs_api_key else "no ELEVENLABS_API_KEY"
    where = "ledger in postgres" if ledger else "no ledger (DATABASE_URL unset)"
    return Built(
        HistoryImport(ledger, lambda: ElevenLabsSource.from_settings(settings)),
        f"{where}, {source}",
    )


def activities_for(ports: Ports) -> list[Callable[..., Any]]:
    records = RecordsActivities(ports.records)
    memory = MemoryActivities(ports.memory)
    ring = RingActivities(ports.rooms, ports.push, ports.records)
    rooms = RoomActivities(ports.rooms)
    analysis = AnalysisActivities(ports.analyzer)
    notify = NotifyActivities(ports.notifier)
    slots = SlotActivities(ports.slots)
    # Both records adapters implement the recordings' side of the records port too.
    recordings = RecordingActivities(cast(RecordingRecords, ports.records), ports.recordings)
    return [
        records.load_call_context,
        records.save_call_record,
        records.record_webhook_result,
        memory.fetch_memory,
        memory.write_memory,
        ring.ring,
        ring.withhold_push,
        rooms.close_room,
        rooms.dispatch_agent,
        rooms.probe_room,
        analysis.analyze_call,
        notify.notify_app_backend,
        slots.hold_agent_slot,
        slots.release_agent_slot,
        recordings.delete_expired_recordings,
        *import_activities(ports).all(),
    ]


def import_activities(ports: Ports) -> ImportActivities:
    history = ports.history_import
    return ImportActivities(
        ports.records,
        ports.memory,
        ports.analyzer,
        history.ledger if history else None,
        history.conversations if history else no_conversation_api,
    )


def create_worker(client: Client, ports: Ports, settings: Settings, **options: Any) -> Worker:
    """The worker for `CallWorkflow` and its activities, tuned by `settings` (its task queue and
    slots). `options` are extra `Worker` arguments for tests (never a tuning)."""
    return Worker(
        client,
        task_queue=settings.task_queue,
        workflows=[CallWorkflow, ImportHistoryWorkflow, RecordingCleanupWorkflow],
        activities=activities_for(ports),
        max_concurrent_activities=settings.worker_max_activities,
        max_concurrent_workflow_tasks=settings.worker_max_workflow_tasks,
        max_cached_workflows=settings.worker_max_cached_workflows,
        # Adapter errors -> ApplicationError, once; the call metrics inside it see the
        # adapters' own errors (their HTTP status).
        interceptors=[ErrorEdge(), ActivityMetrics()],
        **options,
    )


async def run_worker(
    settings: Settings, *, ready: Callable[[], Awaitable[None]] | None = None
) -> None:
    """Run the Temporal worker until cancelled."""
    async with AsyncExitStack() as stack:
        client = await connect_temporal(settings)
        ports = await build_ports(settings, stack)
        worker = create_worker(client, ports, settings)
        serve_metrics(settings.metrics_bind)
        log.info(
            "worker polling task queue %r at %s", settings.task_queue, settings.temporal_address
        )
        async with worker:
            if ports.recordings is not None:
                await ensure_cleanup_schedule(client, settings)
            if ready is not None:
                await ready()
            await asyncio.Event().wait()


async def run_worker_from_settings() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    await run_worker(get_settings())


TemporalSource = Client | Callable[[], Awaitable[Client]]


async def build_service_app(
    settings: Settings,
    stack: AsyncExitStack,
    temporal: TemporalSource | None = None,
    records: RecordsStore | None = None,
) -> ASGIApp:
    """The webhook + call API app (with the schedule routes and metrics), as `serve-api` runs it.

    `temporal` is a connected client, or an async factory; by default the client connects on
    first use, so the service starts (and answers 503) while Temporal is still down.
    """
    if records is None:
        records = (await build_records(settings, stack)).adapter
    client: Client | None = temporal if isinstance(temporal, Client) else None
    factory = temporal if callable(temporal) and not isinstance(temporal, Client) else None

    async def connected() -> Client:
        nonlocal client
        if client is None:
            client = await (factory() if factory else connect_temporal(settings))
        return client

    intents = None
    if settings.database_url:
        intents = await PostgresScheduleIntentStore.connect(settings.database_url)
        stack.push_async_callback(intents.close)

    async def manager() -> ScheduleManager:
        return ScheduleManager(await connected(), settings, intents)

    settings.require_production_secrets()
    auth = Authenticator.from_settings(
        settings, settings.livekit_api_key, settings.livekit_api_secret.get_secret_value()
    )
    app = create_app(
        ServiceDeps(
            temporal=client or connected,
            records=records,
            settings=settings,
            authenticator=auth,
            call_cap=await build_call_cap(settings, stack),
        ),
        extra_routes=schedule_routes(
            manager,
            find_user=records.get_user,
            authorize=lambda request: auth.require(request, Scope.SCHEDULES_WRITE),
        ),
    )
    return asgi_metrics_middleware(app, settings)


async def build_call_cap(settings: Settings, stack: AsyncExitStack) -> CallCap:
    """The per-user call cap's store: the records' database (Supabase or DATABASE_URL)."""
    settings.require_supabase()
    cap: PostgresCallCap | SupabaseCallCap
    if settings.supabase_url:
        cap = await SupabaseCallCap.from_settings(settings)
    else:
        cap = await PostgresCallCap.connect(_require_database_url(settings, "call cap"))
    stack.push_async_callback(cap.close)
    return cap


async def build_webhook_app(
    settings: Settings, stack: AsyncExitStack, records: RecordsStore
) -> ASGIApp:
    """The public listener's app (CALLFLOW_WEBHOOK_PORT): LiveKit's webhook and /healthz."""
    client: Client | None = None

    async def connected() -> Client:
        nonlocal client
        if client is None:
            client = await connect_temporal(settings)
        return client

    app = create_webhook_app(ServiceDeps(temporal=connected, records=records, settings=settings))
    return asgi_metrics_middleware(app, settings)
