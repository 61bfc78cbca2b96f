"""A watchdog that stops a dev stack's servers when the process that started them dies.

`callflow dev` starts Temporal, livekit-server, Postgres (daemonised by pg_ctl, so not even its
child), the agent and the agent's job processes. A SIGKILL of `callflow dev` runs none of its
clean-up, and the servers, re-parented to PID 1, would keep the fixed ports. So `Reaper` starts
this module as a separate process (`python -m callflow.local.stack.reaper`) and tells it, over
its stdin, every process to stop (`pid create_time signal` per line): the stack's descendants,
snapshotted every second (the agent's job processes come and go), and the postmaster. The
pipe's end, however the parent ended (return, Ctrl-C, SIGKILL), makes the watchdog signal each
process still alive (matched by creation time, so a reused pid is never hit), wait, then
SIGKILL the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
import sys
from pathlib import Path

import psutil

GRACE_S = 10.0
SNAPSHOT_EVERY_S = 1.0


class Reaper:
    """The parent's side: start the watchdog, tell it what to stop, close it at the end."""

    def __init__(self, postmaster_pid_file: Path | None = None) -> None:
        self._postmaster_pid_file = postmaster_pid_file
        self._told: set[tuple[int, float]] = set()
        self._process: subprocess.Popen[bytes] | None = None
        self._snapshots: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "callflow.local.stack.reaper"],
            stdin=subprocess.PIPE,
            # Its own session: a Ctrl-C at the terminal reaches `callflow dev`, which stops
            # the stack in order; the watchdog only mops up after it.
            start_new_session=True,
        )
        self._snapshots = asyncio.get_running_loop().create_task(self._snapshot_forever())

    def watch_now(self) -> None:
        """Tell the watchdog about every process of the stack alive at this moment."""
        if self._process is None or self._process.stdin is None:
            return
        me = psutil.Process()
        found: list[tuple[psutil.Process, int]] = []
        with contextlib.suppress(psutil.Error):
            found += [
                (p, signal.SIGTERM)
                for p in me.children(recursive=True)
                if p.pid != self._process.pid
            ]
        postmaster = self._postmaster()
        if postmaster is not None:
            found.append((postmaster, signal.SIGINT))  # Postgres' fast shutdown
        lines = []
        for process, sig in found:
            try:
                key = (process.pid, process.create_time())
            except psutil.Error:
                continue
            if key not in self._told:
                self._told.add(key)
                lines.append(f"{key[0]} {key[1]!r} {int(sig)}\n")
        if lines:
            with contextlib.suppress(OSError):
                self._process.stdin.write("".join(lines).encode())
                self._process.stdin.flush()

    def _postmaster(self) -> psutil.Process | None:
        path = self._postmaster_pid_file
        if path is None or not path.exists():
            return None
        try:
            return psutil.Process(int(path.read_text().split()[0]))
        except (OSError, ValueError, IndexError, psutil.Error):
            return None

    async def _snapshot_forever(self) -> None:
        while True:
            self.watch_now()
            await asyncio.sleep(SNAPSHOT_EVERY_S)

    async def close(self) -> None:
        """After the stack stopped: the watchdog stops anything left, then exits."""
        if self._snapshots is not None:
            self._snapshots.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._snapshots
        if self._process is None:
            return
        if self._process.stdin is not None:
            with contextlib.suppress(OSError):
                self._process.stdin.close()
        await asyncio.to_thread(self._process.wait, GRACE_S * 2 + 5)


def _alive(pid: int, created: float) -> psutil.Process | None:
    try:
        process = psutil.Process(pid)
        return process if abs(process.create_time() - created) < 0.01 else None
    except psutil.Error:
        return None


def reap(watched: dict[tuple[int, float], int], grace_s: float = GRACE_S) -> None:
    """Signal every watched process still alive, wait up to `grace_s`, SIGKILL the rest."""
    targets = []
    for (pid, created), sig in watched.items():
        process = _alive(pid, created)
        if process is not None:
            with contextlib.suppress(psutil.Error):
                process.send_signal(sig)
                targets.append(process)
    _, alive = psutil.wait_procs(targets, timeout=grace_s)
    for process in alive:
        with contextlib.suppress(psutil.Error):
            process.kill()
    psutil.wait_procs(alive, timeout=5)


def main() -> None:
    # Only the pipe's end stops this process: a signal meant for the stack must not.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    watched: dict[tuple[int, float], int] = {}
    for line in sys.stdin.buffer:
        with contextlib.suppress(ValueError):
            pid, created, sig = line.split()
            watched[(int(pid), float(created))] = int(sig)
    reap(watched)


if __name__ == "__main__":
    main()
