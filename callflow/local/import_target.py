"""Where `callflow import` runs (callflow/importer/runner.py runs it): with a database
configured, the configured Temporal and the deployed workers, which register the import; with
none, the local stack's records (the demo's embedded Postgres, records_access.py) with a
Temporal dev server and a worker of the command's own, for its lifetime. A run cut short
there is taken up by running the command again: what was imported is skipped.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from temporalio.client import Client
from temporalio.worker import Worker

from callflow.importer.runner import ImportTarget, query_status
from callflow.settings import Settings
from workflows.import_history import ImportHistoryWorkflow
from workflows.import_messages import ImportReport

LOCAL_TASK_QUEUE = "callflow-import-local"


@asynccontextmanager
async def import_target(settings: Settings) -> AsyncIterator[ImportTarget]:
    from callflow.local.records_access import has_configured_records, local_records_settings

    if has_configured_records(settings):
        from callflow.temporal_client import connect_temporal

        yield ImportTarget(await connect_temporal(settings), settings.task_queue, settings)
        return
    async with AsyncExitStack() as stack:
        local = await stack.enter_async_context(local_records_settings(settings))
        yield await _local_target(local, stack)


async def _local_target(settings: Settings, stack: AsyncExitStack) -> ImportTarget:
    from activities.error_edge import ErrorEdge
    from callflow.importer.ledger import PostgresImportLedger
    from callflow.local.stack.reaper import Reaper
    from callflow.local.stack.temporal import start_dev_server
    from callflow.runtime import (
        Ports,
        build_analyzer,
        build_history_import,
        build_memory,
        build_records,
        import_activities,
    )

    if not logging.getLogger().isEnabledFor(logging.INFO):
        # A failed item is in the report with its reason: its traceback only with -v.
        logging.getLogger("temporalio.activity").setLevel(logging.ERROR)
    # The dev server is this command's child: a watchdog stops it should the command be killed.
    reaper = Reaper()
    reaper.start()
    stack.push_async_callback(reaper.close)
    server = await start_dev_server(settings.state_dir / "import")
    stack.callback(server.stop)
    reaper.watch_now()
    client = await Client.connect(server.address, namespace=settings.temporal_namespace)
    records = await build_records(settings, stack)
    memory = await build_memory(settings, stack)
    history = await build_history_import(settings, stack)
    assert isinstance(history.adapter.ledger, PostgresImportLedger)
    ports = Ports(
        records=records.adapter,
        memory=memory.adapter,
        push=None,  # type: ignore[arg-type]  # an import rings nobody
        rooms=None,  # type: ignore[arg-type]
        analyzer=build_analyzer(settings).adapter,
        notifier=None,
        history_import=history.adapter,
    )
    worker = Worker(
        client,
        task_queue=LOCAL_TASK_QUEUE,
        workflows=[ImportHistoryWorkflow],
        activities=import_activities(ports).all(),
        interceptors=[ErrorEdge()],
    )
    await stack.enter_async_context(worker)
    return ImportTarget(client, LOCAL_TASK_QUEUE, settings)


async def find_report(settings: Settings, run_id: str) -> ImportReport | None:
    """The run's live status from Temporal when it answers, else the report stored with it."""
    from callflow.importer.ledger import PostgresImportLedger
    from callflow.local.records_access import has_configured_records, local_records_settings

    if has_configured_records(settings):
        try:
            from callflow.temporal_client import connect_temporal

            client = await asyncio.wait_for(connect_temporal(settings), 5)
        except Exception:  # Temporal down: the stored report still answers
            client = None
        if client is not None:
            live = await query_status(client, run_id)
            if live is not None:
                return live
    async with local_records_settings(settings) as local:
        if not local.database_url:
            return None
        ledger = await PostgresImportLedger.connect(local.database_url)
        try:
            return await ledger.get_report(run_id)
        finally:
            await ledger.close()
