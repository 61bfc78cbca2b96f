"""Telemetry on: spans from a real workflow run and Temporal metrics on Prometheus. Off: nothing."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from temporalio.client import Client
from temporalio.worker import Worker

from callflow.local.stack.temporal import DevServer, free_port
from callflow.settings import Settings
from callflow.telemetry import (
    SDK_CORE_LOGGER,
    TelemetryError,
    asgi_metrics_middleware,
    temporal_interceptors,
    temporal_runtime,
    tracer_provider,
)
from tests.codec.echo_workflow import EchoWorkflow, repeat_back


def api_app() -> Starlette:
    async def show_call(request: Request) -> PlainTextResponse:
        return PlainTextResponse(request.path_params["call_id"])

    return Starlette(routes=[Route("/calls/{call_id}", show_call)])


async def port_is_open(port: int) -> bool:
    try:
        async with httpx.AsyncClient() as http:
            await http.get(f"http://127.0.0.1:{port}/metrics", timeout=1)
        return True
    except httpx.ConnectError:
        return False


async def test_disabled_starts_nothing() -> None:
    port = free_port()
    settings = Settings(telemetry_enabled=False, prometheus_bind=f"127.0.0.1:{port}")
    app = api_app()
    runtime = temporal_runtime(settings)
    assert runtime is temporal_runtime(settings)  # logs only: no metrics endpoint
    assert temporal_interceptors(settings) == []
    assert tracer_provider(settings) is None
    assert asgi_metrics_middleware(app, settings) is app
    assert not await port_is_open(port)


def test_bad_prometheus_bind_names_the_variable() -> None:
    with pytest.raises(TelemetryError, match="CALLFLOW_PROMETHEUS_BIND='9464'"):
        temporal_runtime(Settings(telemetry_enabled=True, prometheus_bind="9464"))


async def test_enabled_traces_a_workflow_and_serves_temporal_metrics(
    temporal_dev_server: DevServer,
) -> None:
    port = free_port()
    settings = Settings(telemetry_enabled=True, prometheus_bind=f"127.0.0.1:{port}")
    spans = InMemorySpanExporter()
    provider = tracer_provider(settings, exporter=spans)
    runtime = temporal_runtime(settings)
    assert runtime is not None and temporal_runtime(settings) is runtime  # one per address

    client = await Client.connect(
        temporal_dev_server.address,
        runtime=runtime,
        interceptors=temporal_interceptors(settings, provider),
    )
    workflow_id = f"telemetry-{os.urandom(4).hex()}"
    async with Worker(
        client, task_queue="telemetry", workflows=[EchoWorkflow], activities=[repeat_back]
    ):
        result = await client.execute_workflow(
            EchoWorkflow.run, "hello", id=workflow_id, task_queue="telemetry"
        )
    assert result == "you said: hello"

    names = {span.name for span in spans.get_finished_spans()}
    assert {
        "StartWorkflow:EchoWorkflow",
        "RunWorkflow:EchoWorkflow",
        "StartActivity:repeat_back",
        "RunActivity:repeat_back",
    } <= names, names
    trace_ids = {span.context.trace_id for span in spans.get_finished_spans() if span.context}
    assert len(trace_ids) == 1  # one call, one trace: client, workflow and activity spans joined

    async with httpx.AsyncClient() as http:
        metrics = (await http.get(f"http://127.0.0.1:{port}/metrics")).text
    assert "temporal_workflow_completed" in metrics
    assert "temporal_activity_execution_latency" in metrics


async def test_api_middleware_counts_requests_by_route_template() -> None:
    settings = Settings(telemetry_enabled=True)
    app = asgi_metrics_middleware(api_app(), settings)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://api"
    ) as http:
        assert (await http.get("/calls/c-1")).text == "c-1"
        await http.get("/calls/c-2")
        assert (await http.get("/nowhere")).status_code == 404
        metrics = await http.get("/metrics")
    assert metrics.headers["content-type"].startswith("text/plain")
    text = metrics.text
    assert (
        'callflow_http_requests_total{method="GET",route="/calls/{call_id}",status="200"} 2.0'
        in text
    )
    assert 'callflow_http_requests_total{method="GET",route="unmatched",status="404"} 1.0' in text
    assert (
        'callflow_http_request_duration_seconds_count{method="GET",route="/calls/{call_id}"} 2.0'
        in text
    )
    assert "c-1" not in text  # raw paths (ids) never become labels


def test_sdk_core_logs_go_to_logging_never_stdout(temporal_dev_server: DevServer) -> None:
    # A child whose stdout is an undrained pipe blocks once the core writes 64 KiB to it.
    done = subprocess.run(
        [sys.executable, "-m", "tests.support.late_activity", temporal_dev_server.address],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stdout.splitlines() == ["done timed out"]
    assert SDK_CORE_LOGGER in done.stderr
    assert "Activity not found on completion" in done.stderr
