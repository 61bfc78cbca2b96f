from __future__ import annotations

import json
from typing import Any

import pytest

from callflow.local.bench.errors import BenchInputError
from callflow.local.bench.peak import PeakOptions, count_pushes, human_summary, meets_targets
from callflow.local.bench.stats import percentile, summary_ms
from callflow.local.phone.apns_endpoint import ReceivedPush
from tests.local.bench.conftest import SMALL_PEAK_CALLS

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
