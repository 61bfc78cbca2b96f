"""What the agent worker reports as its load: livekit-server routes a dispatch only to a worker
whose reported load leaves room, so locally (no threshold) it must report none."""

from __future__ import annotations

from livekit.agents import WorkerOptions

from agent.worker import no_reported_load, worker_options
from callflow.settings import Settings


def test_a_local_worker_reports_no_load_so_the_server_always_dispatches() -> None:
    options = worker_options(Settings(_env_file=None))  # type: ignore[call-arg]
    assert options.load_fnc is no_reported_load
    assert no_reported_load() == 0.0


def test_a_worker_with_a_threshold_keeps_livekits_cpu_load_as_back_pressure() -> None:
    settings = Settings(_env_file=None, agent_load_threshold=0.8)  # type: ignore[call-arg]
    options = worker_options(settings)
    assert options.load_fnc is WorkerOptions.load_fnc  # livekit's own CPU-average default
    assert options.load_threshold == 0.8
