"""What the agent worker reports as its load: livekit-server routes a dispatch only to a worker
whose reported load leaves room, so locally (no threshold) it must report none."""

from __future__ import annotations

from agent.worker import build_server, entrypoint, no_reported_load, prewarm
from callflow.settings import Settings


def test_a_local_worker_reports_no_load_so_the_server_always_dispatches() -> None:
    server = build_server(Settings(_env_file=None))  # type: ignore[call-arg]
    assert server.load_fnc is no_reported_load
    assert no_reported_load() == 0.0


def test_a_worker_with_a_threshold_keeps_livekits_cpu_load_as_back_pressure() -> None:
    settings = Settings(_env_file=None, agent_load_threshold=0.8)  # type: ignore[call-arg]
    server = build_server(settings)
    assert server.load_fnc is None  # AgentServer.run falls back to livekit's CPU average
    assert server._load_threshold == 0.8


def test_the_server_runs_the_call_entrypoint_for_explicit_dispatches_only() -> None:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, agent_name="callflow-agent-t", agent_idle_processes=2
    )
    server = build_server(settings)
    assert server._entrypoint_fnc is entrypoint
    assert server._agent_name == "callflow-agent-t"
    assert server.setup_fnc is prewarm
    assert server._num_idle_processes == 2
    assert server._port == 0
