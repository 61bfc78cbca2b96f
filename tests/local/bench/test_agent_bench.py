"""`callflow bench agent`: the figures' arithmetic, and one real call through the local stack
with the agent worker process, checked for every figure the README quotes."""

from __future__ import annotations

import asyncio
import json
import os

import pytest

from agent.offline.llm import PROVIDER_NAME as OFFLINE_LLM
from callflow.local.bench.agent import RssSampler, main, spread_ms, turn_overhead_ms
from callflow.local.bench.errors import BenchInputError
from callflow.settings import Settings
from workflows.messages import TurnLatency


def test_turn_overhead_is_the_wait_minus_the_providers() -> None:
    turn = TurnLatency(end_of_utterance_ms=600, llm_ttft_ms=250, tts_ttfb_ms=90, total_ms=1000)
    assert turn_overhead_ms(turn) == pytest.approx(60)


def test_a_turn_that_answers_no_user_turn_has_no_overhead() -> None:
    assert turn_overhead_ms(TurnLatency(llm_ttft_ms=5, tts_ttfb_ms=80)) is None


def test_spread_gives_p50_p95_max_or_none() -> None:
    assert spread_ms([]) is None
    figures = spread_ms([float(v) for v in range(1, 101)])
    assert figures == {"p50": 50.5, "p95": 95.0, "max": 100.0}


def test_rss_sampler_counts_the_process_tree() -> None:
    sampler = RssSampler(os.getpid())
    sampler.sample()
    assert sampler.samples == 1 and sampler.peak_mb > 10


def test_rss_sampler_ignores_a_process_that_is_gone() -> None:
    sampler = RssSampler(2**22 + 12345)  # above pid_max on Linux: never a live process
    sampler.sample()
    assert sampler.samples == 0 and sampler.peak_bytes == 0


def test_calls_out_of_range_are_refused_naming_the_parameter() -> None:
    with pytest.raises(BenchInputError, match="calls is 0"):
        main(0, True, Settings(_env_file=None))  # type: ignore[call-arg]


@pytest.mark.e2e
async def test_one_agent_call_gives_every_figure(capsys: pytest.CaptureFixture[str]) -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    # main() runs its own event loop (asyncio.run): give it a thread of its own.
    code = await asyncio.to_thread(main, 1, True, settings)

    out, err = capsys.readouterr()
    lines = out.strip().splitlines()
    assert len(lines) == 1, out  # stdout holds the JSON line only; progress went to stderr
    figures = json.loads(lines[0])
    assert code == 0, err
    assert figures["calls"] == figures["calls_completed"] == figures["calls_with_agent"] == 1
    first = figures["first_audio_ms"]
    assert first["p50"] == first["p95"] == first["max"]  # one call, one figure
    assert 0 < first["max"] < 5_000
    # The offline script has three user lines, each answered by one agent turn.
    assert figures["turns_measured"] == 3
    overhead, total = figures["turn_overhead_ms"], figures["turn_total_ms"]
    assert overhead["p50"] <= overhead["p95"] <= overhead["max"]
    # Our glue is small next to the whole wait, which is mostly end-of-utterance detection.
    assert abs(overhead["p50"]) < 500 and overhead["max"] < total["max"]
    assert 0 < total["p50"] < 10_000
    parts = figures["turn_parts_p50_ms"]
    assert set(parts) == {"end_of_utterance", "llm_ttft", "tts_ttfb"}
    assert parts["end_of_utterance"] > 0 and parts["tts_ttfb"] > 0
    assert 100 < figures["agent_peak_rss_mb"] < 16_000
    assert figures["rss_samples"] > 10  # sampled throughout the call, not once
    assert figures["providers"]["llm"] == OFFLINE_LLM
    assert set(figures["providers"]) >= {"stt", "llm", "tts", "vad", "turn_detection"}
    assert "1 with the agent" in err
