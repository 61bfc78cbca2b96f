"""The report's figures, computed from records written with known values."""

from __future__ import annotations

from datetime import timedelta

from callflow.report.figures import TARGETS, build_report, percentile
from tests.report.records_with_known_values import DAY2, known_records


def test_each_criterion_is_computed_from_the_records() -> None:
    report = build_report(known_records())

    assert report.calls == 10
    assert report.completion_rate == 0.75
    assert report.first_audio_ms == {"p50": 300.0, "p95": 600.0}
    assert report.memory_fetch_ms == {"p50": 150.0, "p95": 400.0}
    assert report.turn_latency_ms == {"p50": 500.0, "p95": 1000.0}
    assert report.webhook_delivery_rate == 0.8889
    assert report.cost_per_minute_usd == 0.05
    assert report.call_minutes == 6.0
    assert report.outcomes == {
        "completed": 6, "failed": 1, "cancelled": 1, "no_agent": 1, "missed": 1
    }  # fmt: skip
    assert report.pushes_per_call == 1.3
    assert report.degraded_memory_rate == 0.1
    assert report.redispatches == 2


def test_per_day_figures() -> None:
    day1, day2 = build_report(known_records()).per_day

    assert (day1.day, day1.calls, day1.completion_rate) == ("2026-11-28", 6, 0.8)
    assert day1.outcomes == {"completed": 4, "failed": 1, "cancelled": 1}
    assert day1.first_audio_p95_ms == 400.0 and day1.redispatches == 1
    assert day1.pushes_per_call == 0.833 and day1.cost_per_minute_usd == 0.05
    assert (day2.day, day2.calls, day2.completion_rate) == ("2026-11-29", 4, round(2 / 3, 4))
    assert day2.degraded_memory_rate == 0.25 and day2.pushes_per_call == 2.0


def test_criteria_against_targets() -> None:
    criteria = {c["criterion"]: c["met"] for c in build_report(known_records()).criteria()}

    assert criteria == {
        "call completion rate": False,  # 0.75 < 0.95
        "agent first audio p95 (ms)": True,  # 600 <= 2000
        "memory fetch p95 (ms)": True,  # 400 <= 400
        "turn latency p95 (ms)": False,  # 1000 > 500
        "post-call webhook delivery rate": False,  # 0.89 < 0.99
        "cost per call-minute (USD)": True,  # 0.05 <= 0.08
    }


def test_the_json_holds_the_machine_fields() -> None:
    data = build_report(known_records()).as_json()

    assert data["baseline_per_minute_usd"] == {"low": 0.10, "high": 0.30}
    assert data["savings_vs_baseline"] == {"low": 0.5, "high": round(1 - 0.05 / 0.30, 4)}
    assert data["targets"] == TARGETS
    assert set(data) >= {
        "calls", "completion_rate", "first_audio_ms", "memory_fetch_ms", "turn_latency_ms",
        "webhook_delivery_rate", "cost_per_minute_usd", "baseline_per_minute_usd", "outcomes",
        "targets", "per_day",
    }  # fmt: skip


def test_since_keeps_only_the_later_calls() -> None:
    report = build_report(known_records(), since=DAY2 - timedelta(minutes=1))

    assert report.calls == 4 and [d.day for d in report.per_day] == ["2026-11-29"]


def test_no_records_gives_no_figures_rather_than_zeros() -> None:
    report = build_report([])

    assert report.calls == 0 and report.completion_rate is None
    assert report.first_audio_ms == {"p50": None, "p95": None}
    assert all(c["met"] is None for c in report.criteria())


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 21)]
    assert percentile(values, 95) == 19.0
    assert percentile(values, 50) == 10.0
    assert percentile([7.0], 95) == 7.0
