"""The agent worker's capacity as gauges, read from its capacity reporter at each scrape, and
served from the worker's main process (never a job process) on CALLFLOW_AGENT_METRICS_BIND."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from callflow.monitoring.metrics import serve_metrics
from callflow.ports import AgentWorkerReport


class AgentCapacityGauges(Collector):
    def __init__(self, current: Callable[[], AgentWorkerReport]) -> None:
        self._current = current

    def collect(self) -> Iterator[GaugeMetricFamily]:
        report = self._current()
        yield GaugeMetricFamily(
            "callflow_agent_worker_capacity",
            "Calls this agent worker takes at once (0 while draining)",
            value=report.capacity,
        )
        yield GaugeMetricFamily(
            "callflow_agent_active_calls", "Calls this agent worker is in", value=report.active
        )


def serve_agent_metrics(bind: str | None, current: Callable[[], AgentWorkerReport]) -> bool:
    """Serve the gauges of `current()` at http://<bind>/metrics; False when `bind` is unset."""
    if not bind:
        return False
    registry = CollectorRegistry()
    registry.register(AgentCapacityGauges(current))
    return serve_metrics(bind, registry)
