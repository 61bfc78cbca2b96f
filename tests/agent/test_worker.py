"""`python -m agent.worker start` as a real subprocess: explicit dispatch with the call context
as job metadata, the greeting heard by the phone, and agent_ready/agent_report delivered to a
Temporal workflow."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from livekit import api, rtc
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from agent.worker import agent_command, agent_env
from callflow.local.phone.simulator import ConnectedCall, PhoneSimulator
from callflow.local.phone.voice import AgentListener
from callflow.local.stack.livekit import LocalLiveKit
from callflow.settings import Settings
from tests.agent.conftest import new_room, push_payload
from tests.agent.test_signals import SignalSink

pytestmark = pytest.mark.e2e


async def wait_for_registration(
    proc: subprocess.Popen[bytes], log_path: Path, timeout_s: float
) -> None:
    """A dispatch made before the worker registers is not handed to it later."""
    deadline = time.monotonic() + timeout_s
    while "registered worker" not in log_path.read_text(errors="replace"):
        if proc.poll() is not None:
            raise AssertionError(f"agent worker exited: {log_path.read_text()[-3000:]}")
        if time.monotonic() > deadline:
            raise AssertionError(f"agent worker did not register: {log_path.read_text()[-3000:]}")
        await asyncio.sleep(0.1)


async def test_worker_subprocess_takes_a_dispatched_call(
    livekit_server: LocalLiveKit, time_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    client = time_env.client
    settings = Settings(
        LIVEKIT_URL=livekit_server.url,
        LIVEKIT_API_KEY=livekit_server.api_key,
        LIVEKIT_API_SECRET=livekit_server.api_secret,
        agent_name=f"callflow-agent-{uuid.uuid4().hex[:6]}",
    )
    env = {
        **agent_env(settings),
        "CALLFLOW_AGENT_NAME": settings.agent_name,
        "CALLFLOW_TEMPORAL_ADDRESS": client.service_client.config.target_host,
        "CALLFLOW_TEMPORAL_NAMESPACE": client.namespace,
    }
    log_path = tmp_path / "agent.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            agent_command(),
            env=env,
            cwd=Path(__file__).resolve().parents[2],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        await wait_for_registration(proc, log_path, timeout_s=60)
        async with Worker(client, task_queue="agent-worker-test", workflows=[SignalSink]):
            room = new_room()
            wf_id = f"call-{room}"
            handle = await client.start_workflow(
                SignalSink.run,
                id=wf_id,
                task_queue="agent-worker-test",
                execution_timeout=timedelta(minutes=2),
            )
            metadata = json.dumps(
                {
                    "call_id": room,
                    "workflow_id": wf_id,
                    "user": {"user_id": "user-w", "display_name": "Grace", "timezone": "UTC"},
                    "memory": [],
                    "memory_degraded": True,
                    "due_commitments": [
                        {"commitment_id": "k1", "text": "Write the report", "due_date": None}
                    ],
                    "script": None,
                }
            )
            async with api.LiveKitAPI(
                livekit_server.http_url, livekit_server.api_key, livekit_server.api_secret
            ) as lk:
                await lk.room.create_room(api.CreateRoomRequest(name=room, metadata=metadata))
                await lk.agent_dispatch.create_dispatch(
                    api.CreateAgentDispatchRequest(
                        agent_name=settings.agent_name, room=room, metadata=metadata
                    )
                )

            heard: dict[str, float] = {}

            async def hear_greeting_then_hang_up(r: rtc.Room, call: ConnectedCall) -> None:
                listener = AgentListener(r)
                listener.start()
                try:
                    await listener.wait_for_turn(since=0.0, silence_s=0.8, timeout_s=60)
                    heard["first_voice_at"] = listener.first_voice_at or 0.0
                finally:
                    await listener.aclose()

            phone = PhoneSimulator(on_connected=hear_greeting_then_hang_up, max_call_s=60)
            began = time.time()
            await phone.on_push(push_payload(livekit_server, room, "user-w"))
            phone_log = await phone.wait_for(room, timeout_s=90)
            await phone.close()
            assert phone_log.errors == [], phone_log.errors
            assert heard["first_voice_at"] > began

            # Real time: the signals come from another process, not from workflow timers.
            with time_env.auto_time_skipping_disabled():
                seen = await asyncio.wait_for(handle.result(), 30)
            assert seen[0] == f"{room}:agent_ready"
            assert f"{room}:turn:0" in seen  # the greeting
            assert seen[-1] == f"{room}:agent_report"
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)  # the worker drains and stops its job processes
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
        output = log_path.read_text(errors="replace")
        assert "Traceback" not in output, output[-4000:]
        assert settings.livekit_api_secret.get_secret_value() not in output
