"""Call records with known figures, shared by the report's tests: 2 days, 10 calls."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from callflow.models import CallRecord

DAY1 = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
DAY2 = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)


def record(
    n: int,
    outcome: str,
    start: datetime,
    *,
    first_audio_ms: float | None = None,
    memory_fetch_ms: float | None = None,
    turns_ms: tuple[float, ...] = (),
    call_minutes: float = 0.0,
    cost_usd: float | None = None,
    webhook: bool | None = True,
    pushes: int | None = 1,
    degraded: bool = False,
    redispatches: int = 0,
) -> CallRecord:
    joined = start + timedelta(seconds=30)
    ended = joined + timedelta(minutes=call_minutes)
    stages = [{"stage": "scheduled", "at": start.isoformat()}]
    if call_minutes:
        stages.append({"stage": "in_call", "at": joined.isoformat()})
    latency: dict[str, float] = {}
    if first_audio_ms is not None:
        latency["first_audio_ms"] = first_audio_ms
    if memory_fetch_ms is not None:
        latency["memory_fetch_ms"] = memory_fetch_ms
    return CallRecord(
        call_id=f"report-call-{n:02d}",
        user_id="report-user",
        outcome=outcome,
        attempts=1,
        started_at=start.isoformat(),
        ended_at=ended.isoformat(),
        memory_degraded=degraded,
        cost_usd=cost_usd,
        latency=latency,
        stages=stages,
        agent_redispatches=redispatches,
        turn_latencies_ms=list(turns_ms),
        pushes_sent=pushes,
        webhook_delivered=webhook,
    )


def known_records() -> list[CallRecord]:
    """Day 1: 4 completed, 1 failed, 1 cancelled; day 2: 2 completed, 1 no_agent, 1 missed.

    completion = 6 completed / 8 counted (cancelled and missed are not) = 0.75
    first audio (6 values 100..600): p50 300, p95 600
    memory fetch (5 values 50..250, one degraded 400): p50 150, p95 400
    turn latency (pooled 10 values 100..1000): p50 500, p95 1000
    webhook: 8 delivered of 9 known = 0.8889 (one failed, one has no result recorded)
    cost: 0.30 USD over 6 minutes = 0.05 per minute
    pushes: 13 over 10 counted calls = 1.3; degraded 1 of 10; re-dispatches 2
    """
    t = DAY1
    return [
        record(1, "completed", t, first_audio_ms=100, memory_fetch_ms=50, turns_ms=(100, 200),
               call_minutes=1, cost_usd=0.05),
        record(2, "completed", t + timedelta(hours=1), first_audio_ms=200, memory_fetch_ms=100,
               turns_ms=(300, 400), call_minutes=1, cost_usd=0.05, pushes=2),
        record(3, "completed", t + timedelta(hours=2), first_audio_ms=300, memory_fetch_ms=150,
               turns_ms=(500,), call_minutes=1, cost_usd=0.05, redispatches=1),
        record(4, "completed", t + timedelta(hours=3), first_audio_ms=400, memory_fetch_ms=200,
               turns_ms=(600, 700), call_minutes=1, cost_usd=0.05),
        record(5, "failed", t + timedelta(hours=4), webhook=False, pushes=0),
        record(6, "cancelled", t + timedelta(hours=5), pushes=0),
        record(7, "completed", DAY2, first_audio_ms=500, memory_fetch_ms=250, turns_ms=(800, 900),
               call_minutes=1, cost_usd=0.05),
        record(8, "completed", DAY2 + timedelta(hours=1), first_audio_ms=600, memory_fetch_ms=400,
               turns_ms=(1000,), call_minutes=1, cost_usd=0.05, degraded=True, webhook=None),
        record(9, "no_agent", DAY2 + timedelta(hours=2), redispatches=1, pushes=3),
        record(10, "missed", DAY2 + timedelta(hours=3), pushes=3),
    ]  # fmt: skip
