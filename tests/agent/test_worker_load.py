"""What the agent worker reports as its load (livekit-server routes a dispatch only to a worker
whose reported load leaves room, so locally, with no threshold, it must report none), and where
and how warm its calls run: job processes by default, one warm for each call of its capacity."""

from __future__ import annotations

import pytest
from livekit.agents import JobExecutorType, Plugin

from agent.worker import (
    JOB_EXECUTOR_ENV,
    build_server,
    entrypoint,
    job_executor_type,
    no_reported_load,
    plugin_modules,
    prewarm,
    warm_executors,
)
from callflow.settings import ConfigurationError, Settings


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
        _env_file=None, agent_name="callflow-agent-t", agent_idle_processes=2, agent_capacity=3
    )
    server = build_server(settings)
    assert server._entrypoint_fnc is entrypoint
    assert server._agent_name == "callflow-agent-t"
    assert server.setup_fnc is prewarm
    assert server._num_idle_processes == 3  # warm job processes for the whole capacity
    assert server._port == 0


def test_warm_job_processes_cover_the_capacity_or_the_idle_setting_when_larger() -> None:
    def warm(**fields: int) -> int:
        return warm_executors(Settings(_env_file=None, **fields))  # type: ignore[call-arg,arg-type]

    assert warm(agent_capacity=4, agent_idle_processes=1) == 4
    assert warm(agent_capacity=2, agent_idle_processes=6) == 6
    assert warm(agent_capacity=0, agent_idle_processes=1) == 1


def test_calls_run_in_job_processes_unless_the_thread_executor_is_asked_for(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    monkeypatch.delenv(JOB_EXECUTOR_ENV, raising=False)
    assert job_executor_type(settings) is JobExecutorType.PROCESS
    assert build_server(settings)._job_executor_type is JobExecutorType.PROCESS
    monkeypatch.setenv(JOB_EXECUTOR_ENV, "thread")
    assert build_server(settings)._job_executor_type is JobExecutorType.THREAD
    monkeypatch.setenv(JOB_EXECUTOR_ENV, "fibers")
    with pytest.raises(ConfigurationError, match=f"{JOB_EXECUTOR_ENV} is 'fibers'"):
        job_executor_type(settings)


def test_job_processes_inherit_the_call_modules_and_the_plugins_from_the_forkserver() -> None:
    settings = Settings(_env_file=None, CARTESIA_API_KEY="sk_car_test")  # type: ignore[call-arg,arg-type]
    server = build_server(settings)
    assert "agent.worker" in server._preload_modules
    assert "livekit.plugins.silero" in server._preload_modules
    # Imported on the main thread: a job thread cannot register a plugin itself.
    assert plugin_modules(settings) == ["livekit.plugins.silero", "livekit.plugins.cartesia"]
    assert {p.package for p in Plugin.registered_plugins} >= set(plugin_modules(settings))
