"""CPU seconds of each part of the bench over a window, to see which one limits the peak."""

from __future__ import annotations

import time
from dataclasses import dataclass

import psutil


def _cpu_s(process: psutil.Process) -> float:
    try:
        times = process.cpu_times()
    except psutil.Error:  # exited meanwhile: it used nothing more
        return 0.0
    return float(times.user + times.system)


def _machine_busy_s() -> float:
    times = psutil.cpu_times()
    return float(sum(times) - times.idle - getattr(times, "iowait", 0.0))


def _with_children(process: psutil.Process) -> list[psutil.Process]:
    try:
        return [process, *process.children(recursive=True)]
    except psutil.Error:
        return []


@dataclass
class CpuSnapshot:
    at: float
    by_part: dict[str, float]
    machine_busy_s: float


class CpuMeter:
    """Snapshots of named processes, each with its children (Postgres forks one per
    connection), and of the whole machine: what none of the parts used is someone else's."""

    def __init__(self, parts: dict[str, int], *, with_children: frozenset[str] = frozenset()):
        self._parts = {name: psutil.Process(pid) for name, pid in parts.items()}
        self._with_children = with_children

    def snapshot(self) -> CpuSnapshot:
        by_part = {
            name: sum(
                _cpu_s(p)
                for p in (_with_children(process) if name in self._with_children else [process])
            )
            for name, process in self._parts.items()
        }
        return CpuSnapshot(time.monotonic(), by_part, _machine_busy_s())

    @staticmethod
    def between(start: CpuSnapshot, end: CpuSnapshot) -> dict[str, float]:
        """CPU seconds per part, and the machine's busy share of all its cores, in the window."""
        wall = max(end.at - start.at, 1e-9)
        used = {k: round(end.by_part[k] - start.by_part.get(k, 0.0), 2) for k in end.by_part}
        busy = (end.machine_busy_s - start.machine_busy_s) / (wall * (psutil.cpu_count() or 1))
        machine = end.machine_busy_s - start.machine_busy_s
        used["other_processes"] = round(max(0.0, machine - sum(used.values())), 2)
        used["window_s"] = round(wall, 2)
        used["machine_busy_pct"] = round(100 * busy, 1)
        return used
