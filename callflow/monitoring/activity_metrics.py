"""`ActivityMetrics`: the worker interceptor that turns activity inputs, outputs and errors into
the call metrics (callflow/monitoring/metrics.py), so no activity has to know about Prometheus.

Registered inside `ErrorEdge` (callflow/runtime.py), it sees the adapters' own errors with their
HTTP status before they become `ApplicationError`s. Figures of a whole call (outcome, first
audio, turn latency, degraded memory, re-dispatches) are read from the record when
`save_call_record` succeeds: that is once per call, as the records count it.
"""

from __future__ import annotations

import re
from typing import Any

from temporalio import activity
from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput, Interceptor

from callflow.monitoring import metrics as m

_HTTP_STATUS = re.compile(r"HTTP (\d)\d\d")


def status_class(status: int | None) -> str:
    return f"{status // 100}xx" if status else "transport"


def observe_saved_record(record: Any) -> None:
    m.CALLS.labels(record.outcome).inc()
    latency = record.latency or {}
    if "first_audio_ms" in latency:
        m.FIRST_AUDIO.observe(latency["first_audio_ms"] / 1000)
    for ms in getattr(record, "turn_latencies_ms", None) or []:
        m.TURN_LATENCY.observe(ms / 1000)
    if record.memory_degraded:
        m.MEMORY_DEGRADED.inc()
    if record.agent_redispatches:
        m.REDISPATCHES.inc(record.agent_redispatches)


def observe(activity_type: str, args: Any, result: Any, error: BaseException | None) -> None:
    """Record one finished activity attempt (`error` None: it returned `result`)."""
    if activity_type == "save_call_record" and error is None and args:
        observe_saved_record(args[0].record)
    elif activity_type == "fetch_memory":
        if error is not None:
            m.MEMORY_FETCH_FAILURES.inc()
        elif getattr(result, "elapsed_ms", None) is not None:
            m.MEMORY_FETCH.observe(result.elapsed_ms / 1000)
    elif activity_type == "ring":
        if error is None:
            if result.push_sent:
                m.PUSHES.labels("in_doubt" if result.push_in_doubt else "sent", "200").inc()
        else:
            status = getattr(error, "status", None)
            result_name = type(error).__name__
            m.PUSHES.labels(result_name, str(status) if status else "none").inc()
    elif activity_type == "notify_app_backend":
        if error is None:
            if result.delivered:
                m.WEBHOOKS.labels("delivered", "2xx").inc()
            else:
                m.WEBHOOKS.labels("not_configured", "none").inc()
        else:
            status = getattr(error, "status", None)
            if status is None and (found := _HTTP_STATUS.search(str(error))):
                status = int(found[1]) * 100
            m.WEBHOOKS.labels(type(error).__name__, status_class(status)).inc()
    elif activity_type == "hold_agent_slot" and error is None:
        m.SLOT_WAIT.observe(result.waited_s)
        m.SLOT_WAITS.labels("granted" if result.granted else "gave_up").inc()


class ActivityMetrics(Interceptor):
    """Worker interceptor recording the call metrics of every activity attempt."""

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _MetricsInbound(next)


class _MetricsInbound(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        activity_type = activity.info().activity_type
        token = m.RUNNING.start(activity_type)
        try:
            result = await self.next.execute_activity(input)
        except Exception as e:  # a cancellation is no result of the step: not counted
            _safely(activity_type, input.args, None, e)
            raise
        finally:
            m.RUNNING.end(token)
        _safely(activity_type, input.args, result, None)
        return result


def _safely(activity_type: str, args: Any, result: Any, error: BaseException | None) -> None:
    # Metrics never fail an activity.
    try:
        observe(activity_type, args, result, error)
    except Exception:
        activity.logger.exception("call metrics for %s not recorded", activity_type)
