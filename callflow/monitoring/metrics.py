"""The call metrics, on one registry per process (`REGISTRY`), served by `serve_metrics`.

Names, with what the alert rules (deploy/monitoring/alerts.yml) read:
- `callflow_calls_total{outcome}`: calls by outcome once their record is saved (completion rate:
  completed over all but cancelled, skipped, declined, missed, as `callflow report` defines it)
- `callflow_first_audio_seconds`, `callflow_turn_latency_seconds`: the agent's first audio after
  the phone joined; each reply's user end of speech -> first audio (from the saved record)
- `callflow_memory_fetch_seconds`, `callflow_memory_fetch_failures_total`
- `callflow_pushes_total{result,status}`: VoIP pushes by result and APNs status
- `callflow_webhooks_total{result,status}`: post-call webhooks; status 2xx, 4xx, 5xx, transport
- `callflow_agent_slot_wait_seconds`, `callflow_agent_slot_waits_total{result}`: waits for agent
  capacity (granted / gave_up)
- `callflow_activity_oldest_running_seconds{activity}`: age of the oldest running attempt of each
  activity (a step that never ends: a stuck call)
- agent worker: `callflow_agent_worker_capacity`, `callflow_agent_active_calls`
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

_log = logging.getLogger(__name__)

REGISTRY = CollectorRegistry()

LATENCY_BUCKETS = (0.1, 0.25, 0.4, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0)
WAIT_BUCKETS = (0.1, 1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0)

CALLS = Counter("callflow_calls", "Calls by outcome, counted when the record is saved",
                ["outcome"], registry=REGISTRY)  # fmt: skip
FIRST_AUDIO = Histogram(
    "callflow_first_audio_seconds",
    "The phone joined -> the agent's first audio frame",
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
TURN_LATENCY = Histogram(
    "callflow_turn_latency_seconds",
    "The user's end of speech -> the agent's first audio of its reply",
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
MEMORY_FETCH = Histogram(
    "callflow_memory_fetch_seconds",
    "The memory store's search before a call",
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
MEMORY_FETCH_FAILURES = Counter(
    "callflow_memory_fetch_failures", "Memory fetch attempts that failed", registry=REGISTRY
)
MEMORY_DEGRADED = Counter(
    "callflow_memory_degraded_calls", "Calls that went on without memory", registry=REGISTRY
)
PUSHES = Counter("callflow_pushes", "VoIP pushes by result and APNs status",
                 ["result", "status"], registry=REGISTRY)  # fmt: skip
WEBHOOKS = Counter("callflow_webhooks", "Post-call webhooks by result and HTTP status class",
                   ["result", "status"], registry=REGISTRY)  # fmt: skip
SLOT_WAIT = Histogram(
    "callflow_agent_slot_wait_seconds",
    "How long a due call waited for an agent slot",
    buckets=WAIT_BUCKETS,
    registry=REGISTRY,
)
SLOT_WAITS = Counter("callflow_agent_slot_waits", "Waits for an agent slot by result",
                     ["result"], registry=REGISTRY)  # fmt: skip
REDISPATCHES = Counter(
    "callflow_agent_redispatches", "Agent dispatches beyond each attempt's first", registry=REGISTRY
)


class RunningActivities(Collector):
    """Start times of the running activity attempts; exported as the oldest age per activity."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._running: dict[int, tuple[str, float]] = {}
        self._next = 0

    def start(self, activity: str) -> int:
        with self._lock:
            self._next += 1
            self._running[self._next] = (activity, self._clock())
            return self._next

    def end(self, token: int) -> None:
        with self._lock:
            self._running.pop(token, None)

    def oldest(self) -> dict[str, float]:
        now = self._clock()
        with self._lock:
            ages: dict[str, float] = {}
            for activity, started in self._running.values():
                ages[activity] = max(ages.get(activity, 0.0), now - started)
            return ages

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "callflow_activity_oldest_running_seconds",
            "Age of the oldest running attempt of each activity",
            labels=["activity"],
        )
        for activity, age in sorted(self.oldest().items()):
            family.add_metric([activity], age)
        yield family


RUNNING = RunningActivities()
REGISTRY.register(RUNNING)

_served: dict[str, object] = {}


def serve_metrics(bind: str | None, registry: CollectorRegistry = REGISTRY) -> bool:
    """Serve `registry` at http://<bind>/metrics in a daemon thread, once per address; False
    when `bind` is unset."""
    if not bind:
        return False
    if bind not in _served:
        host, _, port = bind.rpartition(":")
        server, _thread = start_http_server(int(port), addr=host, registry=registry)
        _served[bind] = server
        _log.info("call metrics at http://%s/metrics", bind)
    return True
