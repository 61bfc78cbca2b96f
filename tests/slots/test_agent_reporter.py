"""The agent worker's capacity reports (agent/worker.py) against the real Postgres, and the one
place the slots adapter is chosen (callflow.runtime.build_agent_slots)."""

from __future__ import annotations

import asyncio
import logging
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any, cast

import asyncpg
import pytest
from livekit.agents import AgentServer
from pydantic import SecretStr, ValidationError

from agent.worker import CapacityReporter, build_server, capacity_report, report_capacity
from callflow.local.stack.postgres import LocalPostgres
from callflow.ports import AgentSlots, AgentWorkerReport, SlotGrant, SlotRequest
from callflow.runtime import build_agent_slots
from callflow.settings import ConfigurationError, Settings
from callflow.slots.errors import SlotsUnavailable
from callflow.slots.postgres import PostgresAgentSlots
from callflow.slots.supabase import SupabaseAgentSlots
from tests.records.postgrest_server import PostgrestServer
from tests.slots.conftest import SERVICE_KEY


@dataclass
class FakeServer:
    """What the reporter reads of an AgentServer."""

    active_jobs: list[object] = field(default_factory=list)
    draining: bool = False
    handlers: dict[str, list[Any]] = field(default_factory=dict)

    def on(self, event: str, callback: Any) -> None:
        self.handlers.setdefault(event, []).append(callback)


def settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


async def worker_row(db: asyncpg.Connection, worker_id: str) -> asyncpg.Record | None:
    return await db.fetchrow(
        "select capacity, active, extract(epoch from expires_at - reported_at) as ttl"
        " from agent_workers where worker_id = $1",
        worker_id,
    )


async def test_one_report_writes_the_workers_row(
    pg_slots: PostgresAgentSlots, db: asyncpg.Connection
) -> None:
    config = settings(agent_capacity=3, agent_report_interval_s=5.0)
    await report_capacity(pg_slots, config, capacity_report("w-1", config, active=1))
    row = await worker_row(db, "w-1")
    assert row is not None and (row["capacity"], row["active"]) == (3, 1)
    assert float(row["ttl"]) == pytest.approx(15.0)  # three report intervals


async def test_the_reporter_says_how_many_calls_it_is_in_and_nothing_while_draining(
    pg_slots: PostgresAgentSlots, db: asyncpg.Connection
) -> None:
    server = FakeServer(active_jobs=[object(), object()])
    reporter = CapacityReporter(
        cast(AgentServer, server), settings(), worker_id="w-2", slots=pg_slots
    )
    assert await reporter.report_once(pg_slots)
    row = await worker_row(db, "w-2")
    assert row is not None and (row["capacity"], row["active"]) == (4, 2)  # the default: 4

    server.draining = True
    assert await reporter.report_once(pg_slots)
    row = await worker_row(db, "w-2")
    assert row is not None and (row["capacity"], row["active"]) == (0, 2)


async def test_the_reporter_runs_from_worker_started_and_withdraws_on_shutdown(
    pg_slots: PostgresAgentSlots, db: asyncpg.Connection
) -> None:
    server = FakeServer()
    reporter = CapacityReporter(
        cast(AgentServer, server),
        settings(agent_report_interval_s=0.05),
        worker_id="w-3",
        slots=pg_slots,
    )
    reporter.attach()
    [started] = server.handlers["worker_started"]
    started()  # what AgentServer.run emits once its process pool is up
    started()  # a second emit starts no second task
    task = reporter._task
    assert task is not None
    for _ in range(100):
        if await worker_row(db, "w-3") is not None:
            break
        await asyncio.sleep(0.02)
    server.active_jobs.append(object())
    await asyncio.sleep(0.2)
    row = await worker_row(db, "w-3")
    assert row is not None and (row["capacity"], row["active"]) == (4, 1)
    grant = await pg_slots.acquire(SlotRequest("call-r", "u", "2030-01-01T00:00:00+00:00", 60))
    assert grant.granted and grant.capacity == 4

    task.cancel()  # the CLI cancels the loop's leftover tasks after server.aclose()
    await asyncio.gather(task, return_exceptions=True)
    row = await worker_row(db, "w-3")
    assert row is not None and row["capacity"] == 0


async def test_the_agent_server_starts_the_reporter_on_worker_started() -> None:
    server = build_server(settings())
    handlers = list(server._events["worker_started"])
    # The capacity reporter, and the agent's metrics endpoint (callflow/monitoring).
    owners = [type(getattr(h, "__self__", None)) for h in handlers]
    assert owners.count(CapacityReporter) == 1 and len(handlers) == 2


async def test_the_reporter_builds_its_store_from_the_settings(
    area_database: LocalPostgres, db: asyncpg.Connection, pg_slots: PostgresAgentSlots
) -> None:
    config = settings(DATABASE_URL=area_database.dsn, agent_report_interval_s=0.05)
    reporter = CapacityReporter(cast(AgentServer, FakeServer()), config, worker_id="w-4")
    task = asyncio.create_task(reporter.run())
    try:
        for _ in range(200):
            if await worker_row(db, "w-4") is not None:
                break
            await asyncio.sleep(0.05)
        assert await worker_row(db, "w-4") is not None
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_without_a_store_the_reporter_says_so_and_the_worker_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    reporter = CapacityReporter(cast(AgentServer, FakeServer()), settings())
    with caplog.at_level(logging.ERROR, logger="callflow.agent.worker"):
        await asyncio.wait_for(reporter.run(), 10)  # returns, raises nothing
    [record] = caplog.records
    assert "DATABASE_URL" in record.getMessage() and "SUPABASE_URL" in record.getMessage()
    assert record.exc_info is None  # one line, no traceback in the agent's log


class Failing:
    def __init__(self) -> None:
        self.calls = 0

    async def report_worker(self, report: AgentWorkerReport, ttl_s: float) -> None:
        self.calls += 1
        raise SlotsUnavailable("agent slots store unreachable during report_worker: OSError")

    async def acquire(self, request: SlotRequest) -> SlotGrant:
        raise NotImplementedError

    async def renew(self, call_id: str, hold_s: float) -> bool:
        raise NotImplementedError

    async def release(self, call_id: str) -> None:
        raise NotImplementedError


async def test_a_failing_store_is_logged_once_and_retried(
    caplog: pytest.LogCaptureFixture,
) -> None:
    failing = Failing()
    store = cast(AgentSlots, failing)
    reporter = CapacityReporter(cast(AgentServer, FakeServer()), settings(), slots=store)
    with caplog.at_level(logging.INFO, logger="callflow.agent.worker"):
        assert not await reporter.report_once(store)
        assert not await reporter.report_once(store)
    assert failing.calls == 2
    assert [r.levelname for r in caplog.records] == ["WARNING"]


async def test_build_agent_slots_chooses_supabase_then_postgres_else_says_what_to_set(
    area_database: LocalPostgres, postgrest: PostgrestServer
) -> None:
    async with AsyncExitStack() as stack:
        with pytest.raises(ConfigurationError, match="SUPABASE_URL nor DATABASE_URL"):
            await build_agent_slots(settings(), stack)
        with pytest.raises(ConfigurationError, match="SUPABASE_SERVICE_ROLE_KEY"):
            await build_agent_slots(settings(SUPABASE_URL=postgrest.url), stack)

        built = await build_agent_slots(settings(DATABASE_URL=area_database.dsn), stack)
        assert isinstance(built.adapter, PostgresAgentSlots)
        assert built.description == "postgres (DATABASE_URL)"

        both = settings(
            SUPABASE_URL=postgrest.url,
            SUPABASE_SERVICE_ROLE_KEY=SecretStr(SERVICE_KEY),
            DATABASE_URL=area_database.dsn,
        )
        built = await build_agent_slots(both, stack)
        assert isinstance(built.adapter, SupabaseAgentSlots)
        assert SERVICE_KEY not in built.description
        await built.adapter.report_worker(AgentWorkerReport("w-5", capacity=1), 5.0)


def test_the_settings_and_their_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    defaults = settings()
    assert (defaults.agent_capacity, defaults.agent_report_interval_s) == (4, 5.0)
    monkeypatch.setenv("CALLFLOW_AGENT_CAPACITY", "12")
    monkeypatch.setenv("CALLFLOW_AGENT_REPORT_INTERVAL_S", "2.5")
    assert (settings().agent_capacity, settings().agent_report_interval_s) == (12, 2.5)
    with pytest.raises(ValidationError):
        settings(agent_capacity=-1)
    with pytest.raises(ValidationError):
        settings(agent_report_interval_s=0)
