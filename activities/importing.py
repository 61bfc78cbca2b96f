"""The history import's activities (workflows/import_history.py): read a page of the source,
import one conversation, keep the run's report.

One conversation becomes a memory (keyed by the conversation id), the commitments the post-call
analyzer finds in it (dates resolved on the conversation's own date) and a call record
(`imported`, its original times), then its outcome in the ledger. Every write is keyed by the
conversation id, so a retried or resumed item rewrites the same rows; an item the run already
finished returns the outcome it had.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from temporalio import activity

from callflow.commitments import apply_call_outcome, has_user_speech
from callflow.importer.conversation import SourceConversation, parse_conversation
from callflow.importer.convert import (
    analyzer_transcript,
    call_record,
    conversation_local_date,
    memory_note,
)
from callflow.importer.errors import ImportNotConfigured, MalformedItem
from callflow.importer.export_file import ExportFile
from callflow.importer.mapping import UserMapping, read_mapping_csv
from callflow.importer.ports import ConversationApi, ImportLedger
from callflow.ports import CallAnalyzer, MemoryStore, RecordsStore
from workflows.import_messages import (
    ImportReport,
    ImportSource,
    ItemInput,
    ItemOutcome,
    ItemStatus,
    PageInput,
    PageItem,
    PageOutput,
)


class ImportActivities:
    def __init__(
        self,
        records: RecordsStore,
        memory: MemoryStore,
        analyzer: CallAnalyzer,
        ledger: ImportLedger | None,
        conversations: Callable[[], ConversationApi],
        export_file: ExportFile | None = None,
    ) -> None:
        self._records = records
        self._memory = memory
        self._analyzer = analyzer
        self._ledger = ledger
        self._conversations_factory = conversations
        self._conversations: ConversationApi | None = None
        self._export = export_file or ExportFile()
        self._mappings: dict[tuple[str | None, str], UserMapping] = {}

    def all(self) -> list[Callable[..., object]]:
        return [self.fetch_import_page, self.import_conversation, self.save_import_report]

    # --- collaborators built on first use: a worker without ELEVENLABS_API_KEY still runs
    # file imports, and says what is missing when asked for an ElevenLabs one.

    def _api(self) -> ConversationApi:
        if self._conversations is None:
            self._conversations = self._conversations_factory()
        return self._conversations

    def _need_ledger(self) -> ImportLedger:
        if self._ledger is None:
            raise ImportNotConfigured(
                "the history import keeps its ledger in Postgres: set DATABASE_URL (for "
                "Supabase, its Postgres connection string) on the worker"
            )
        return self._ledger

    def _mapping(self, source: ImportSource) -> UserMapping:
        key = (source.mapping_path, source.user_id_variable)
        if key not in self._mappings:
            by_key = read_mapping_csv(Path(source.mapping_path)) if source.mapping_path else {}
            self._mappings[key] = UserMapping(source.user_id_variable, by_key)
        return self._mappings[key]

    # --- activities

    @activity.defn
    async def fetch_import_page(self, input: PageInput) -> PageOutput:
        source = input.source
        if source.kind == "file":
            if not source.path:
                raise MalformedItem("a file import needs the export file's path")
            offset = int(input.cursor or 0)
            items, total = self._export.page(Path(source.path), offset, input.page_size)
            end = offset + len(items)
            return PageOutput(items, str(end) if end < total else None, total)
        if source.kind != "elevenlabs" or not source.agent_id:
            raise MalformedItem(f"unknown import source {source.kind!r} (or no agent id)")
        api = self._api()
        if input.cursor is None:
            await api.check_agent(source.agent_id)  # an unknown agent fails the run, by name
        ids, next_cursor = await api.list_page(
            source.agent_id, input.cursor, input.page_size, source.since_unix_s
        )
        return PageOutput([PageItem(i) for i in ids], next_cursor)

    @activity.defn
    async def import_conversation(self, input: ItemInput) -> ItemOutcome:
        ledger = self._need_ledger()
        item = input.item
        if not input.dry_run:
            done = await ledger.item_outcome(input.run_id, item.item_id)
            if done is not None:
                return done
        if item.error is not None:
            raise MalformedItem(item.error)
        conversation = await self._read(item)
        outcome = await self._import(input, conversation, ledger)
        if input.dry_run:
            return outcome
        imported = outcome.status == ItemStatus.IMPORTED
        return await ledger.record_outcome(
            input.run_id,
            outcome,
            conversation.conversation_id if imported else None,
            input.source.source_name if imported else None,
        )

    @activity.defn
    async def save_import_report(self, input: ImportReport) -> None:
        await self._need_ledger().save_report(input)

    # --- one conversation

    async def _read(self, item: PageItem) -> SourceConversation:
        if item.payload is not None:
            return parse_conversation(item.payload, item.item_id)
        return await self._api().get(item.item_id)

    async def _import(
        self, input: ItemInput, conversation: SourceConversation, ledger: ImportLedger
    ) -> ItemOutcome:
        source = input.source
        item_id = conversation.conversation_id
        if source.since_unix_s is not None and conversation.start_unix_s < source.since_unix_s:
            return ItemOutcome(item_id, ItemStatus.SKIPPED, "started before --since")
        if conversation.status not in ("done", "processing"):
            return ItemOutcome(
                item_id, ItemStatus.SKIPPED, f"conversation status is {conversation.status!r}"
            )
        mapping = self._mapping(source)
        user_id = mapping.user_for(conversation)
        if user_id is None:
            return ItemOutcome(item_id, ItemStatus.UNMAPPED, mapping.unmapped_reason(conversation))
        user = await self._records.get_user(user_id)
        if user is None:
            return ItemOutcome(
                item_id,
                ItemStatus.UNMAPPED,
                f"maps to user_id {user_id!r}, which is not in the records store",
                user_id,
            )
        if await ledger.already_imported(item_id, source.source_name):
            return ItemOutcome(item_id, ItemStatus.SKIPPED, "already imported", user_id)

        local_date = conversation_local_date(conversation, user.timezone)
        transcript = analyzer_transcript(conversation)
        analysis = await self._analyzer.analyze(
            transcript, [], local_date=local_date, timezone=user.timezone
        )
        if input.dry_run:
            return ItemOutcome(item_id, ItemStatus.IMPORTED, "dry run: nothing written", user_id)

        record = call_record(conversation, user_id, analysis)
        await self._memory.write(
            user_id,
            item_id,
            memory_note(conversation, local_date, analysis),
            {"source": source.source_name, "conversation_id": item_id, "date": local_date},
        )
        # This conversation's own commitments (from an earlier attempt) are not "restated":
        # leaving them out makes a second attempt write exactly the rows of the first.
        open_now = [
            c for c in await self._records.open_commitments(user_id) if c.source_call_id != item_id
        ]
        changes = apply_call_outcome(
            user_id=user_id,
            call_id=item_id,
            local_date=local_date,
            due=[],
            verdicts=[],
            new=analysis.new_commitments,
            open_commitments=open_now,
            user_spoke=has_user_speech(transcript),
        )
        if not changes.empty:
            await self._records.apply_commitment_changes(changes)
        await self._records.save_call(record)
        # The record is marked `source` together with this run's outcome (the ledger's one
        # statement), so until then a retry redoes these writes, which change nothing.
        return ItemOutcome(item_id, ItemStatus.IMPORTED, None, user_id)
