"""`callflow bench agent`: the figures' arithmetic, and real calls through the local stack with
the agent worker process, two at a time, checked for every figure the bench reports."""

from __future__ import annotations

import asyncio
import json
import os
from types import SimpleNamespace

import numpy as np
import pytest

from agent.offline.llm import PROVIDER_NAME as OFFLINE_LLM
from callflow.local.bench import agent as agent_bench
from callflow.local.bench.agent import (
    AgentBenchOptions,
    CallFigures,
    MemorySampler,
    main,
    natural_pause_s,
    peak_overlap,
    silences_s,
    spread_ms,
    tree_cpu_s,
    turn_overhead_ms,
)
from callflow.local.bench.errors import BenchInputError
from callflow.settings import Settings
from workflows.messages import TurnLatency

TOP_LEVEL = {
    "calls",
    "concurrent",
    "calls_with_agent",
    "first_audio_ms",
    "turn_latency_ms",
    "agent_rss_per_call_mb",
    "agent_cpu_s_per_call_minute",
    "machine_cpu_busy_pct",
    "redispatches",
    "calls_deferred",
    "wait_for_agent_ms",
    "audio_gaps_per_call",
}


def test_turn_overhead_is_the_wait_minus_the_providers() -> None:
    turn = TurnLatency(end_of_utterance_ms=600, llm_ttft_ms=250, tts_ttfb_ms=90, total_ms=1000)
    assert turn_overhead_ms(turn) == pytest.approx(60)


def test_a_turn_that_answers_no_user_turn_has_no_overhead() -> None:
    assert turn_overhead_ms(TurnLatency(llm_ttft_ms=5, tts_ttfb_ms=80)) is None


def test_spread_gives_p50_p95_max_or_none() -> None:
    assert spread_ms([]) is None
    figures = spread_ms([float(v) for v in range(1, 101)])
    assert figures == {"p50": 50.5, "p95": 95.0, "max": 100.0}


def test_memory_sampler_counts_the_process_tree_from_a_baseline() -> None:
    sampler = MemorySampler([os.getpid()])
    sampler.set_baseline()
    ballast = bytearray(64 * 2**20)  # touched pages: resident
    ballast[::4096] = b"x" * len(ballast[::4096])
    sampler.sample()
    assert sampler.samples == 2 and sampler.baseline_mb > 10
    assert sampler.peak_mb - sampler.baseline_mb > 50
    del ballast


def test_memory_sampler_ignores_a_process_that_is_gone() -> None:
    sampler = MemorySampler([2**22 + 12345])  # above pid_max on Linux: never a live process
    assert sampler.sample() == 0 and sampler.peak_bytes == 0


def test_cpu_of_a_process_tree_includes_its_exited_children() -> None:
    before = tree_cpu_s([os.getpid()])
    pid = os.fork()
    if pid == 0:  # burn ~0.3 s of CPU in a child, then exit
        end = __import__("time").process_time() + 0.3
        while __import__("time").process_time() < end:
            pass
        os._exit(0)
    os.waitpid(pid, 0)
    assert tree_cpu_s([os.getpid()]) - before >= 0.25


def test_peak_overlap_counts_calls_in_progress_at_once() -> None:
    assert peak_overlap([]) == 0
    assert peak_overlap([(0, 10), (5, 15), (12, 20)]) == 2
    assert peak_overlap([(0, 10), (1, 9), (2, 8)]) == 3


def test_silences_are_measured_between_voiced_frames_only() -> None:
    voiced, quiet = np.full(480, 5000, np.int16), np.zeros(480, np.int16)
    frames = [quiet, voiced, quiet, quiet, quiet, voiced, voiced, quiet]
    assert silences_s(frames, 0.01) == pytest.approx([0.03])


async def test_the_gap_threshold_sits_above_the_offline_voices_own_pauses() -> None:
    pause = await natural_pause_s("en-us")
    assert 0.2 <= pause <= 0.6  # commas and sentence ends, not zero and not a turn end


def test_options_out_of_range_are_refused_naming_the_parameter() -> None:
    with pytest.raises(BenchInputError, match="calls is 0"):
        main(0, True, Settings(_env_file=None))  # type: ignore[call-arg]
    with pytest.raises(BenchInputError, match="concurrent is 3"):
        AgentBenchOptions(calls=2, concurrent=3).validate()
    with pytest.raises(BenchInputError, match="agent_workers is 0"):
        AgentBenchOptions(calls=2, agent_workers=0).validate()


@pytest.mark.e2e
async def test_two_concurrent_agent_calls_give_every_figure(
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    # main() runs its own event loop (asyncio.run): give it a thread of its own.
    code = await asyncio.to_thread(main, 2, True, settings, concurrent=2)

    out, err = capsys.readouterr()
    lines = out.strip().splitlines()
    assert len(lines) == 1, out  # stdout holds the JSON line only; progress went to stderr
    figures = json.loads(lines[0])
    assert code == 0, err
    assert TOP_LEVEL <= set(figures), TOP_LEVEL - set(figures)
    assert figures["calls"] == figures["calls_completed"] == figures["calls_with_agent"] == 2
    assert figures["concurrent"] == 2 and figures["peak_concurrent_calls"] == 2
    first = figures["first_audio_ms"]
    assert 0 < first["p50"] <= first["p95"] <= first["max"] < 5_000
    # The offline script has three user lines per call, each answered by one agent turn.
    assert figures["turns_measured"] == 6
    turn = figures["turn_latency_ms"]
    assert set(turn) == {"p50", "p95"}
    # Well under the 2.5 s the turn detector waited on the offline voice (the target, p50 <= 800
    # ms, is the bench's to show; here the machine may be busy with other tests).
    assert 0 < turn["p50"] <= turn["p95"] < 2_000, turn
    overhead = figures["turn_overhead_ms"]
    assert overhead["p50"] <= overhead["p95"] <= overhead["max"] and abs(overhead["p50"]) < 500
    parts = figures["turn_parts_p50_ms"]
    assert set(parts) == {"end_of_utterance", "llm_ttft", "tts_ttfb"}
    assert parts["end_of_utterance"] > 0 and parts["tts_ttfb"] > 0
    assert 1 < figures["agent_rss_per_call_mb"] < 1_000
    assert figures["memory_samples"] > 10  # sampled throughout the calls, not once
    assert 0.5 < figures["agent_cpu_s_per_call_minute"] < 60
    assert 0 < figures["machine_cpu_busy_pct"] <= 100
    assert figures["redispatches"] >= 0 and figures["calls_deferred"] >= 0
    assert set(figures["wait_for_agent_ms"]) == {"p50", "p95", "max"}
    assert figures["audio_gaps_per_call"] >= 0
    # The phone heard the agent's own pauses, so it listened inside its turns.
    assert figures["audio_silences_over_100ms_per_call"] > 0
    assert figures["agent_job_executor"] in {"process", "thread"}
    assert figures["providers"]["llm"] == OFFLINE_LLM
    assert set(figures["providers"]) >= {"stt", "llm", "tts", "vad", "turn_detection"}
    assert "2 with the agent" in err


async def test_a_call_that_fails_is_counted_and_the_others_go_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def measure(stack: object, user_id: str) -> CallFigures:
        if user_id == "u-2":
            raise RuntimeError("context deadline exceeded")
        return CallFigures(
            f"c-{user_id}", "completed", 400.0, transcript_turns=6, agent_reported=True
        )

    monkeypatch.setattr(agent_bench, "measure_call", measure)
    stack = SimpleNamespace(agent_logs=[])
    results = await agent_bench._place_calls(
        stack,  # type: ignore[arg-type]
        AgentBenchOptions(calls=3, concurrent=2),
        ["u-1", "u-2", "u-3"],
    )
    assert [r.conversed for r in results] == [True, False, True]
    assert results[1].outcome == "error"
