"""Activities over the records port: load the call's context, save the call's record."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime

from temporalio import activity

from callflow.commitments import apply_call_outcome, has_user_speech
from callflow.models import CallRecord, CheckIn, Commitment, Outcome, User
from callflow.ports import CallAnalysis, RecordsStore
from callflow.records.errors import UserNotFound
from callflow.zones import local_date_at


@dataclass
class LoadContextInput:
    user_id: str
    # The UTC date; read only when `at` is missing (histories recorded before `at` existed).
    today: str
    # ISO-8601 instant the call is for (its due time, else now): the due set is taken on the
    # user's local date at that instant, in the user's time zone.
    at: str | None = None


@dataclass
class CallContext:
    user: User
    due_commitments: list[Commitment] = field(default_factory=list)
    local_date: str = ""  # the user's date at the call's instant (ISO)
    # Each due commitment's earlier check-ins, newest first (what the agent reminds the user of).
    history: dict[str, list[CheckIn]] = field(default_factory=dict)
    # The user's last call with a conversation: its summary and the topics kept for this one.
    last_call_summary: str | None = None
    topics: list[str] = field(default_factory=list)


@dataclass
class SaveRecordInput:
    record: CallRecord
    analysis: CallAnalysis | None = None
    due_commitments: list[Commitment] = field(default_factory=list)
    local_date: str | None = None  # the call's date in the user's zone; else the record's start
    next_call_date: str | None = None  # the user's next scheduled call date, when known


@dataclass
class SaveRecordOutput:
    call_id: str
    new_commitment_ids: list[str] = field(default_factory=list)
    updated_commitment_ids: list[str] = field(default_factory=list)
    restated_commitment_ids: list[str] = field(default_factory=list)


@dataclass
class WebhookResultInput:
    call_id: str
    delivered: bool


@dataclass
class WebhookResultOutput:
    recorded: bool  # False: no record of that call to write it into


HISTORY_PER_COMMITMENT = 5
RECENT_CALLS = 10  # looked through for the last one with a conversation


class RecordsActivities:
    def __init__(self, records: RecordsStore) -> None:
        self._records = records

    @activity.defn
    async def load_call_context(self, input: LoadContextInput) -> CallContext:
        user = await self._records.get_user(input.user_id)
        if user is None:
            raise UserNotFound(f"no user with user_id={input.user_id!r} in the records store")
        local_date = (
            local_date_at(datetime.fromisoformat(input.at), user.timezone)
            if input.at
            else input.today
        )
        due = await self._records.due_commitments(input.user_id, local_date)
        history = {
            c.commitment_id: await self._records.commitment_history(
                c.commitment_id, limit=HISTORY_PER_COMMITMENT
            )
            for c in due
        }
        recent = await self._records.list_calls(input.user_id, limit=RECENT_CALLS)
        last = next((r for r in recent if r.outcome == Outcome.COMPLETED and r.summary), None)
        return CallContext(
            user=user,
            due_commitments=due,
            local_date=local_date,
            history=history,
            last_call_summary=last.summary if last else None,
            topics=list(last.topics_next_time) if last else [],
        )

    @activity.defn
    async def save_call_record(self, input: SaveRecordInput) -> SaveRecordOutput:
        """Save the record and apply the analysis to the user's commitments (one transaction
        for the commitments; both idempotent, so a retry writes the same rows)."""
        record = input.record
        out = SaveRecordOutput(call_id=record.call_id)
        if input.analysis is not None:
            changes = apply_call_outcome(
                user_id=record.user_id,
                call_id=record.call_id,
                local_date=input.local_date or record.started_at[:10],
                due=input.due_commitments,
                verdicts=input.analysis.commitment_updates,
                new=input.analysis.new_commitments,
                open_commitments=await self._records.open_commitments(record.user_id),
                user_spoke=has_user_speech(record.transcript),
                next_call_date=input.next_call_date,
            )
            if not changes.empty:
                await self._records.apply_commitment_changes(changes)
            out.new_commitment_ids = changes.created_ids
            out.updated_commitment_ids = changes.judged_ids
            out.restated_commitment_ids = changes.restated_ids
        await self._records.save_call(record)
        return out

    @activity.defn
    async def record_webhook_result(self, input: WebhookResultInput) -> WebhookResultOutput:
        """Set the saved record's `webhook_delivered` (the record is saved before the webhook
        goes out). Idempotent: a retry writes the same value."""
        record = await self._records.get_call(input.call_id)
        if record is None:
            return WebhookResultOutput(recorded=False)
        if record.webhook_delivered is not input.delivered:
            await self._records.save_call(
                dataclasses.replace(record, webhook_delivered=input.delivered)
            )
        return WebhookResultOutput(recorded=True)
