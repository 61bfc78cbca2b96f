"""The call metrics: what each activity's result or error adds, recorded by the worker's
interceptor around real activities of a real call, and served over HTTP."""

from __future__ import annotations

import socket
import urllib.request

from prometheus_client import CollectorRegistry

from activities.memory import FetchMemoryOutput
from activities.records import SaveRecordInput
from activities.ring import RingOutput
from activities.slots import HoldSlotOutput
from callflow.models import CallRecord
from callflow.monitoring.activity_metrics import observe
from callflow.monitoring.agent_metrics import AgentCapacityGauges, serve_agent_metrics
from callflow.monitoring.metrics import REGISTRY, RunningActivities, serve_metrics
from callflow.notify.errors import WebhookRejected, WebhookUndeliverable
from callflow.ports import AgentWorkerReport
from callflow.push.errors import PushRejected
from tests.workflows.test_call_workflow import Harness, h  # noqa: F401 (the fixture)


def value(name: str, registry: CollectorRegistry = REGISTRY, **labels: str) -> float:
    return registry.get_sample_value(name, labels) or 0.0


def record(outcome: str = "completed") -> CallRecord:
    return CallRecord(
        call_id="m-1",
        user_id="u",
        outcome=outcome,
        attempts=1,
        started_at="2026-11-28T09:00:00+00:00",
        ended_at="2026-11-28T09:02:00+00:00",
        memory_degraded=True,
        latency={"first_audio_ms": 2500.0},
        turn_latencies_ms=[300.0, 450.0],
        agent_redispatches=1,
    )


def test_a_saved_record_counts_its_call_and_its_latencies() -> None:
    before = {
        "calls": value("callflow_calls_total", outcome="no_agent"),
        "slow": value("callflow_first_audio_seconds_count"),
        "fast": value("callflow_first_audio_seconds_bucket", le="2.0"),
        "turns": value("callflow_turn_latency_seconds_count"),
        "degraded": value("callflow_memory_degraded_calls_total"),
        "redispatches": value("callflow_agent_redispatches_total"),
    }
    observe("save_call_record", [SaveRecordInput(record("no_agent"))], None, None)

    assert value("callflow_calls_total", outcome="no_agent") == before["calls"] + 1
    assert value("callflow_first_audio_seconds_count") == before["slow"] + 1
    assert value("callflow_first_audio_seconds_bucket", le="2.0") == before["fast"]  # 2.5 s
    assert value("callflow_turn_latency_seconds_count") == before["turns"] + 2
    assert value("callflow_memory_degraded_calls_total") == before["degraded"] + 1
    assert value("callflow_agent_redispatches_total") == before["redispatches"] + 1


def test_pushes_webhooks_memory_and_slot_waits() -> None:
    sent = value("callflow_pushes_total", result="sent", status="200")
    refused = value("callflow_pushes_total", result="PushRejected", status="400")
    w5xx = value("callflow_webhooks_total", result="WebhookUndeliverable", status="5xx")
    w4xx = value("callflow_webhooks_total", result="WebhookRejected", status="4xx")
    fetches = value("callflow_memory_fetch_seconds_count")
    gave_up = value("callflow_agent_slot_waits_total", result="gave_up")

    ring = RingOutput(room="r", apns_id="a", push_sent=True, duplicate_suppressed=False,
                      expires_at="")  # fmt: skip
    observe("ring", [], ring, None)
    observe("ring", [], None, PushRejected("BadDeviceToken", status=400, reason="BadDeviceToken"))
    observe("notify_app_backend", [], None, WebhookUndeliverable("... (last: HTTP 503)"))
    observe("notify_app_backend", [], None, WebhookRejected("refused", status=401))
    observe("fetch_memory", [], FetchMemoryOutput(items=[], elapsed_ms=12.5), None)
    observe("hold_agent_slot", [], HoldSlotOutput(False, 0, 0, 3, 600.0), None)

    assert value("callflow_pushes_total", result="sent", status="200") == sent + 1
    assert value("callflow_pushes_total", result="PushRejected", status="400") == refused + 1
    assert value("callflow_webhooks_total", result="WebhookUndeliverable", status="5xx") == w5xx + 1
    assert value("callflow_webhooks_total", result="WebhookRejected", status="4xx") == w4xx + 1
    assert value("callflow_memory_fetch_seconds_count") == fetches + 1
    assert value("callflow_agent_slot_waits_total", result="gave_up") == gave_up + 1


def test_the_oldest_running_attempt_per_activity() -> None:
    now = [100.0]
    running = RunningActivities(clock=lambda: now[0])
    first = running.start("ring")
    now[0] = 130.0
    running.start("ring")
    running.start("save_call_record")
    now[0] = 700.0
    assert running.oldest() == {"ring": 600.0, "save_call_record": 570.0}
    running.end(first)
    assert running.oldest()["ring"] == 570.0


async def test_a_real_call_through_the_worker_is_counted(h: Harness) -> None:  # noqa: F811
    completed = value("callflow_calls_total", outcome="completed")
    delivered = value("callflow_webhooks_total", result="delivered", status="2xx")
    fetches = value("callflow_memory_fetch_seconds_count")
    pushes = value("callflow_pushes_total", result="sent", status="200")

    result, _ = await h.run(["answer"])

    assert result.outcome == "completed"
    assert value("callflow_calls_total", outcome="completed") == completed + 1
    assert value("callflow_webhooks_total", result="delivered", status="2xx") == delivered + 1
    assert value("callflow_memory_fetch_seconds_count") == fetches + 1
    assert value("callflow_pushes_total", result="sent", status="200") == pushes + 1
    assert value("callflow_first_audio_seconds_count") >= 1


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_endpoints_serve_the_metrics() -> None:
    worker_bind, agent_bind = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
    assert serve_metrics(None) is False
    assert serve_metrics(worker_bind) is True
    report = AgentWorkerReport("w-1", capacity=4, active=3)
    assert serve_agent_metrics(agent_bind, lambda: report) is True

    worker = urllib.request.urlopen(f"http://{worker_bind}/metrics", timeout=10).read().decode()
    agent = urllib.request.urlopen(f"http://{agent_bind}/metrics", timeout=10).read().decode()
    assert "callflow_calls_total" in worker and "callflow_first_audio_seconds_bucket" in worker
    assert "callflow_agent_worker_capacity 4.0" in agent
    assert "callflow_agent_active_calls 3.0" in agent


def test_agent_gauges_read_the_current_report() -> None:
    registry = CollectorRegistry()
    reports = [AgentWorkerReport("w", capacity=4, active=1), AgentWorkerReport("w", 0, 0)]
    registry.register(AgentCapacityGauges(lambda: reports[0]))
    assert value("callflow_agent_worker_capacity", registry) == 4
    reports.pop(0)
    assert value("callflow_agent_worker_capacity", registry) == 0
