"""The real parts a bench runs against, started on loopback and stopped together.

Embedded Postgres, the Temporal dev server (in-memory or on a SQLite file), the local APNs
endpoint, livekit-server, and the worker in its own process (see worker_process.py).
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from temporalio.client import Client

from callflow.local.bench.cpu import CpuMeter
from callflow.local.bench.errors import BenchSetupError
from callflow.local.phone.apns_endpoint import LocalApns, start_local_apns
from callflow.local.stack.livekit import LocalLiveKit, start_livekit
from callflow.local.stack.postgres import LocalPostgres, start_scratch_postgres
from callflow.local.stack.temporal import DevServer, free_port, start_dev_server, venv_bin
from callflow.memory.postgres import PostgresMemory
from callflow.records.postgres import PostgresRecords
from callflow.settings import Settings, settings_env_names
from callflow.telemetry import sdk_runtime

Persistence = Literal["memory", "file"]
PERSISTENCE_NAMES: dict[str, str] = {"memory": "in-memory", "file": "SQLite file"}
BENCH_TASK_QUEUE = "callflow-bench"
_REPO_ROOT = Path(__file__).resolve().parents[3]
_WORKER_READY_TIMEOUT_S = 60.0
_AGENT_READY_TIMEOUT_S = 90.0


# The dev server keeps 512 workflows' mutable state in its history cache by default; past that
# every fired timer of a 1,000-call peak reloads a history from the store.
PEAK_DYNAMIC_CONFIG = {"history.cacheMaxSize": "8192", "history.cacheInitialSize": "1024"}


@dataclass
class WorkerProcess:
    process: asyncio.subprocess.Process
    log_path: Path
    usage: dict[str, float] = field(default_factory=dict)
    _reader: asyncio.Task[None] | None = None

    @property
    def pid(self) -> int:
        return self.process.pid

    def drain_stdout(self) -> None:
        """Keep reading the worker's stdout so it can never block on a full pipe; the last JSON
        line it prints (its resource usage) becomes `usage`."""
        self._reader = asyncio.create_task(self._read_lines())

    async def _read_lines(self) -> None:
        assert self.process.stdout is not None
        async for raw in self.process.stdout:
            line = raw.decode(errors="replace").strip()
            if line.startswith("{"):
                try:
                    self.usage = json.loads(line)
                except json.JSONDecodeError:
                    continue

    async def stop(self) -> None:
        """Close stdin (the stop signal) and wait for the worker's resource usage line."""
        if self.process.returncode is None and self.process.stdin is not None:
            self.process.stdin.close()
        try:
            await asyncio.wait_for(self.process.wait(), timeout=30)
            if self._reader is not None:
                await asyncio.wait_for(self._reader, timeout=10)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()


@dataclass
class AgentProcess:
    process: subprocess.Popen[bytes]
    log_path: Path
    capacity: int

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


async def start_agent_process(settings: Settings, capacity: int, log_path: Path) -> AgentProcess:
    """The voice agent worker (`agent.worker.agent_command()`) with `capacity` calls at once,
    as many job processes kept warm; it reports its capacity into the bench's Postgres."""
    from agent.worker import agent_command
    from callflow.local.stack.local import settings_env

    env = {
        **_worker_env(),
        **settings_env(settings),
        "CALLFLOW_AGENT_CAPACITY": str(capacity),
        "CALLFLOW_AGENT_IDLE_PROCESSES": str(capacity),
    }
    out = log_path.open("wb")  # fresh: readiness is read from it
    process = subprocess.Popen(
        agent_command(), stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
    )
    agent = AgentProcess(process, log_path, capacity)
    # A dispatch made before the worker registered is never delivered: wait for it.
    deadline = time.monotonic() + _AGENT_READY_TIMEOUT_S
    while "registered worker" not in log_path.read_text(errors="replace"):
        if process.poll() is not None or time.monotonic() > deadline:
            agent.stop()
            tail = log_path.read_text(errors="replace")[-3000:]
            raise BenchSetupError(
                f"the agent worker did not register; its log ({log_path}):\n{tail}"
            )
        await asyncio.sleep(0.2)
    return agent


@dataclass
class BenchStack:
    state_dir: Path
    postgres: LocalPostgres
    temporal: DevServer
    temporal_version: str
    persistence: Persistence
    apns: LocalApns
    livekit: LocalLiveKit
    records: PostgresRecords
    memory: PostgresMemory
    client: Client
    worker: WorkerProcess
    worker_settings: dict[str, Any]  # Settings fields the worker process runs with
    task_queue: str = BENCH_TASK_QUEUE
    # With agents: the voice agent worker (its capacity reported into Postgres) and the
    # webhook service LiveKit reports joins and room ends to, as in production.
    agent: AgentProcess | None = None

    def cpu_meter(self) -> CpuMeter:
        """CPU of every part: this process (the phones, APNs endpoint and client), the worker,
        the Temporal server, livekit-server and Postgres (with its per-connection backends)."""
        pids = {
            "bench_process": os.getpid(),
            "worker": self.worker.pid,
            "temporal": self.temporal.process.pid,
            "livekit": self.livekit.process.pid,
            "postgres": postmaster_pid(self.postgres.data_dir),
        }
        if self.agent is not None:
            # Its main process only: a job process that exits in the window takes its CPU
            # time with it, which would make a tree's figure go negative.
            pids["agent_main_process"] = self.agent.process.pid
        return CpuMeter(pids, with_children=frozenset({"postgres"}))

    def temporal_description(self) -> dict[str, Any]:
        return {
            "server": f"temporal server start-dev ({self.temporal_version})",
            "persistence": PERSISTENCE_NAMES[self.persistence],
            "address": self.temporal.address,
        }


def _pythonpath() -> str:
    # The worker imports the repository's top-level modules (worker.py) whatever its cwd.
    entries = [os.environ.get("PYTHONPATH", ""), str(_REPO_ROOT)]
    return os.pathsep.join(e for e in entries if e)


def postmaster_pid(data_dir: Path) -> int:
    """The Postgres server's pid: the first line of its data dir's postmaster.pid."""
    try:
        return int((data_dir / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError) as e:
        raise BenchSetupError(f"cannot read the Postgres pid from {data_dir}: {e}") from e


def temporal_version() -> str:
    result = subprocess.run(
        [str(venv_bin("temporal")), "--version"],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    return result.stdout.strip().removeprefix("temporal version ") or "unknown version"


def _worker_env() -> dict[str, str]:
    # The worker reads only the settings the bench gives it: a developer's DATABASE_URL or
    # SUPABASE_URL in this shell must not point the bench's worker at their services.
    ours = settings_env_names()
    env = {k: v for k, v in os.environ.items() if k not in ours}
    return {**env, "PYTHONPATH": _pythonpath()}


async def start_worker_process(worker_settings: dict[str, Any], log_path: Path) -> WorkerProcess:
    """Start the production worker with these Settings fields in its own process."""
    Settings(_env_file=None, **worker_settings)  # type: ignore[call-arg]  # fail here, not there
    with log_path.open("ab") as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "callflow.local.bench.worker_process",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=log,
            cwd=_REPO_ROOT,
            env=_worker_env(),
        )
    worker = WorkerProcess(process, log_path)
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(json.dumps(worker_settings).encode() + b"\n")
    await process.stdin.drain()
    try:
        line = await asyncio.wait_for(process.stdout.readline(), _WORKER_READY_TIMEOUT_S)
    except TimeoutError:
        line = b""
    if not line.startswith(b'{"ready": true'):
        if process.returncode is None:
            process.kill()
        await process.wait()
        tail = log_path.read_text(errors="replace")[-3000:]
        raise BenchSetupError(f"the bench worker did not start; its log ({log_path}):\n{tail}")
    worker.drain_stdout()
    return worker


@asynccontextmanager
async def bench_stack(
    *,
    persistence: Persistence = "memory",
    agents: int = 0,
    worker_overrides: dict[str, Any] | None = None,
) -> AsyncIterator[BenchStack]:
    """Start every part on loopback; stop them all (and delete their state) on exit. With
    `agents` > 0 also the voice agent worker of that capacity and the webhook service.
    `worker_overrides`: Settings fields the worker runs with instead of production's."""
    if persistence not in PERSISTENCE_NAMES:
        raise BenchSetupError(
            f"persistence is {persistence!r}: pass 'memory' (in-memory Temporal) or 'file' "
            "(Temporal on a SQLite file)"
        )
    state_dir = Path(tempfile.mkdtemp(prefix="callflow-bench-"))
    async with AsyncExitStack() as stack:
        stack.callback(shutil.rmtree, state_dir, True)
        postgres = await start_scratch_postgres(prefix="callflow-bench-pg-")
        stack.callback(postgres.stop)
        db_file = state_dir / "temporal.sqlite" if persistence == "file" else None
        temporal = await start_dev_server(
            state_dir / "temporal", db_filename=db_file, dynamic_config=PEAK_DYNAMIC_CONFIG
        )
        stack.callback(temporal.stop)
        apns = await start_local_apns(state_dir)
        stack.push_async_callback(apns.stop)
        # Without agents the bench's phones signal the workflows themselves; with agents
        # LiveKit's webhooks do, through the webhook service (as in production).
        api_port = free_port() if agents else None
        livekit = await start_livekit(
            state_dir / "livekit",
            api_key="callflow-bench",
            api_secret=secrets.token_urlsafe(36),
            webhook_urls=[f"http://127.0.0.1:{api_port}/livekit/webhook"] if api_port else [],
            auto_create_rooms=not agents,  # a late answer must not re-open a closed room
            log_level="warn",
        )
        stack.callback(livekit.stop)
        records = await PostgresRecords.connect(postgres.dsn, max_size=20)
        stack.push_async_callback(records.close)
        memory = await PostgresMemory.connect(postgres.dsn, max_size=10)
        stack.push_async_callback(memory.close)
        client = await Client.connect(temporal.address, runtime=sdk_runtime())
        # Production defaults except what points at this stack (and no post-call webhook).
        worker_settings: dict[str, Any] = {
            "temporal_address": temporal.address,
            "temporal_namespace": client.namespace,
            "task_queue": BENCH_TASK_QUEUE,
            "database_url": postgres.dsn,
            "livekit_url": livekit.url,
            "livekit_api_key": livekit.api_key,
            "livekit_api_secret": livekit.api_secret,
            "state_dir": str(state_dir),
            "local_apns_host": apns.host,
            "local_apns_port": apns.port,
            **(worker_overrides or {}),
        }
        worker = await start_worker_process(worker_settings, state_dir / "worker.log")
        stack.push_async_callback(worker.stop)
        agent = None
        if agents:
            settings = Settings(_env_file=None, **worker_settings)  # type: ignore[call-arg]
            await _serve_webhooks(stack, settings, client, records, api_port or free_port())
            agent = await start_agent_process(settings, agents, state_dir / "agent.log")
            stack.callback(agent.stop)
        yield BenchStack(
            state_dir=state_dir,
            postgres=postgres,
            temporal=temporal,
            temporal_version=temporal_version(),
            persistence=persistence,
            apns=apns,
            livekit=livekit,
            records=records,
            memory=memory,
            client=client,
            worker=worker,
            worker_settings=worker_settings,
            agent=agent,
        )


async def _serve_webhooks(
    stack: AsyncExitStack,
    settings: Settings,
    client: Client,
    records: PostgresRecords,
    port: int,
) -> None:
    """The webhook + call API service as `serve-api` runs it, for LiveKit's webhooks."""
    from callflow.runtime import build_service_app
    from callflow.service import serve

    app = await build_service_app(settings, stack, temporal=client, records=records)
    api = await serve(app, port=port)
    stack.push_async_callback(api.stop)
