"""What the import activities are given (activities/importing.py): the source API and the
ledger, as Protocols, so the activities never import an adapter."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from callflow.importer.conversation import SourceConversation
from callflow.importer.errors import ImportNotConfigured
from workflows.import_messages import ImportReport, ItemOutcome


class ConversationApi(Protocol):
    async def check_agent(self, agent_id: str) -> None:
        """Raises SourceRefused for an unknown agent."""
        ...

    async def list_page(
        self, agent_id: str, cursor: str | None, page_size: int, since_unix_s: int | None
    ) -> tuple[list[str], str | None]: ...

    async def get(self, conversation_id: str) -> SourceConversation: ...


class ImportLedger(Protocol):
    async def item_outcome(self, run_id: str, item_id: str) -> ItemOutcome | None: ...
    async def record_outcome(
        self,
        run_id: str,
        outcome: ItemOutcome,
        call_id: str | None = None,
        source: str | None = None,
    ) -> ItemOutcome: ...
    async def already_imported(self, call_id: str, source: str) -> bool: ...
    async def save_report(self, report: ImportReport) -> None: ...
    async def get_report(self, run_id: str) -> ImportReport | None: ...


@dataclass
class HistoryImport:
    """What the worker's import activities need beyond the records, memory and analysis ports:
    the ledger (None: no Postgres for it) and the ElevenLabs API, built on first use."""

    ledger: ImportLedger | None
    conversations: Callable[[], ConversationApi]


def no_conversation_api() -> ConversationApi:
    raise ImportNotConfigured("this worker has no ElevenLabs client: set ELEVENLABS_API_KEY")
