"""Temporal or the records store unreachable: the service answers 503 (LiveKit and apps retry)."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import httpx
import pytest
from temporalio.client import Client

from callflow.local.stack.postgres import LocalPostgres
from callflow.local.stack.temporal import free_port, start_dev_server
from callflow.records.postgres import PostgresRecords
from callflow.service import ServiceDeps, create_app
from tests.service.conftest import KNOWN_USER, Stack, auth_headers, service_settings
from tests.service.livekit_signing import event_body, signed_headers
from workflows.messages import CallInput, room_name_for, workflow_id_for

BUDGET_S = 1.0


def asgi_client(app: object) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    return httpx.AsyncClient(
        transport=transport, base_url="http://service.test", headers=auth_headers()
    )


async def test_temporal_gone_after_startup_is_503_with_retry_after(
    tmp_path_factory: pytest.TempPathFactory, records: PostgresRecords
) -> None:
    server = await start_dev_server(Path(tmp_path_factory.mktemp("temporal-doomed")))
    try:
        client = await Client.connect(server.address)
    finally:
        server.stop()  # Temporal dies after the service connected
    app = create_app(
        ServiceDeps(
            temporal=client,
            records=records,
            settings=service_settings(),
            temporal_budget_s=BUDGET_S,
        )
    )
    body = event_body("participant_joined", room_name_for("c0ffee", 1), identity=KNOWN_USER)

    async with asgi_client(app) as http:
        started = time.monotonic()
        webhook = await http.post("/livekit/webhook", content=body, headers=signed_headers(body))
        elapsed = time.monotonic() - started
        start = await http.post("/calls", json={"user_id": KNOWN_USER})

    assert webhook.status_code == 503, webhook.text
    assert webhook.headers["retry-after"] == "5"
    assert webhook.json()["error"]["code"] == "temporal_unavailable"
    assert elapsed < BUDGET_S + 2.5, elapsed  # the SDK alone would retry for ~10 s
    assert start.status_code == 503, start.text


async def test_lazy_client_factory_with_temporal_never_up_is_503(records: PostgresRecords) -> None:
    address = f"127.0.0.1:{free_port()}"  # nothing listens here
    attempts = 0

    async def connect() -> Client:
        nonlocal attempts
        attempts += 1
        return await Client.connect(address)

    app = create_app(
        ServiceDeps(
            temporal=connect,
            records=records,
            settings=service_settings(),
            temporal_budget_s=BUDGET_S,
        )
    )
    body = event_body("room_finished", room_name_for("c0ffee", 1))

    async with asgi_client(app) as http:
        health = await http.get("/healthz")
        first = await http.post("/livekit/webhook", content=body, headers=signed_headers(body))
        second = await http.get("/calls/c0ffee")

    assert health.status_code == 200  # the service is up even while Temporal is not
    assert first.status_code == second.status_code == 503
    assert "cannot connect to Temporal" in first.json()["error"]["message"]
    assert attempts == 2  # a failed connection is not cached; each request tries again


async def test_records_store_failure_is_503_without_its_details(
    area_database: LocalPostgres, stack: Stack
) -> None:
    broken = await PostgresRecords.connect(area_database.dsn)
    await broken.close()  # every query now fails inside the adapter
    app = create_app(
        ServiceDeps(temporal=stack.client, records=broken, settings=service_settings())
    )

    async with asgi_client(app) as http:
        response = await http.post("/calls", json={"user_id": KNOWN_USER})

    assert response.status_code == 503
    error = response.json()["error"]
    assert error["code"] == "records_unavailable"
    assert area_database.dsn not in error["message"]


async def test_no_worker_answering_is_503_within_the_budget(
    stack: Stack, records: PostgresRecords
) -> None:
    call_id = uuid.uuid4().hex
    await stack.client.start_workflow(
        "CallWorkflow",
        CallInput(call_id=call_id, user_id=KNOWN_USER),
        id=workflow_id_for(call_id),
        task_queue="no-worker-polls-this",
    )
    app = create_app(
        ServiceDeps(
            temporal=stack.client,
            records=records,
            settings=service_settings(),
            temporal_budget_s=BUDGET_S,
        )
    )

    async with asgi_client(app) as http:
        started = time.monotonic()
        cancel = await http.post(f"/calls/{call_id}/cancel", json={"reason": "stuck"})
        status = await http.get(f"/calls/{call_id}")
        elapsed = time.monotonic() - started

    for response in (cancel, status):
        assert response.status_code == 503, response.text
        assert "no worker polling the task queue" in response.json()["error"]["message"]
    assert elapsed < 2 * BUDGET_S + 2.5, elapsed
    await stack.client.get_workflow_handle(workflow_id_for(call_id)).terminate("test done")
