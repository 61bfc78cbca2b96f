"""The whole local stack on loopback, started in one call.

Embedded Postgres, the Temporal dev server (UI and search attributes), the app backend's local
receiver, the webhook + call API service, `livekit-server --dev` (webhooks to the service), the
local APNs endpoint whose device is the phone simulator, the Temporal worker, and optionally the
voice agent as its own process. Used by `callflow dev`, `callflow demo` and the end-to-end tests.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import subprocess
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr

from callflow.local.app_backend import LocalReceiver, start_local_receiver
from callflow.local.phone.apns_endpoint import LocalApns, start_local_apns
from callflow.local.phone.simulator import PhoneSimulator
from callflow.local.stack.livekit import LocalLiveKit, start_livekit
from callflow.local.stack.postgres import LocalPostgres, start_postgres
from callflow.local.stack.temporal import DevServer, free_port, start_dev_server
from callflow.records.postgres import PostgresRecords
from callflow.runtime import Ports, build_ports, build_service_app, create_worker
from callflow.service import serve
from callflow.settings import Settings
from callflow.temporal_client import connect_temporal

log = logging.getLogger("callflow.local.stack")
LOCAL_LIVEKIT_SECRET_BYTES = 24  # -> 32+ characters, as livekit-server wants


@dataclass
class StackOptions:
    state_dir: Path
    with_agent: bool = False
    temporal_persistent: bool = False  # in-memory is fastest; `callflow dev` keeps a file
    fixed_ports: bool = False  # the configured well-known ports (7233/8233/...) instead of free
    phone_stay_s: float = 3.0
    departure_timeout_s: int = 2
    agent_workers: int = 1  # agent worker processes (with_agent): livekit-server spreads calls


@dataclass
class LocalStack:
    settings: Settings
    postgres: LocalPostgres
    temporal: DevServer
    livekit: LocalLiveKit
    apns: LocalApns
    receiver: LocalReceiver
    phone: PhoneSimulator
    records: PostgresRecords
    api_url: str
    client: Any  # temporalio Client
    ports: Ports  # the adapters the worker uses (the demo reads memory through them)
    agent_process: subprocess.Popen[bytes] | None = None  # the first of agent_processes
    agent_log: Path | None = None
    agent_processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    agent_logs: list[Path] = field(default_factory=list)
    phone_logs: dict[str, Any] = field(default_factory=dict)
    _exit: AsyncExitStack = field(default_factory=AsyncExitStack)

    def ui_link(self, workflow_id: str) -> str:
        ns = self.settings.temporal_namespace
        return f"{self.temporal.ui_url}/namespaces/{ns}/workflows/{workflow_id}"

    def register_phone(self, voip_token: str) -> None:
        """The simulator answers pushes sent to this device token."""
        self.apns.register_device(voip_token, self.phone.on_push)

    async def stop(self) -> None:
        await self._exit.aclose()


def _stack_settings(base: Settings, **updates: Any) -> Settings:
    return base.model_copy(update=updates)


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment that makes a child process read the same settings."""
    env = {
        "CALLFLOW_STATE_DIR": str(settings.state_dir),
        "CALLFLOW_TEMPORAL_ADDRESS": settings.temporal_address,
        "CALLFLOW_TEMPORAL_NAMESPACE": settings.temporal_namespace,
        "CALLFLOW_TASK_QUEUE": settings.task_queue,
        "LIVEKIT_URL": settings.livekit_url,
        "LIVEKIT_API_KEY": settings.livekit_api_key,
        "LIVEKIT_API_SECRET": settings.livekit_api_secret.get_secret_value(),
        "CALLFLOW_AGENT_NAME": settings.agent_name,
    }
    if settings.database_url:
        env["DATABASE_URL"] = settings.database_url
    return env


async def _start_agent(settings: Settings, log_path: Path) -> subprocess.Popen[bytes]:
    from agent.worker import agent_command

    env = {
        **os.environ,
        **settings_env(settings),
        "CALLFLOW_AGENT_IDLE_PROCESSES": str(settings.agent_idle_processes),
    }
    # A fresh log: readiness is read from it, and an old run's "registered worker" must not count.
    out = log_path.open("wb")
    process = subprocess.Popen(
        agent_command(), stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
    )
    # A dispatch made before the worker registered is never delivered: wait for it.
    deadline = asyncio.get_running_loop().time() + 90
    while "registered worker" not in log_path.read_text(errors="replace"):
        if process.poll() is not None:
            raise RuntimeError(f"the agent worker exited early; see {log_path}")
        if asyncio.get_running_loop().time() > deadline:
            process.kill()
            raise TimeoutError(f"the agent worker did not register in 90 s; see {log_path}")
        await asyncio.sleep(0.2)
    return process


def _stop_process(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


async def start_local_stack(base: Settings, options: StackOptions) -> LocalStack:
    state = options.state_dir.resolve()
    state.mkdir(parents=True, exist_ok=True)
    exit_stack = AsyncExitStack()
    try:
        postgres = await start_postgres(state / "postgres")
        exit_stack.callback(postgres.stop)

        temporal_port = (
            int(base.temporal_address.rsplit(":", 1)[1]) if options.fixed_ports else None
        )
        ui_port = int(base.temporal_ui_url.rsplit(":", 1)[1]) if options.fixed_ports else None
        temporal = await start_dev_server(
            state,
            port=temporal_port,
            ui_port=ui_port,
            db_filename=state / "temporal.db" if options.temporal_persistent else None,
            namespace=base.temporal_namespace,
        )
        exit_stack.callback(temporal.stop)

        webhook_secret = base.app_backend_webhook_secret.get_secret_value()
        receiver = await start_local_receiver(webhook_secret)
        exit_stack.push_async_callback(receiver.stop)

        api_port = base.api_port if options.fixed_ports else free_port()
        livekit_secret = secrets.token_urlsafe(LOCAL_LIVEKIT_SECRET_BYTES)
        livekit = await start_livekit(
            state,
            api_key=base.livekit_api_key,
            api_secret=livekit_secret,
            webhook_urls=[f"http://127.0.0.1:{api_port}/livekit/webhook"],
            # A late answer must not re-open a closed attempt's room.
            auto_create_rooms=False,
        )
        exit_stack.callback(livekit.stop)

        apns = await start_local_apns(state)
        exit_stack.push_async_callback(apns.stop)

        settings = _stack_settings(
            base,
            state_dir=state,
            database_url=postgres.dsn,
            temporal_address=temporal.address,
            temporal_ui_url=temporal.ui_url,
            livekit_url=livekit.url,
            livekit_api_secret=SecretStr(livekit_secret),
            local_apns_port=apns.port,
            app_backend_webhook_url=receiver.url,
            api_port=api_port,
            livekit_departure_timeout_s=options.departure_timeout_s,
            # No agent worker, no capacity to hold: such a stack rings phones into silence
            # (and shows it: those calls end `no_agent`).
            agent_slots=base.agent_slots and options.with_agent,
        )

        client = await connect_temporal(settings)
        records = await PostgresRecords.connect(postgres.dsn)
        exit_stack.push_async_callback(records.close)

        app = await build_service_app(settings, exit_stack, temporal=client, records=records)
        api = await serve(app, port=api_port)
        exit_stack.push_async_callback(api.stop)
        api_url = f"http://127.0.0.1:{api_port}"

        http = httpx.AsyncClient()
        exit_stack.push_async_callback(http.aclose)

        async def decline(call_id: str) -> None:
            response = await http.post(f"{api_url}/calls/{call_id}/decline")
            response.raise_for_status()

        phone_logs: dict[str, Any] = {}
        if options.with_agent:
            from callflow.local.phone.voice import phone_app

            rpc_handlers, on_connected, phone_logs = phone_app(voice=settings.phone_voice)
            phone = PhoneSimulator(
                decline=decline, rpc_handlers=rpc_handlers, on_connected=on_connected
            )
        else:
            phone = PhoneSimulator(decline=decline, stay_s=options.phone_stay_s)
        exit_stack.push_async_callback(phone.close)

        ports = await build_ports(settings, exit_stack)
        worker = create_worker(client, ports, settings)
        await exit_stack.enter_async_context(worker)

        stack = LocalStack(
            settings=settings,
            postgres=postgres,
            temporal=temporal,
            livekit=livekit,
            apns=apns,
            receiver=receiver,
            phone=phone,
            records=records,
            api_url=api_url,
            client=client,
            ports=ports,
            phone_logs=phone_logs,
        )
        if options.with_agent:
            # agent.log, then agent-2.log, ...; started together, each waits for its registration.
            stack.agent_logs = [
                state / ("agent.log" if n == 1 else f"agent-{n}.log")
                for n in range(1, max(1, options.agent_workers) + 1)
            ]
            started = await asyncio.gather(
                *(_start_agent(settings, path) for path in stack.agent_logs),
                return_exceptions=True,
            )
            for process in started:
                if isinstance(process, subprocess.Popen):
                    stack.agent_processes.append(process)
                    exit_stack.callback(_stop_process, process)
            failed = [e for e in started if isinstance(e, BaseException)]
            if failed:
                raise failed[0]
            stack.agent_log, stack.agent_process = stack.agent_logs[0], stack.agent_processes[0]
        stack._exit = exit_stack
        return stack
    except BaseException:
        await exit_stack.aclose()
        raise
