"""The report's figures from call records: pure functions, no I/O, no clock.

Definitions (each figure is over the calls the report covers):
- completion rate: calls `completed` / calls the system had to carry through, i.e. every
  outcome except those the user or an operator decided: `cancelled`, `skipped` (quiet hours),
  `declined`, `missed` (the phone rang and nobody answered). `no_agent`, `no_conversation`,
  `unreachable`, `no_capacity` and `failed` count against it.
- first audio: the record's `latency.first_audio_ms` (the phone joined -> the agent's first
  audio frame), over the calls that have one.
- memory fetch: `latency.memory_fetch_ms` (the store's search time; for a fetch that failed or
  timed out, how long the call waited for it).
- turn latency: every `turn_latencies_ms` entry (the user's end of speech -> the agent's first
  audio of its reply), pooled over all calls.
- webhook delivery rate: calls whose post-call webhook was delivered / calls whose webhook
  result is recorded.
- cost per call-minute: the sum of `cost_usd` / the sum of the minutes in the call (from the
  `in_call` stage to the end), over calls with both; compared with ElevenLabs' $0.10-0.30.
Percentiles are nearest-rank (p95 of 20 values is the 19th smallest).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from callflow.models import CallRecord

# Outcomes the user or an operator decided: not the system's to complete.
NOT_COUNTED_FOR_COMPLETION = frozenset({"cancelled", "skipped", "declined", "missed"})
BASELINE_PER_MINUTE_USD = {"low": 0.10, "high": 0.30}  # ElevenLabs' conversational AI
# The migration plan's success criteria (webhook delivery's is this project's own).
TARGETS: dict[str, dict[str, float]] = {
    "completion_rate": {"min": 0.95},
    "first_audio_ms": {"p95_max": 2000.0},
    "memory_fetch_ms": {"p95_max": 400.0},
    "turn_latency_ms": {"p95_max": 500.0},
    "webhook_delivery_rate": {"min": 0.99},
    # At least 20 % below the baseline's low end.
    "cost_per_minute_usd": {"max": round(BASELINE_PER_MINUTE_USD["low"] * 0.8, 4)},
}


def started(record: CallRecord) -> datetime:
    """The record's start (naive timestamps are UTC by the CallRecord contract)."""
    at = datetime.fromisoformat(record.started_at)
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return round(ordered[rank - 1], 1)


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def in_call_minutes(record: CallRecord) -> float | None:
    """Minutes from the record's `in_call` stage to its end; None for a call never in it."""
    joined = next((s.get("at") for s in record.stages if s.get("stage") == "in_call"), None)
    if not joined or not record.ended_at:
        return None
    start, end = datetime.fromisoformat(joined), datetime.fromisoformat(record.ended_at)
    return max(0.0, (end - start).total_seconds() / 60)


def completion_rate(records: Iterable[CallRecord]) -> float | None:
    counted = [r for r in records if r.outcome not in NOT_COUNTED_FOR_COMPLETION]
    return _ratio(sum(r.outcome == "completed" for r in counted), len(counted))


def cost_per_minute(records: Iterable[CallRecord]) -> tuple[float | None, float]:
    """(USD per call-minute, the minutes it is over)."""
    cost = minutes = 0.0
    for r in records:
        m = in_call_minutes(r)
        if r.cost_usd is not None and m:
            cost += r.cost_usd
            minutes += m
    return (round(cost / minutes, 4) if minutes else None), round(minutes, 3)


def _latencies(records: Iterable[CallRecord], key: str) -> list[float]:
    return [r.latency[key] for r in records if key in r.latency]


@dataclass
class DayFigures:
    day: str  # YYYY-MM-DD (UTC)
    calls: int
    outcomes: dict[str, int]
    completion_rate: float | None
    first_audio_p95_ms: float | None
    pushes_per_call: float | None
    degraded_memory_rate: float | None
    redispatches: int
    cost_per_minute_usd: float | None


@dataclass
class Report:
    calls: int
    since: str | None
    completion_rate: float | None
    first_audio_ms: dict[str, float | None]
    memory_fetch_ms: dict[str, float | None]
    turn_latency_ms: dict[str, float | None]
    webhook_delivery_rate: float | None
    cost_per_minute_usd: float | None
    call_minutes: float
    outcomes: dict[str, int]
    pushes_per_call: float | None
    degraded_memory_rate: float | None
    redispatches: int
    per_day: list[DayFigures] = field(default_factory=list)
    first_audio_values_ms: list[float] = field(default_factory=list)
    baseline_per_minute_usd: dict[str, float] = field(
        default_factory=lambda: dict(BASELINE_PER_MINUTE_USD)
    )
    targets: dict[str, dict[str, float]] = field(default_factory=lambda: dict(TARGETS))

    def criteria(self) -> list[dict[str, Any]]:
        """Each success criterion: its figure, its target, and whether it is met (None: no
        data)."""
        t = self.targets
        rows = [
            ("call completion rate", self.completion_rate, "min", t["completion_rate"]["min"]),
            ("agent first audio p95 (ms)", self.first_audio_ms["p95"], "max",
             t["first_audio_ms"]["p95_max"]),
            ("memory fetch p95 (ms)", self.memory_fetch_ms["p95"], "max",
             t["memory_fetch_ms"]["p95_max"]),
            ("turn latency p95 (ms)", self.turn_latency_ms["p95"], "max",
             t["turn_latency_ms"]["p95_max"]),
            ("post-call webhook delivery rate", self.webhook_delivery_rate, "min",
             t["webhook_delivery_rate"]["min"]),
            ("cost per call-minute (USD)", self.cost_per_minute_usd, "max",
             t["cost_per_minute_usd"]["max"]),
        ]  # fmt: skip
        out = []
        for name, value, kind, target in rows:
            met = None if value is None else (value >= target if kind == "min" else value <= target)
            out.append(
                {"criterion": name, "value": value, "target": f"{kind} {target}", "met": met}
            )
        return out

    def as_json(self) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "since": self.since,
            "completion_rate": self.completion_rate,
            "first_audio_ms": self.first_audio_ms,
            "memory_fetch_ms": self.memory_fetch_ms,
            "turn_latency_ms": self.turn_latency_ms,
            "webhook_delivery_rate": self.webhook_delivery_rate,
            "cost_per_minute_usd": self.cost_per_minute_usd,
            "baseline_per_minute_usd": self.baseline_per_minute_usd,
            "savings_vs_baseline": savings(self.cost_per_minute_usd),
            "call_minutes": self.call_minutes,
            "outcomes": self.outcomes,
            "pushes_per_call": self.pushes_per_call,
            "degraded_memory_rate": self.degraded_memory_rate,
            "redispatches": self.redispatches,
            "targets": self.targets,
            "criteria": self.criteria(),
            "per_day": [vars(d) for d in self.per_day],
        }


def savings(per_minute: float | None) -> dict[str, float] | None:
    """How far below each end of the baseline the cost per minute is (0.25 = 25 % cheaper)."""
    if per_minute is None:
        return None
    return {k: round(1 - per_minute / v, 4) for k, v in BASELINE_PER_MINUTE_USD.items()}


def _pushes_per_call(records: Sequence[CallRecord]) -> float | None:
    counted = [r.pushes_sent for r in records if r.pushes_sent is not None]
    return round(sum(counted) / len(counted), 3) if counted else None


def _day_figures(day: str, records: Sequence[CallRecord]) -> DayFigures:
    return DayFigures(
        day=day,
        calls=len(records),
        outcomes=dict(Counter(r.outcome for r in records)),
        completion_rate=completion_rate(records),
        first_audio_p95_ms=percentile(_latencies(records, "first_audio_ms"), 95),
        pushes_per_call=_pushes_per_call(records),
        degraded_memory_rate=_ratio(sum(r.memory_degraded for r in records), len(records)),
        redispatches=sum(r.agent_redispatches for r in records),
        cost_per_minute_usd=cost_per_minute(records)[0],
    )


def build_report(records: Sequence[CallRecord], *, since: datetime | None = None) -> Report:
    """The report over `records` (those that started at or after `since`, when given)."""
    if since is not None:
        records = [r for r in records if started(r) >= since]
    first_audio = _latencies(records, "first_audio_ms")
    memory = _latencies(records, "memory_fetch_ms")
    turns = [ms for r in records for ms in r.turn_latencies_ms]
    webhooks = [r.webhook_delivered for r in records if r.webhook_delivered is not None]
    per_minute, minutes = cost_per_minute(records)
    by_day: dict[str, list[CallRecord]] = {}
    for r in sorted(records, key=started):
        by_day.setdefault(started(r).astimezone(UTC).date().isoformat(), []).append(r)
    return Report(
        calls=len(records),
        since=since.isoformat() if since else None,
        completion_rate=completion_rate(records),
        first_audio_ms={"p50": percentile(first_audio, 50), "p95": percentile(first_audio, 95)},
        memory_fetch_ms={"p50": percentile(memory, 50), "p95": percentile(memory, 95)},
        turn_latency_ms={"p50": percentile(turns, 50), "p95": percentile(turns, 95)},
        webhook_delivery_rate=_ratio(sum(webhooks), len(webhooks)),
        cost_per_minute_usd=per_minute,
        call_minutes=minutes,
        outcomes=dict(Counter(r.outcome for r in records)),
        pushes_per_call=_pushes_per_call(records),
        degraded_memory_rate=_ratio(sum(r.memory_degraded for r in records), len(records)),
        redispatches=sum(r.agent_redispatches for r in records),
        per_day=[_day_figures(day, rs) for day, rs in by_day.items()],
        first_audio_values_ms=first_audio,
    )
