"""One conversation's activity attempted again after it died between its writes and its
outcome: the retry counts it `imported` once (not `skipped` as if another run had done it)
and writes the same rows."""

from __future__ import annotations

import secrets
from typing import Any

import asyncpg

from activities.importing import ImportActivities
from callflow.analysis.offline import OfflineAnalyzer
from callflow.importer.ledger import PostgresImportLedger
from callflow.importer.ports import no_conversation_api
from callflow.memory.postgres import PostgresMemory
from callflow.models import User
from callflow.records.postgres import PostgresRecords
from tests.importer.elevenlabs_server import conversation_body
from tests.importer.test_elevenlabs_import import MONDAY
from workflows.import_messages import ImportSource, ItemInput, PageItem


class DiesBeforeTheOutcome:
    """The ledger, except that the first outcome write dies (as a killed worker would)."""

    def __init__(self, ledger: PostgresImportLedger) -> None:
        self._ledger = ledger
        self.died = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ledger, name)

    async def record_outcome(self, *args: Any, **kwargs: Any) -> Any:
        if not self.died:
            self.died = True
            raise RuntimeError("worker killed")
        return await self._ledger.record_outcome(*args, **kwargs)


async def test_a_retry_after_dying_before_the_outcome_counts_imported_once(
    records: PostgresRecords,
    pg_memory: PostgresMemory,
    ledger: PostgresImportLedger,
    db: asyncpg.Connection,
) -> None:
    tag = secrets.token_hex(3)
    user_id = f"dee-{tag}"
    await records.upsert_user(User(user_id, "Dee", None))
    body = conversation_body(
        f"retry-{tag}",
        agent_id="a",
        start_unix_s=MONDAY,
        turns=[("agent", "Hi"), ("user", "Tomorrow I will swim 20 lengths.")],
        dynamic_variables={"user_id": user_id},
    )
    dying = DiesBeforeTheOutcome(ledger)
    acts = ImportActivities(records, pg_memory, OfflineAnalyzer(), dying, no_conversation_api)
    item = ItemInput(f"run-{tag}", ImportSource(kind="file"), PageItem(f"retry-{tag}", body))

    try:
        await acts.import_conversation(item)
        raise AssertionError("the first attempt should have died")
    except RuntimeError:
        pass
    outcome = await acts.import_conversation(item)

    assert (outcome.status, outcome.reason) == ("imported", None)
    rows = await db.fetchrow(
        "select (select count(*) from calls where call_id = $1) as calls,"
        " (select source from calls where call_id = $1) as source,"
        " (select count(*) from memories where call_id = $1) as memories,"
        " (select count(*) from commitments where source_call_id = $1) as commitments",
        f"retry-{tag}",
    )
    assert dict(rows) == {"calls": 1, "source": "elevenlabs", "memories": 1, "commitments": 1}
