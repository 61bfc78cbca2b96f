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

from callflow.codec.local import codec_endpoint_of, local_codec_settings
from callflow.codec.server import app_from_settings as codec_app
from callflow.local.app_backend import LocalReceiver, start_local_receiver
from callflow.local.phone.apns_endpoint import LocalApns, start_local_apns
from callflow.local.phone.simulator import PhoneSimulator
from callflow.local.stack.api_keys import LocalApiKeys, bearer
from callflow.local.stack.livekit import LocalLiveKit, start_livekit
from callflow.local.stack.port_guard import ensure_port_free
from callflow.local.stack.postgres import LocalPostgres, start_postgres
from callflow.local.stack.s3 import LocalS3, start_s3
from callflow.local.stack.temporal import DevServer, free_port, start_dev_server
from callflow.recordings.retention import ensure_cleanup_schedule
from callflow.recordings.s3 import S3RecordingStore
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
    recordings: bool = True  # a local S3 server for call recordings (consenting users only)


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
    s3: LocalS3 | None = None  # the recordings' S3 server (StackOptions.recordings)
    # This stack's call API keys (generated at start); `api_client()` sends the app backend's.
    api_keys: LocalApiKeys = field(default_factory=LocalApiKeys.generate)
    _exit: AsyncExitStack = field(default_factory=AsyncExitStack)

    def api_client(self, *, operator: bool = False, timeout: float = 30) -> httpx.AsyncClient:
        """An HTTP client of the call API authenticated as the app backend (or the operator)."""
        key = self.api_keys.operator if operator else self.api_keys.app_backend
        return httpx.AsyncClient(base_url=self.api_url, headers=bearer(key), timeout=timeout)

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
    if settings.recordings_s3_endpoint and settings.recordings_s3_secret_key:
        env["CALLFLOW_RECORDINGS_S3_ENDPOINT"] = settings.recordings_s3_endpoint
        env["CALLFLOW_RECORDINGS_S3_BUCKET"] = settings.recordings_s3_bucket
        env["CALLFLOW_RECORDINGS_S3_REGION"] = settings.recordings_s3_region
        env["CALLFLOW_RECORDINGS_S3_ACCESS_KEY"] = settings.recordings_s3_access_key or ""
        env["CALLFLOW_RECORDINGS_S3_SECRET_KEY"] = (
            settings.recordings_s3_secret_key.get_secret_value()
        )
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


def _ensure_fixed_ports_free(base: Settings) -> None:
    """Before starting anything: a fixed port someone holds is an error naming the holder."""
    ensure_port_free(int(base.temporal_address.rsplit(":", 1)[1]), "the Temporal dev server")
    ensure_port_free(int(base.temporal_ui_url.rsplit(":", 1)[1]), "the Temporal UI")
    ensure_port_free(base.api_port, "the call API")


async def start_local_stack(base: Settings, options: StackOptions) -> LocalStack:
    state = options.state_dir.resolve()
    state.mkdir(parents=True, exist_ok=True)
    if options.fixed_ports:
        _ensure_fixed_ports_free(base)
    exit_stack = AsyncExitStack()
    try:
        postgres = await start_postgres(state / "postgres")
        exit_stack.callback(postgres.stop)

        temporal_port = (
            int(base.temporal_address.rsplit(":", 1)[1]) if options.fixed_ports else None
        )
        ui_port = int(base.temporal_ui_url.rsplit(":", 1)[1]) if options.fixed_ports else None
        # With the codec on, the codec server serves the UI on its own origin and the UI's
        # codec is its /codec, so signed-in operators read decoded calls (codec/ui_gateway.py).
        codec = local_codec_settings(base, options.fixed_ports)
        temporal = await start_dev_server(
            state,
            port=temporal_port,
            ui_port=ui_port,
            db_filename=state / "temporal.db" if options.temporal_persistent else None,
            namespace=base.temporal_namespace,
            ui_codec_endpoint=codec_endpoint_of(codec),
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

        s3 = await start_s3(state) if options.recordings else None
        recordings: dict[str, Any] = {}
        if s3 is not None:
            exit_stack.callback(s3.stop)
            recordings = {
                "recordings_s3_endpoint": s3.endpoint,
                "recordings_s3_region": s3.region,
                "recordings_s3_access_key": s3.access_key,
                "recordings_s3_secret_key": SecretStr(s3.secret_key),
            }

        api_keys = LocalApiKeys.generate()
        api_keys.write_operator_key(state)
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
            api_keys=SecretStr(api_keys.setting()),
            api_key=SecretStr(api_keys.operator),
            livekit_departure_timeout_s=options.departure_timeout_s,
            # No agent worker, no capacity to hold: such a stack rings phones into silence
            # (and shows it: those calls end `no_agent`).
            agent_slots=base.agent_slots and options.with_agent,
            **recordings,
            **({**codec, "codec_ui_upstream": temporal.ui_url} if codec else {}),
        )
        if codec:
            codec_gateway = await serve(codec_app(settings), port=settings.codec_server_port)
            exit_stack.push_async_callback(codec_gateway.stop)

        client = await connect_temporal(settings)
        records = await PostgresRecords.connect(postgres.dsn)
        exit_stack.push_async_callback(records.close)

        app = await build_service_app(settings, exit_stack, temporal=client, records=records)
        api = await serve(app, port=api_port)
        exit_stack.push_async_callback(api.stop)
        api_url = f"http://127.0.0.1:{api_port}"

        http = httpx.AsyncClient()
        exit_stack.push_async_callback(http.aclose)

        async def decline(call_id: str, room_token: str) -> None:
            # As the iOS app does: proven with the room token its VoIP push carried.
            response = await http.post(
                f"{api_url}/calls/{call_id}/decline", headers=bearer(room_token)
            )
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
        if isinstance(ports.recordings, S3RecordingStore):
            await ports.recordings.ensure_bucket()
            await ensure_cleanup_schedule(client, settings)

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
            api_keys=api_keys,
            s3=s3,
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
