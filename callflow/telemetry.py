"""Tracing and metrics, off by default; CALLFLOW_TELEMETRY_ENABLED=true turns all of it on.

- The Temporal SDK's own log lines always go through Python logging (stderr), never to stdout:
  the SDK core writes to stdout by default, and a child process whose stdout is a pipe nobody
  drains blocks inside the core once the pipe is full (a whole worker stopped polling that way).
- Temporal SDK metrics: a `Runtime` whose Prometheus endpoint listens on CALLFLOW_PROMETHEUS_BIND.
- A process that made runtimes ends them with `shutdown_sdk_runtimes()` before the interpreter
  exits (the `callflow` entry point does). The core's threads call into Python holding the GIL:
  an RPC's result is handed to the event loop from a core thread, which needs the GIL again for
  a moment after the loop already has the result, and forwarded logs run a Python callback. A
  thread that asks for the GIL once interpreter finalisation has begun is ended by CPython in
  the middle of that call, and unwinding it aborts the process (`Fatal Python error:
  PyGILState_Release`, exit status -6) after the command printed its output. Dropping a
  runtime's last reference while Python still runs stops its threads and waits for them (the
  bridge releases the GIL while it waits), so none is left to call in during finalisation.
- Traces: Temporal's `TracingInterceptor` on a callflow-owned `TracerProvider`, exporting to
  CALLFLOW_OTLP_ENDPOINT (OTLP/gRPC) when set, else to the console.
- The API service: `asgi_metrics_middleware` counts and times requests and serves `/metrics`.

With telemetry off, every function returns "nothing" ([], the app unchanged, a runtime without
metrics), so callers need no branches and no port is opened.
"""

from __future__ import annotations

import gc
import logging
import time
import weakref
from collections.abc import Sequence
from typing import Any

import temporalio.client
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
)
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client import generate_latest as render_metrics
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from temporalio.contrib.opentelemetry import TracingInterceptor
from temporalio.runtime import (
    LogForwardingConfig,
    LoggingConfig,
    PrometheusConfig,
    Runtime,
    TelemetryConfig,
    TelemetryFilter,
)

from callflow.settings import Settings


class TelemetryError(Exception):
    """Telemetry is misconfigured; the message names the variable and the fix."""


# One Runtime per metrics address (None: no metrics) for the life of the process: a second
# Runtime on the same address would fail to bind, and each Runtime owns a thread pool.
_runtimes: dict[str | None, Runtime] = {}
_providers: dict[tuple[str, str | None], TracerProvider] = {}
SDK_CORE_LOGGER = "temporalio.core"
_log = logging.getLogger(__name__)


def _check_bind(bind: str) -> str:
    host, sep, port = bind.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise TelemetryError(
            f"CALLFLOW_PROMETHEUS_BIND={bind!r} is not host:port (example: 127.0.0.1:9464)"
        )
    return bind


def sdk_runtime(prometheus_bind: str | None = None) -> Runtime:
    """The SDK runtime: core logs (warnings and up) forwarded to the `temporalio.core` logger,
    and Temporal metrics served on `prometheus_bind` when one is given."""
    if prometheus_bind not in _runtimes:
        logs = LoggingConfig(
            filter=TelemetryFilter(core_level="WARN", other_level="ERROR"),
            forwarding=LogForwardingConfig(logger=logging.getLogger(SDK_CORE_LOGGER)),
        )
        metrics = PrometheusConfig(bind_address=prometheus_bind) if prometheus_bind else None
        try:
            _runtimes[prometheus_bind] = Runtime(
                telemetry=TelemetryConfig(logging=logs, metrics=metrics)
            )
        except Exception as e:  # the bridge raises a plain RuntimeError on bind failure
            raise TelemetryError(
                f"could not serve Temporal metrics on CALLFLOW_PROMETHEUS_BIND={prometheus_bind}:"
                f" {e} (pick a free port)"
            ) from e
    return _runtimes[prometheus_bind]


def shutdown_sdk_runtimes() -> int:
    """Drop the runtimes `sdk_runtime` made, stopping their threads now; return how many are
    still referenced elsewhere (by a live client or worker) and so still running.

    Call it once the process is done with Temporal, with every client and worker out of reach:
    a runtime only stops when its last reference goes, and clients sit in reference cycles,
    hence the collection. `sdk_runtime` makes new runtimes afterwards.
    """
    refs = [weakref.ref(runtime) for runtime in _runtimes.values()]
    _runtimes.clear()
    gc.collect()
    alive = sum(ref() is not None for ref in refs)
    if alive:
        _log.warning(
            "%d Temporal SDK runtime(s) still referenced at shutdown: a client or worker outlived"
            " its work, and its threads may abort the interpreter at exit",
            alive,
        )
    return alive


def temporal_runtime(settings: Settings) -> Runtime:
    """The runtime for `Client.connect`: with Prometheus metrics when telemetry is on."""
    if not settings.telemetry_enabled:
        return sdk_runtime()
    return sdk_runtime(_check_bind(settings.prometheus_bind))


def tracer_provider(
    settings: Settings, *, service_name: str = "callflow", exporter: SpanExporter | None = None
) -> TracerProvider | None:
    """A provider exporting to `exporter`, else to OTLP, else to the console.

    Not installed as the global provider: libraries that trace on their own keep their
    choice, and tests can make one per exporter.
    """
    if not settings.telemetry_enabled:
        return None
    return _build_provider(settings, service_name, exporter)


def _build_provider(
    settings: Settings, service_name: str, exporter: SpanExporter | None
) -> TracerProvider:
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    if exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    elif settings.otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        endpoint = settings.otlp_endpoint
        provider.add_span_processor(
            BatchSpanProcessor(
                OTLPSpanExporter(endpoint=endpoint, insecure=endpoint.startswith("http://"))
            )
        )
    else:
        provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
    return provider


def temporal_interceptors(
    settings: Settings, provider: TracerProvider | None = None, *, service_name: str = "callflow"
) -> list[temporalio.client.Interceptor]:
    """Interceptors for `Client.connect(interceptors=...)` (workers of that client get them too)."""
    if not settings.telemetry_enabled:
        return []
    if provider is None:
        key = (service_name, settings.otlp_endpoint)
        if key not in _providers:
            _providers[key] = _build_provider(settings, service_name, None)
        provider = _providers[key]
    # Calls start from schedules, where no client span exists: create workflow spans anyway.
    return [TracingInterceptor(provider.get_tracer("callflow"), always_create_workflow_spans=True)]


class _RequestMetrics:
    """ASGI middleware: request counter and latency histogram by route template, plus /metrics."""

    def __init__(self, app: ASGIApp, registry: CollectorRegistry, path: str) -> None:
        self.app = app
        self.registry = registry
        self.path = path
        self.requests = Counter(
            "callflow_http_requests",
            "HTTP requests served, by method, route template and status",
            ["method", "route", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "callflow_http_request_duration_seconds",
            "HTTP request latency, by method and route template",
            ["method", "route"],
            registry=registry,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"] == self.path and scope["method"] == "GET":
            body = render_metrics(self.registry)
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", CONTENT_TYPE_LATEST.encode())],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        status = 500
        started = time.perf_counter()

        async def send_recording(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_recording)
        finally:
            route = _route_template(scope)
            self.requests.labels(scope["method"], route, str(status)).inc()
            self.latency.labels(scope["method"], route).observe(time.perf_counter() - started)


def _route_template(scope: Scope) -> str:
    # The template ("/calls/{call_id}"), never the raw path: ids would explode label cardinality.
    route: Any = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"


def asgi_metrics_middleware(
    app: ASGIApp,
    settings: Settings,
    *,
    registry: CollectorRegistry | None = None,
    path: str = "/metrics",
) -> ASGIApp:
    """Wrap `app` with request metrics and a `/metrics` endpoint; `app` itself when disabled."""
    if not settings.telemetry_enabled:
        return app
    return _RequestMetrics(app, registry or CollectorRegistry(), path)


__all__: Sequence[str] = [
    "TelemetryError",
    "asgi_metrics_middleware",
    "sdk_runtime",
    "shutdown_sdk_runtimes",
    "temporal_interceptors",
    "temporal_runtime",
    "tracer_provider",
]
