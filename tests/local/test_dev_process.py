"""The real `callflow dev` in a subprocess owns its children: signalled (SIGTERM, SIGKILL, or
SIGINT when started in the background with SIGINT ignored), it leaves no process it started;
it refuses a fixed port another process holds; it writes the stack's environment to a 0600
file and prints its path."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pytest

from callflow.local.stack.temporal import free_port

pytestmark = pytest.mark.slow
LIVEKIT_BIN = "/root/.cache/callflow/bin/livekit-server-v1.13.5"
READY = "Ctrl-C stops everything."


@dataclass
class DevRun:
    process: subprocess.Popen[bytes]
    state_dir: Path
    stderr_path: Path
    temporal_port: int
    seen: list[psutil.Process] = field(default_factory=list)  # killed at the test's end

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def wait_ready(self, timeout_s: float = 180) -> None:
        deadline = time.monotonic() + timeout_s
        while READY not in self.stderr():
            if self.process.poll() is not None:
                raise AssertionError(f"callflow dev exited early:\n{self.stderr()[-3000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(f"callflow dev not ready:\n{self.stderr()[-3000:]}")
            time.sleep(0.2)

    def started_processes(self) -> list[psutil.Process]:
        """Every process the stack runs: its descendants and the (daemonised) postmaster."""
        found = psutil.Process(self.process.pid).children(recursive=True)
        pid_file = self.state_dir / "dev" / "postgres" / "postmaster.pid"
        found.append(psutil.Process(int(pid_file.read_text().split()[0])))
        self.seen += found
        return found


def _alive(processes: list[psutil.Process]) -> list[str]:
    left = []
    for p in processes:
        try:
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                left.append(f"{p.pid} {' '.join(p.cmdline())[:120]}")
        except psutil.Error:
            continue
    return left


def _wait_all_gone(processes: list[psutil.Process], timeout_s: float) -> list[str]:
    deadline = time.monotonic() + timeout_s
    while (left := _alive(processes)) and time.monotonic() < deadline:
        time.sleep(0.25)
    return left


def _start_dev(
    state_dir: Path, *, ignore_sigint: bool = False, port: int | None = None, agent: bool = False
) -> DevRun:
    temporal_port = port or free_port()
    env = {
        **os.environ,
        "CALLFLOW_STATE_DIR": str(state_dir),
        "CALLFLOW_TEMPORAL_ADDRESS": f"127.0.0.1:{temporal_port}",
        "CALLFLOW_TEMPORAL_UI_URL": f"http://127.0.0.1:{free_port()}",
        "CALLFLOW_API_PORT": str(free_port()),
        "CALLFLOW_LIVEKIT_BIN": os.environ.get("CALLFLOW_LIVEKIT_BIN", LIVEKIT_BIN),
    }

    def background_job() -> None:
        # What a non-interactive shell does to a job started with `&`.
        signal.signal(signal.SIGINT, signal.SIG_IGN)

    stderr_path = state_dir / "dev.stderr"
    with stderr_path.open("wb") as err:
        process = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "callflow"),
                "dev",
                "--agent" if agent else "--no-agent",
            ],
            stdout=subprocess.DEVNULL,
            stderr=err,
            stdin=subprocess.DEVNULL,
            env=env,
            preexec_fn=background_job if ignore_sigint else None,
        )
    return DevRun(process, state_dir, stderr_path, temporal_port)


@pytest.fixture
def state_dir() -> Iterator[Path]:
    # Outside pytest's tmp folder: pytest resets it to 0700, locking out the postgres user.
    path = Path(tempfile.mkdtemp(prefix="callflow-dev-proc-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def runs() -> Iterator[list[DevRun]]:
    """Whatever a test started is killed at its end, even after a failed assertion."""
    started: list[DevRun] = []
    yield started
    for run in started:
        if run.process.poll() is None:
            run.process.terminate()
            run.process.wait(60)
        for p in run.seen:
            try:
                p.kill()
            except psutil.Error:
                pass


def test_sigterm_stops_the_stack_and_its_environment_file_holds_the_secrets(
    state_dir: Path, runs: list[DevRun]
) -> None:
    run = _start_dev(state_dir)
    runs.append(run)
    run.wait_ready()
    processes = run.started_processes()
    assert len(processes) >= 3  # Temporal, livekit-server, the watchdog, Postgres, ...

    env_file = state_dir / "dev" / "dev.env"
    assert str(env_file) in run.stderr() and "<set>" not in run.stderr()
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    env = dict(line.split("=", 1) for line in env_file.read_text().splitlines() if "=" in line)
    secret = env["LIVEKIT_API_SECRET"].strip("'")
    assert len(secret) >= 32
    configs = list((state_dir / "dev").glob("livekit-*.yaml"))
    assert configs and secret in configs[0].read_text()  # the running server's own secret
    assert env["CALLFLOW_TEMPORAL_ADDRESS"] == f"127.0.0.1:{run.temporal_port}"
    assert "DATABASE_URL" in env

    run.process.send_signal(signal.SIGTERM)
    assert run.process.wait(90) == 0, run.stderr()[-3000:]
    assert _wait_all_gone(processes, 15) == []


@pytest.mark.parametrize("agent", [False, True], ids=["servers", "with-agent"])
def test_sigkill_of_callflow_dev_takes_its_servers_with_it(
    state_dir: Path, runs: list[DevRun], agent: bool
) -> None:
    run = _start_dev(state_dir, agent=agent)
    runs.append(run)
    run.wait_ready()
    processes = run.started_processes()
    if agent:  # the agent worker and its idle job processes
        names = " ".join(" ".join(p.cmdline()) for p in processes)
        assert "agent" in names, names

    run.process.kill()
    run.process.wait(10)
    assert _wait_all_gone(processes, 30) == []


def test_sigint_is_honoured_when_started_in_the_background(
    state_dir: Path, runs: list[DevRun]
) -> None:
    run = _start_dev(state_dir, ignore_sigint=True)
    runs.append(run)
    run.wait_ready()
    processes = run.started_processes()

    run.process.send_signal(signal.SIGINT)
    assert run.process.wait(90) == 0, run.stderr()[-3000:]
    assert _wait_all_gone(processes, 15) == []


def test_a_fixed_port_held_by_another_process_is_refused_by_name(
    state_dir: Path, runs: list[DevRun]
) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        run = _start_dev(state_dir, port=port)
        runs.append(run)
        assert run.process.wait(60) == 1
    err = run.stderr()
    assert f"port {port}" in err and f"pid {os.getpid()}" in err, err[-3000:]
    assert not (state_dir / "dev" / "postgres" / "postmaster.pid").exists()  # nothing started
