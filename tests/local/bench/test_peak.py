from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from callflow.local.bench.errors import BenchInputError
from callflow.local.bench.peak import (
    PeakOptions,
    count_pushes,
    human_summary,
    meets_targets,
    schedule_call_id,
    schedule_due_time,
    targets_for,
)
from callflow.local.bench.stats import percentile, summary_ms
from callflow.local.phone.apns_endpoint import ReceivedPush
from tests.local.bench.conftest import (
    SMALL_PEAK_CALLS,
    SMALL_SCHEDULE_LEAD_S,
    SMALL_SCHEDULED_CALLS,
    TINY_AGENT_CALLS,
)

pytestmark = pytest.mark.e2e


def test_every_call_was_pushed_once_and_recorded(small_peak: dict[str, Any]) -> None:
    assert small_peak["calls"] == SMALL_PEAK_CALLS
    assert small_peak["calls_lost"] == 0
    assert small_peak["pushes_duplicated"] == 0
    assert small_peak["pushes_received"] == SMALL_PEAK_CALLS
    assert small_peak["push_log_sent"] == SMALL_PEAK_CALLS
    assert small_peak["records_written"] == SMALL_PEAK_CALLS
    # The bench's phones answer with no agent running: each call says so, none is `completed`.
    assert small_peak["outcomes"] == {"no_agent": SMALL_PEAK_CALLS}
    assert small_peak["calls_rung_without_agent"] == SMALL_PEAK_CALLS
    assert small_peak["calls_completed"] == 0
    assert small_peak["phone_signal_failures"] == 0


def test_latencies_are_measured_from_the_due_time(small_peak: dict[str, Any]) -> None:
    latency = small_peak["scheduled_to_push_ms"]
    assert 0 < latency["p50"] <= latency["p95"] <= latency["p99"] <= latency["max"]
    assert latency["max"] == small_peak["all_pushes_sent_ms"]
    # Every call was prepared ahead, so the due second only rings (generous for a busy CI box).
    assert small_peak["prepared_before_due"] == SMALL_PEAK_CALLS
    assert small_peak["all_pushes_sent_ms"] < 10_000


def test_resources_and_servers_are_reported(small_peak: dict[str, Any]) -> None:
    assert small_peak["workflows_started_per_s"] > 0
    assert small_peak["worker_cpu_s"] > 0
    assert 30 < small_peak["worker_peak_rss_mb"] < 2000
    assert small_peak["worker"]["process"] == "subprocess"
    assert small_peak["temporal"]["persistence"] == "in-memory"
    assert "Server" in small_peak["temporal"]["server"]
    cpu = small_peak["cpu_s_from_due_to_last_push"]
    assert {"worker", "temporal", "livekit", "postgres", "bench_process"} <= cpu.keys()
    history = small_peak["history_events_per_call"]
    # Armed rings: the server wrote nothing for a call between its due time and its push.
    assert small_peak["ring_arm_s"] > 0
    assert history["due_to_push"] == 0 < history["total"]
    # Across all calls, no due timer fired while the pushes went out: they fired at arming.
    window = small_peak["history_events_due_to_last_push"]
    assert all(isinstance(n, int) and n > 0 for n in window.values())
    assert "timer_fired" not in window


def test_the_figures_are_one_json_line(small_peak: dict[str, Any]) -> None:
    line = json.dumps(small_peak)
    assert "\n" not in line and json.loads(line) == small_peak
    assert f"{SMALL_PEAK_CALLS} calls due at once" in human_summary(small_peak)


def _push(call_id: str, attempt: int, at: float) -> ReceivedPush:
    return ReceivedPush(
        device_token="ab" * 32,
        apns_id=f"{call_id}-{attempt}",
        payload={"call_id": call_id, "attempt": attempt},
        topic="t.voip",
        priority=10,
        expiration=None,
        collapse_id=None,
        received_at_monotonic=at,
        received_at_wall=at,
    )


def test_a_push_received_twice_for_one_attempt_is_a_duplicate() -> None:
    pushes = [_push("a", 1, 1.0), _push("a", 1, 2.0), _push("a", 2, 3.0), _push("b", 1, 1.5)]
    per_attempt, duplicated = count_pushes(pushes)
    assert duplicated == 1
    assert per_attempt[("a", 1)] == 2 and per_attempt[("a", 2)] == 1


def test_targets_need_every_figure() -> None:
    good = {
        "all_pushes_sent_ms": 9000.0,
        "scheduled_to_push_ms": {"p99": 4900.0},
        "calls_lost": 0,
        "pushes_duplicated": 0,
    }
    assert meets_targets(good)
    assert not meets_targets({**good, "all_pushes_sent_ms": 10_001.0})
    assert not meets_targets({**good, "scheduled_to_push_ms": {"p99": 5000.0}})
    assert not meets_targets({**good, "calls_lost": 1})
    assert not meets_targets({**good, "pushes_duplicated": 1})


def test_percentiles_interpolate() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == pytest.approx(50.5)
    assert percentile(values, 99) == pytest.approx(99.01)
    assert summary_ms([5.0])["p99"] == 5.0
    with pytest.raises(ValueError, match="empty"):
        percentile([], 50)


@pytest.mark.parametrize(
    ("options", "field"),
    [
        (PeakOptions(calls=0), "calls"),
        (PeakOptions(calls=10, persistence="disk"), "persistence"),  # type: ignore[arg-type]
        (PeakOptions(calls=10, lead_s=0.5), "lead_s"),
    ],
)
def test_bad_options_name_the_field(options: PeakOptions, field: str) -> None:
    with pytest.raises(BenchInputError, match=field):
        options.validate()


def test_cli_offers_every_persistence_and_names_the_option_on_a_bad_one() -> None:
    from click.testing import CliRunner

    from callflow.cli import main
    from callflow.local.bench.stack import PERSISTENCE_NAMES

    option = next(
        p for p in main.commands["bench"].commands["peak"].params if p.name == "persistence"
    )  # type: ignore[attr-defined]
    assert set(option.type.choices) == set(PERSISTENCE_NAMES)  # type: ignore[attr-defined]
    result = CliRunner().invoke(main, ["bench", "peak", "--calls", "1", "--persistence", "disk"])
    assert result.exit_code == 2
    assert "--persistence" in result.output and "'disk' is not one of" in result.output


def test_schedules_fire_every_call_once_at_its_local_time(
    small_scheduled_peak: dict[str, Any],
) -> None:
    figures = small_scheduled_peak
    assert figures["via"] == "schedules"
    assert figures["calls"] == SMALL_SCHEDULED_CALLS
    assert figures["lead_s"] == SMALL_SCHEDULE_LEAD_S
    assert figures["calls_lost"] == 0
    assert figures["pushes_duplicated"] == 0
    assert figures["pushes_received"] == figures["records_written"] == SMALL_SCHEDULED_CALLS
    assert figures["prepared_before_due"] == SMALL_SCHEDULED_CALLS
    latency = figures["scheduled_to_push_ms"]
    assert 0 < latency["p50"] <= latency["p95"] <= latency["p99"] <= latency["max"]
    assert latency["max"] == figures["all_pushes_sent_ms"] < 10_000
    schedules = figures["schedules"]
    # One schedule per user, each started its call once, and all were deleted at the end.
    assert schedules["created"] == schedules["workflows_started"] == SMALL_SCHEDULED_CALLS
    assert schedules["deleted"] == SMALL_SCHEDULED_CALLS
    # The due time is the schedules' local time (whole minutes), their firing the lead before.
    due = datetime.fromisoformat(figures["due_at"])
    fired = datetime.fromisoformat(schedules["fired_at"])
    assert due.second == 0 and (due - fired).total_seconds() == SMALL_SCHEDULE_LEAD_S
    assert (
        due.astimezone(ZoneInfo(schedules["time_zone"])).strftime("%H:%M")
        == (schedules["local_time"])
    )
    assert figures["start_phase_s"] >= 0 and figures["workflows_started_per_s"] is not None
    for name in ("worker_cpu_s", "cpu_s_from_due_to_last_push", "history_events_per_call"):
        assert figures[name], name
    assert json.loads(json.dumps(figures)) == figures
    assert f"{SMALL_SCHEDULED_CALLS} calls due at once (schedules)" in human_summary(figures)


def test_direct_runs_name_their_path(small_peak: dict[str, Any]) -> None:
    assert small_peak["via"] == "direct"
    assert "schedules" not in small_peak
    assert small_peak["targets"] == {"all_pushes_sent_ms": 10_000, "p99_ms": 5_000}


def test_the_schedules_lead_is_production_s_unless_given() -> None:
    from callflow.schedules.manager import DEFAULT_LEAD_S

    assert PeakOptions(calls=10, via="schedules").effective_lead_s() == DEFAULT_LEAD_S
    assert PeakOptions(calls=10, via="schedules", lead_s=20).effective_lead_s() == 20
    with pytest.raises(BenchInputError, match="via"):
        PeakOptions(calls=10, via="cron").validate()  # type: ignore[arg-type]
    with pytest.raises(BenchInputError, match="lead_s"):
        PeakOptions(calls=10, via="schedules", lead_s=20.5).validate()


def test_schedule_due_times_are_whole_minutes_after_the_creation() -> None:
    now = datetime(2026, 12, 1, 7, 58, 30, tzinfo=UTC).timestamp()
    due = schedule_due_time(now, 300, 40)
    assert due == datetime(2026, 12, 1, 8, 5, tzinfo=UTC)
    fire = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    assert schedule_call_id("user-a", fire) == "sched-user-a-2026-12-01T08:00:00Z"


def test_bigger_peaks_have_the_5000_call_target() -> None:
    assert targets_for(5000) == {"all_pushes_sent_ms": 10_000, "p99_ms": 8_000}
    figures = {
        "calls": 5000,
        "all_pushes_sent_ms": 9000.0,
        "scheduled_to_push_ms": {"p99": 7000.0},
        "calls_lost": 0,
        "pushes_duplicated": 0,
    }
    assert meets_targets(figures)
    assert not meets_targets({**figures, "calls": 1000})


def test_agent_runs_report_the_agent_figures(tiny_agent_peak: dict[str, Any]) -> None:
    figures = tiny_agent_peak
    assert figures["via"] == "direct" and figures["agents"] == 1
    assert figures["calls"] == TINY_AGENT_CALLS
    assert figures["calls_lost"] == 0
    assert figures["pushes_duplicated"] == 0
    # Every call rang only once it held the one agent slot, and the agent greeted each.
    assert figures["calls_rung_without_agent"] == 0
    assert figures["calls_with_first_audio"] == TINY_AGENT_CALLS
    for name in ("first_audio_ms", "wait_for_agent_ms", "slot_held_after_due_ms"):
        spread = figures[name]
        assert 0 <= spread["p50"] <= spread["p95"] <= spread["max"], name
    # Capacity 1: the second call waited for the first one's slot.
    assert figures["wait_for_agent_ms"]["max"] > 1000
    assert figures["slot_held_after_due_ms"]["max"] > 1000
    assert figures["scheduled_to_push_ms"] and figures["all_pushes_sent_ms"]
    assert figures["targets"]["first_audio_p95_ms"] == 1000
    assert "agent capacity 1" in human_summary(figures)
