"""`callflow bench agent`: N calls with the voice agent through the real local stack, one after
another, and what the user waits for in them.

- `first_audio_ms`: the phone joined the room -> the phone heard the agent's first audio frame
  (the phone simulator's own clock, from its CallLog).
- `turn_overhead_ms`: for each agent turn that answers the user, the time our code (and the
  framework's glue) adds between the providers: (user end of speech -> first agent audio) minus
  (end-of-utterance delay + LLM time to first token + TTS time to first byte), from the per-turn
  figures the agent reports to the workflow (its `agent_report` signal, read from the history).
- `agent_peak_rss_mb`: the agent worker and its job processes, sampled with psutil.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import shutil
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

import psutil
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from callflow.local.bench.errors import BenchInputError, BenchSetupError, BenchTimeout
from callflow.local.bench.stats import percentile
from callflow.local.demo import run_call, seed_user
from callflow.local.stack.local import LocalStack, StackOptions, start_local_stack
from callflow.settings import Settings, get_settings
from workflows.messages import AgentReport, SignalName, TurnLatency, workflow_id_for

log = logging.getLogger("callflow.local.bench.agent")

MAX_CALLS = 100
# One offline conversation takes about a minute; a call this late is stuck, not slow.
CALL_TIMEOUT_S = 300.0
RSS_SAMPLE_INTERVAL_S = 0.25


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


@dataclass
class RssSampler:
    """Peak resident memory of a process and all its descendants (the agent's job processes)."""

    pid: int
    peak_bytes: int = 0
    samples: int = 0

    def sample(self) -> None:
        try:
            root = psutil.Process(self.pid)
            tree = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return
        total = 0
        for process in tree:
            with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
                total += process.memory_info().rss
        self.samples += 1
        self.peak_bytes = max(self.peak_bytes, total)

    @property
    def peak_mb(self) -> float:
        return round(self.peak_bytes / 2**20, 1)


@contextlib.asynccontextmanager
async def sampling(sampler: RssSampler) -> AsyncIterator[RssSampler]:
    async def loop() -> None:
        while True:
            sampler.sample()
            await asyncio.sleep(RSS_SAMPLE_INTERVAL_S)

    task = asyncio.create_task(loop(), name="agent-rss")
    try:
        yield sampler
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        sampler.sample()


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


def _progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


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
    figures = CallFigures(
        call_id,
        str(summary["outcome"]),
        first_audio_ms,
        transcript_turns=int(summary.get("transcript_turns") or 0),
        agent_reported=bool(reports),
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


def check_calls(calls: int) -> None:
    if not 1 <= calls <= MAX_CALLS:
        raise BenchInputError(f"calls is {calls}: pass between 1 and {MAX_CALLS} calls")


async def run_agent_bench(
    calls: int, settings: Settings, state_dir: Path | None = None
) -> dict[str, Any]:
    """Start the local stack with the agent, make `calls` calls one after another, stop it."""
    check_calls(calls)
    # Outside any pytest tmp folder: pytest resets those to 0700, locking out postgres.
    state = state_dir or Path(tempfile.mkdtemp(prefix="callflow-bench-agent-"))
    _progress(f"starting the local stack with the agent in {state} ...")
    started = time.monotonic()
    try:
        stack = await start_local_stack(settings, StackOptions(state_dir=state, with_agent=True))
    except (RuntimeError, TimeoutError) as e:
        raise BenchSetupError(f"the local stack did not start: {e}") from e
    results: list[CallFigures] = []
    try:
        assert stack.agent_process is not None
        _progress(f"stack up in {time.monotonic() - started:.1f}s; placing {calls} call(s)")
        async with sampling(RssSampler(stack.agent_process.pid)) as rss:
            for n in range(1, calls + 1):
                user = await seed_user(stack, f"bench-agent-{n}")
                t0 = time.monotonic()
                try:
                    figures = await measure_call(stack, user.user_id)
                except TimeoutError:
                    raise BenchTimeout(
                        f"call {n} did not finish in {CALL_TIMEOUT_S:.0f}s; "
                        f"see the agent log {stack.agent_log}"
                    ) from None
                results.append(figures)
                if not figures.conversed:
                    _progress(
                        f"call {n}: the agent never spoke in it ({figures.transcript_turns} "
                        f"turns); see the agent log {stack.agent_log}"
                    )
                _progress(
                    f"call {n}/{calls}: {figures.outcome} in {time.monotonic() - t0:.1f}s, "
                    f"first audio {_fmt(figures.first_audio_ms)} ms, turn overhead "
                    f"{', '.join(_fmt(v) for v in figures.overheads_ms) or '-'} ms"
                )
        return _figures(calls, results, rss)
    finally:
        await stack.stop()
        if state_dir is None:
            shutil.rmtree(state, ignore_errors=True)


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def _figures(calls: int, results: list[CallFigures], rss: RssSampler) -> dict[str, Any]:
    first_audio = [r.first_audio_ms for r in results if r.first_audio_ms is not None]
    overheads = [v for r in results for v in r.overheads_ms]
    totals = [v for r in results for v in r.totals_ms]
    parts: dict[str, list[float]] = {}
    for r in results:
        for name, values in r.parts_ms.items():
            parts.setdefault(name, []).extend(values)
    return {
        "calls": calls,
        "calls_completed": sum(r.outcome == "completed" for r in results),
        "calls_with_agent": sum(r.conversed for r in results),
        "first_audio_ms": spread_ms(first_audio),
        "turn_overhead_ms": spread_ms(overheads),
        # The whole wait, for scale: user end of speech -> first agent audio.
        "turn_total_ms": spread_ms(totals),
        # What the providers took in those turns (p50 of each), which the overhead excludes.
        "turn_parts_p50_ms": {
            name: round(percentile(values, 50), 1) for name, values in parts.items()
        },
        "turns_measured": len(overheads),
        "agent_peak_rss_mb": rss.peak_mb,
        "rss_samples": rss.samples,
        "providers": next((r.providers for r in reversed(results) if r.providers), {}),
    }


def human_summary(figures: dict[str, Any]) -> str:
    first = figures["first_audio_ms"] or {}
    overhead = figures["turn_overhead_ms"] or {}
    total = figures["turn_total_ms"] or {}
    return (
        f"{figures['calls_completed']}/{figures['calls']} calls completed, "
        f"{figures['calls_with_agent']} with the agent; first audio "
        f"p50/p95/max {first.get('p50')}/{first.get('p95')}/{first.get('max')} ms; our turn "
        f"overhead p50/p95/max {overhead.get('p50')}/{overhead.get('p95')}/{overhead.get('max')}"
        f" ms of p50 {total.get('p50')} ms user-to-agent over {figures['turns_measured']} turns;"
        f" agent peak RSS "
        f"{figures['agent_peak_rss_mb']} MB; providers: "
        + ", ".join(f"{k}={v}" for k, v in figures["providers"].items())
    )


def main(calls: int, json_output: bool, settings: Settings | None = None) -> int:
    """The CLI's `bench agent`: progress and a summary on stderr; with --json, one JSON line
    on stdout (without, the summary goes to stdout)."""
    check_calls(calls)  # before starting anything
    figures = asyncio.run(run_agent_bench(calls, settings or get_settings()))
    summary = human_summary(figures)
    if json_output:
        _progress(summary)
        print(json.dumps(figures), flush=True)
    else:
        print(summary, flush=True)
    return 0 if figures["calls_with_agent"] == figures["calls"] else 1
