"""`callflow bench agent`: M calls with the voice agent through the real local stack, N at a
time, and what the user waits for in them and what each costs the agent.

- `first_audio_ms`: the phone joined the room -> the phone heard the agent's first audio frame
  (the phone simulator's own clock, from its CallLog).
- `turn_latency_ms`: for each agent turn that answers the user, the user's end of speech -> the
  agent's first audio frame out, as the agent reports it to the workflow (its `agent_report`
  signal, read from the history); `turn_overhead_ms` is what our code (and the framework's glue)
  adds to it beyond end-of-utterance + LLM time to first token + TTS time to first byte.
- `agent_rss_per_call_mb`: (peak - before the first call) resident memory of the agent
  worker(s) and their job processes, per peak concurrent call. Resident memory is PSS: pages a
  forkserver shares copy-on-write with every job process are split among them, so the sum over
  the processes is the machine memory they take (plain RSS would count them once per process).
- `agent_cpu_s_per_call_minute`: CPU seconds of the agent worker(s), their job processes and
  the espeak-ng processes those start, from the first call placed to the last one done, per
  minute of call (phone joined -> phone left, summed over the calls).
- `audio_gaps_per_call`: silences inside an agent turn, as the phone heard them, longer than
  the offline voice's own longest pause plus 100 ms (see `gap_threshold_s`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import shutil
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

import numpy as np
import psutil
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from agent.offline.espeak import synthesize
from agent.worker import job_executor_type, warm_executors
from callflow.local.bench.errors import BenchInputError, BenchSetupError
from callflow.local.bench.stats import percentile
from callflow.local.demo import run_call, seed_user
from callflow.local.phone.voice import SAMPLES_PER_FRAME, VOICE_PEAK, to_frames
from callflow.local.stack.local import LocalStack, StackOptions, start_local_stack
from callflow.settings import Settings, get_settings
from workflows.messages import AgentReport, SignalName, TurnLatency, workflow_id_for

log = logging.getLogger("callflow.local.bench.agent")

MAX_CALLS = 100
MAX_CONCURRENT = 50
MAX_AGENT_WORKERS = 8
# One offline conversation takes about a minute; a call this late is stuck, not slow.
CALL_TIMEOUT_S = 300.0
MEMORY_SAMPLE_INTERVAL_S = 1.0
# A gap is a silence this much longer than any pause the offline voice makes itself.
GAP_OVER_NATURAL_S = 0.1
# A call that waited at least this long for an agent slot was deferred (slots poll each 1 s).
DEFERRED_AFTER_MS = 500.0
# Lines like the scripted coach's (agent/offline/llm.py): commas, colons, questions, numbers.
_PAUSE_SAMPLES = (
    "Hi Ada, it's Callflow Coach.",
    "Last time you committed to this: walk 10,000 steps every day this week.",
    "Your battery looks fine: 55 percent and charging.",
    "Got it: meditate for ten minutes every morning, starting today.",
    "Thank you Ada, that is all for today.",
    "Goodbye, and talk soon!",
)


@dataclass(frozen=True)
class AgentBenchOptions:
    calls: int = 5
    concurrent: int = 1
    agent_workers: int = 1

    def validate(self) -> None:
        if not 1 <= self.calls <= MAX_CALLS:
            raise BenchInputError(f"calls is {self.calls}: pass between 1 and {MAX_CALLS} calls")
        if not 1 <= self.concurrent <= min(self.calls, MAX_CONCURRENT):
            raise BenchInputError(
                f"concurrent is {self.concurrent}: pass between 1 and the number of calls "
                f"({self.calls}), at most {MAX_CONCURRENT}"
            )
        if not 1 <= self.agent_workers <= MAX_AGENT_WORKERS:
            raise BenchInputError(
                f"agent_workers is {self.agent_workers}: pass between 1 and {MAX_AGENT_WORKERS}"
            )


class _HasEventId(Protocol):
    event_id: str


SignalT = TypeVar("SignalT", bound=_HasEventId)


async def workflow_signals(
    client: Client, workflow_id: str, name: str, type_: type[SignalT]
) -> list[SignalT]:
    """Every distinct `name` signal the workflow has received so far, decoded, in history
    order (a resend with a seen `event_id` is dropped, as the workflow drops it)."""
    handle = client.get_workflow_handle(workflow_id)
    found: dict[str, SignalT] = {}
    async for event in handle.fetch_history_events():
        if event.event_type != EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
            continue
        attrs = event.workflow_execution_signaled_event_attributes
        if attrs.signal_name != name:
            continue
        [value] = await client.data_converter.decode(attrs.input.payloads, [type_])
        found.setdefault(value.event_id, value)
    return list(found.values())


def turn_overhead_ms(latency: TurnLatency) -> float | None:
    """What the turn took beyond its providers; None for a turn that answers no user turn."""
    if latency.total_ms is None:
        return None
    providers = latency.end_of_utterance_ms + latency.llm_ttft_ms + latency.tts_ttfb_ms
    return latency.total_ms - providers


def spread_ms(values: list[float]) -> dict[str, float] | None:
    """p50/p95/max rounded to 0.1 ms; None when nothing was measured."""
    if not values:
        return None
    return {
        "p50": round(percentile(values, 50), 1),
        "p95": round(percentile(values, 95), 1),
        "max": round(max(values), 1),
    }


def spread_p50_p95(values: list[float]) -> dict[str, float] | None:
    spread = spread_ms(values)
    return None if spread is None else {"p50": spread["p50"], "p95": spread["p95"]}


# --- what the agent worker(s) take -----------------------------------------------------------


def _process_tree(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []


def resident_bytes(process: psutil.Process) -> int:
    """PSS (proportional set size) from /proc/<pid>/smaps_rollup, else RSS: pages shared
    copy-on-write with a forkserver count once over the processes that share them."""
    try:
        with open(f"/proc/{process.pid}/smaps_rollup", encoding="ascii") as rollup:
            for line in rollup:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(process.memory_info().rss)
    except psutil.Error:
        return 0


@dataclass
class MemorySampler:
    """Resident memory (PSS) of the agent worker processes and all their descendants."""

    pids: list[int]
    baseline_bytes: int = 0
    peak_bytes: int = 0
    samples: int = 0

    def sample(self) -> int:
        total = sum(resident_bytes(p) for pid in self.pids for p in _process_tree(pid))
        self.samples += 1
        self.peak_bytes = max(self.peak_bytes, total)
        return total

    def set_baseline(self) -> None:
        self.baseline_bytes = self.sample()
        self.peak_bytes = self.baseline_bytes

    @property
    def peak_mb(self) -> float:
        return round(self.peak_bytes / 2**20, 1)

    @property
    def baseline_mb(self) -> float:
        return round(self.baseline_bytes / 2**20, 1)


@contextlib.asynccontextmanager
async def sampling(sampler: MemorySampler) -> AsyncIterator[MemorySampler]:
    """Sample in a thread: reading smaps of many processes must not stall the phones' audio."""

    async def loop() -> None:
        while True:
            await asyncio.to_thread(sampler.sample)
            await asyncio.sleep(MEMORY_SAMPLE_INTERVAL_S)

    task = asyncio.create_task(loop(), name="agent-memory")
    try:
        yield sampler
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await asyncio.to_thread(sampler.sample)


def tree_cpu_s(pids: list[int]) -> float:
    """CPU seconds of these processes and every descendant, dead ones included: a job process
    or an espeak-ng run that has exited and been waited for is in its parent's children times.
    """
    total = 0.0
    for pid in pids:
        for process in _process_tree(pid):
            with contextlib.suppress(psutil.Error):
                t = process.cpu_times()
                total += t.user + t.system + t.children_user + t.children_system
    return total


def machine_busy_s() -> float:
    times = psutil.cpu_times()
    return float(sum(times) - times.idle - getattr(times, "iowait", 0.0))


# --- the phone's ear -----------------------------------------------------------------------


def silences_s(frames: list[np.ndarray], frame_s: float) -> list[float]:
    """The silences between voiced frames (peak >= VOICE_PEAK, as the phone's listener hears)."""
    pauses: list[float] = []
    run, seen_voice = 0, False
    for samples in frames:
        if samples.size and int(np.abs(samples).max()) >= VOICE_PEAK:
            if seen_voice and run:
                pauses.append(run * frame_s)
            seen_voice, run = True, 0
        else:
            run += 1
    return pauses


async def natural_pause_s(voice: str) -> float:
    """The longest silence the offline voice makes inside and after a sentence of its own:
    espeak-ng pauses 100-220 ms at commas and colons and ends each sentence with ~300 ms of
    silence (the agent's TTS speaks a reply sentence by sentence). Heard through the same
    voiced-frame test as the phone's listener."""
    longest = 0.0
    frame_s = SAMPLES_PER_FRAME / 48_000
    for text in _PAUSE_SAMPLES:
        pcm = await synthesize(text, voice=voice)
        frames = [np.frombuffer(f.data, dtype=np.int16) for f in to_frames(pcm)]
        # A second sentence right after: the pause across the boundary counts too.
        pauses = silences_s(frames + frames, frame_s)
        longest = max(longest, *pauses, 0.0)
    return longest


# --- one call --------------------------------------------------------------------------------


@dataclass
class CallFigures:
    call_id: str
    outcome: str
    first_audio_ms: float | None
    transcript_turns: int = 0
    agent_reported: bool = False
    overheads_ms: list[float] = field(default_factory=list)
    totals_ms: list[float] = field(default_factory=list)
    parts_ms: dict[str, list[float]] = field(default_factory=dict)
    providers: dict[str, str] = field(default_factory=dict)
    joined_at: float | None = None  # unix seconds, the phone's clock
    left_at: float | None = None
    pauses_s: list[float] = field(default_factory=list)  # inside agent turns, as heard
    redispatches: int = 0
    wait_for_agent_ms: float = 0.0

    @property
    def conversed(self) -> bool:
        """Completed *with* the agent: a call can complete with the phone alone in the room
        (the agent never dispatched), which must not pass as a measured call."""
        return (
            self.outcome == "completed"
            and self.first_audio_ms is not None
            and self.agent_reported
            and self.transcript_turns > 0
        )

    @property
    def minutes(self) -> float:
        if self.joined_at is None or self.left_at is None:
            return 0.0
        return max(0.0, self.left_at - self.joined_at) / 60.0


def _progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


async def call_costs(stack: LocalStack, call_id: str) -> tuple[int, float]:
    """(agent redispatches, due -> agent slot held ms) from the call's record and result; 0
    for each that the workflow does not report (before agent slots and re-dispatch)."""
    record = await stack.records.get_call(call_id)
    latency = dict(getattr(record, "latency", None) or {})
    redispatches = int(getattr(record, "agent_redispatches", 0) or 0)
    redispatches = max(redispatches, int(_number(latency.get("agent_redispatches")) or 0))
    wait = _number(latency.get("wait_for_agent_ms"))
    if wait is None:
        with contextlib.suppress(Exception):
            result = await stack.client.get_workflow_handle(workflow_id_for(call_id)).result()
            if isinstance(result, dict):
                wait = _number(result.get("wait_for_agent_ms"))
    return redispatches, wait or 0.0


async def measure_call(stack: LocalStack, user_id: str) -> CallFigures:
    """One call through the call API, until its workflow is done; what it measured."""
    summary = await asyncio.wait_for(run_call(stack, user_id), CALL_TIMEOUT_S)
    call_id = summary["call_id"]
    phone = stack.phone.calls.get(call_id)
    first_audio_ms = None
    if phone is not None and phone.joined_at and phone.first_agent_audio_at:
        first_audio_ms = (phone.first_agent_audio_at - phone.joined_at) * 1000.0
    reports = await workflow_signals(
        stack.client, workflow_id_for(call_id), SignalName.AGENT_REPORT, AgentReport
    )
    convo = stack.phone_logs.get(call_id)
    redispatches, wait_ms = await call_costs(stack, call_id)
    figures = CallFigures(
        call_id,
        str(summary["outcome"]),
        first_audio_ms,
        transcript_turns=int(summary.get("transcript_turns") or 0),
        agent_reported=bool(reports),
        joined_at=phone.joined_at if phone is not None else None,
        left_at=phone.left_at if phone is not None else None,
        pauses_s=list(getattr(convo, "agent_pauses_s", []) or []),
        redispatches=redispatches,
        wait_for_agent_ms=wait_ms,
    )
    for report in reports:
        figures.providers = dict(report.providers)
        for latency in report.turn_latencies:
            overhead = turn_overhead_ms(latency)
            if overhead is not None and latency.total_ms is not None:
                figures.overheads_ms.append(overhead)
                figures.totals_ms.append(latency.total_ms)
                for name, value in (
                    ("end_of_utterance", latency.end_of_utterance_ms),
                    ("llm_ttft", latency.llm_ttft_ms),
                    ("tts_ttfb", latency.tts_ttfb_ms),
                ):
                    figures.parts_ms.setdefault(name, []).append(value)
    return figures


def peak_overlap(intervals: list[tuple[float, float]]) -> int:
    """The most intervals open at one instant."""
    edges = sorted([(a, 1) for a, _ in intervals] + [(b, -1) for _, b in intervals])
    open_now = peak = 0
    for _, step in edges:
        open_now += step
        peak = max(peak, open_now)
    return peak


# --- the run ----------------------------------------------------------------------------------


@dataclass
class RunMeasures:
    memory: MemorySampler
    agent_cpu_s: float
    machine_busy_pct: float
    window_s: float
    gap_threshold_s: float
    settings: Settings


async def _place_calls(
    stack: LocalStack, options: AgentBenchOptions, users: list[str]
) -> list[CallFigures]:
    gate = asyncio.Semaphore(options.concurrent)
    done = 0

    async def one(n: int, user_id: str) -> CallFigures:
        nonlocal done
        async with gate:
            t0 = time.monotonic()
            try:
                figures = await measure_call(stack, user_id)
            except Exception as exc:  # counted as a call without the agent; the others go on
                timed_out = isinstance(exc, TimeoutError)
                reason = f"{type(exc).__name__}: {exc}"
                if timed_out:
                    reason = f"did not finish in {CALL_TIMEOUT_S:.0f}s"
                _progress(f"call {n} failed: {reason}")
                figures = CallFigures(f"call-{n}", "timeout" if timed_out else "error", None)
            done += 1
            if not figures.conversed:
                _progress(
                    f"call {n}: the agent never spoke in it ({figures.transcript_turns} turns); "
                    f"see the agent log(s) {', '.join(str(p) for p in stack.agent_logs)}"
                )
            _progress(
                f"call {n} ({done}/{options.calls} done): {figures.outcome} in "
                f"{time.monotonic() - t0:.1f}s, first audio {_fmt(figures.first_audio_ms)} ms, "
                f"turns {', '.join(_fmt(v) for v in figures.totals_ms) or '-'} ms"
            )
            return figures

    return list(await asyncio.gather(*(one(n, u) for n, u in enumerate(users, start=1))))


async def run_agent_bench(
    options: AgentBenchOptions | int, settings: Settings, state_dir: Path | None = None
) -> dict[str, Any]:
    """Start the local stack with the agent worker(s), make `calls` calls, `concurrent` at a
    time, stop it."""
    if isinstance(options, int):
        options = AgentBenchOptions(calls=options)
    options.validate()
    # Each worker keeps its share of the concurrent calls warm (or its capacity, if larger).
    per_worker = math.ceil(options.concurrent / options.agent_workers)
    settings = settings.model_copy(
        update={"agent_idle_processes": max(settings.agent_idle_processes, per_worker)}
    )
    gap_threshold_s = await natural_pause_s(settings.offline_tts_voice) + GAP_OVER_NATURAL_S
    # Outside any pytest tmp folder: pytest resets those to 0700, locking out postgres.
    state = state_dir or Path(tempfile.mkdtemp(prefix="callflow-bench-agent-"))
    _progress(
        f"starting the local stack with {options.agent_workers} agent worker(s) in {state} ..."
    )
    started = time.monotonic()
    try:
        stack = await start_local_stack(
            settings,
            StackOptions(state_dir=state, with_agent=True, agent_workers=options.agent_workers),
        )
    except (RuntimeError, TimeoutError) as e:
        raise BenchSetupError(f"the local stack did not start: {e}") from e
    keep_state = False
    try:
        users = [
            (await seed_user(stack, f"bench-agent-{n}")).user_id
            for n in range(1, options.calls + 1)
        ]
        pids = [p.pid for p in stack.agent_processes]
        memory = MemorySampler(pids)
        await asyncio.sleep(1.0)  # the warm job processes settle after registration
        await asyncio.to_thread(memory.set_baseline)
        _progress(
            f"stack up in {time.monotonic() - started:.1f}s; agent memory {memory.baseline_mb} "
            f"MB before any call; placing {options.calls} call(s), {options.concurrent} at a time"
        )
        cpu0, busy0, t0 = tree_cpu_s(pids), machine_busy_s(), time.monotonic()
        async with sampling(memory):
            results = await _place_calls(stack, options, users)
        window_s = max(time.monotonic() - t0, 1e-9)
        busy = (machine_busy_s() - busy0) / (window_s * (psutil.cpu_count() or 1))
        measures = RunMeasures(
            memory=memory,
            agent_cpu_s=tree_cpu_s(pids) - cpu0,
            machine_busy_pct=round(100 * busy, 1),
            window_s=window_s,
            gap_threshold_s=gap_threshold_s,
            settings=stack.settings,
        )
        # The progress lines point at the agent logs of a call without the agent: keep them.
        keep_state = not all(r.conversed for r in results)
        return _figures(options, results, measures)
    except BaseException:
        keep_state = True
        raise
    finally:
        await stack.stop()
        if state_dir is None and not keep_state:
            shutil.rmtree(state, ignore_errors=True)
        elif state_dir is None:
            _progress(f"kept the stack's state and logs in {state}")


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def _figures(
    options: AgentBenchOptions, results: list[CallFigures], m: RunMeasures
) -> dict[str, Any]:
    first_audio = [r.first_audio_ms for r in results if r.first_audio_ms is not None]
    overheads = [v for r in results for v in r.overheads_ms]
    totals = [v for r in results for v in r.totals_ms]
    parts: dict[str, list[float]] = {}
    for r in results:
        for name, values in r.parts_ms.items():
            parts.setdefault(name, []).extend(values)
    intervals = [(r.joined_at, r.left_at) for r in results if r.joined_at and r.left_at]
    peak_concurrent = peak_overlap([(a, b) for a, b in intervals if a and b])
    call_minutes = sum(r.minutes for r in results)
    grown_mb = max(0.0, (m.memory.peak_bytes - m.memory.baseline_bytes) / 2**20)
    waits = [r.wait_for_agent_ms for r in results]
    gaps = [sum(p > m.gap_threshold_s for p in r.pauses_s) for r in results]
    over_100ms = [sum(p > GAP_OVER_NATURAL_S for p in r.pauses_s) for r in results]
    return {
        "calls": options.calls,
        "concurrent": options.concurrent,
        "agent_workers": options.agent_workers,
        "calls_completed": sum(r.outcome == "completed" for r in results),
        "calls_with_agent": sum(r.conversed for r in results),
        "first_audio_ms": spread_ms(first_audio),
        # User end of speech -> first agent audio, the whole wait of a reply.
        "turn_latency_ms": spread_p50_p95(totals),
        "turn_overhead_ms": spread_ms(overheads),
        # What the providers took in those turns (p50 of each), which the overhead excludes.
        "turn_parts_p50_ms": {
            name: round(percentile(values, 50), 1) for name, values in parts.items()
        },
        "turns_measured": len(totals),
        "agent_rss_per_call_mb": round(grown_mb / max(peak_concurrent, 1), 1),
        "agent_memory_mb": {"before_calls": m.memory.baseline_mb, "peak": m.memory.peak_mb},
        "memory_samples": m.memory.samples,
        "peak_concurrent_calls": peak_concurrent,
        "agent_cpu_s": round(m.agent_cpu_s, 1),
        "call_minutes": round(call_minutes, 2),
        "agent_cpu_s_per_call_minute": round(m.agent_cpu_s / call_minutes, 2)
        if call_minutes
        else None,
        "machine_cpu_busy_pct": m.machine_busy_pct,
        "window_s": round(m.window_s, 1),
        "redispatches": sum(r.redispatches for r in results),
        "calls_deferred": sum(w >= DEFERRED_AFTER_MS for w in waits),
        "wait_for_agent_ms": spread_ms(waits),
        "audio_gaps_per_call": round(sum(gaps) / len(results), 2) if results else 0.0,
        "audio_gap_threshold_ms": round(m.gap_threshold_s * 1000.0),
        "audio_silences_over_100ms_per_call": round(sum(over_100ms) / len(results), 2)
        if results
        else 0.0,
        "agent_job_executor": job_executor_type(m.settings).value,
        # Calls each worker takes at once (agent slots defer the rest): CALLFLOW_AGENT_CAPACITY.
        "agent_capacity_per_worker": getattr(m.settings, "agent_capacity", None),
        "agent_warm_executors_per_worker": warm_executors(m.settings),
        "providers": next((r.providers for r in reversed(results) if r.providers), {}),
    }


def human_summary(figures: dict[str, Any]) -> str:
    first = figures["first_audio_ms"] or {}
    turn = figures["turn_latency_ms"] or {}
    return (
        f"{figures['calls_completed']}/{figures['calls']} calls completed "
        f"({figures['concurrent']} at a time, {figures['agent_workers']} agent worker(s), "
        f"{figures['agent_job_executor']} executor), {figures['calls_with_agent']} with the "
        f"agent; first audio p50/p95/max {first.get('p50')}/{first.get('p95')}/"
        f"{first.get('max')} ms; turn latency p50/p95 {turn.get('p50')}/{turn.get('p95')} ms "
        f"over {figures['turns_measured']} turns; agent {figures['agent_rss_per_call_mb']} MB "
        f"and {figures['agent_cpu_s_per_call_minute']} CPU-s per call-minute; machine "
        f"{figures['machine_cpu_busy_pct']}% busy; {figures['audio_gaps_per_call']} audio gaps "
        f"per call; providers: " + ", ".join(f"{k}={v}" for k, v in figures["providers"].items())
    )


def main(
    calls: int,
    json_output: bool,
    settings: Settings | None = None,
    *,
    concurrent: int = 1,
    agent_workers: int = 1,
) -> int:
    """The CLI's `bench agent`: progress and a summary on stderr; with --json, one JSON line
    on stdout (without, the summary goes to stdout)."""
    options = AgentBenchOptions(calls=calls, concurrent=concurrent, agent_workers=agent_workers)
    options.validate()  # before starting anything
    figures = asyncio.run(run_agent_bench(options, settings or get_settings()))
    summary = human_summary(figures)
    if json_output:
        _progress(summary)
        print(json.dumps(figures), flush=True)
    else:
        print(summary, flush=True)
    return 0 if figures["calls_with_agent"] == figures["calls"] else 1
