"""Activities over the records port: load the call's context, save the call's record."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from temporalio import activity

from callflow.models import CallRecord, Commitment, CommitmentStatus, User
from callflow.ports import CallAnalysis, RecordsStore
from callflow.records.errors import UserNotFound


@dataclass
class LoadContextInput:
    user_id: str
    today: str  # ISO date: commitments due on or before it are "due"


@dataclass
class CallContext:
    user: User
    due_commitments: list[Commitment] = field(default_factory=list)


@dataclass
class SaveRecordInput:
    record: CallRecord
    analysis: CallAnalysis | None = None
    due_commitments: list[Commitment] = field(default_factory=list)


@dataclass
class SaveRecordOutput:
    call_id: str
    new_commitment_ids: list[str] = field(default_factory=list)
    updated_commitment_ids: list[str] = field(default_factory=list)


def new_commitment_id(call_id: str, index: int) -> str:
    # Deterministic, so a retried save upserts the same rows instead of adding new ones.
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"callflow:{call_id}:commitment:{index}"))


class RecordsActivities:
    def __init__(self, records: RecordsStore) -> None:
        self._records = records

    @activity.defn
    async def load_call_context(self, input: LoadContextInput) -> CallContext:
        user = await self._records.get_user(input.user_id)
        if user is None:
            raise UserNotFound(f"no user with user_id={input.user_id!r} in the records store")
        due = await self._records.due_commitments(input.user_id, input.today)
        return CallContext(user=user, due_commitments=due)

    @activity.defn
    async def save_call_record(self, input: SaveRecordInput) -> SaveRecordOutput:
        record = input.record
        out = SaveRecordOutput(call_id=record.call_id)
        if input.analysis is not None:
            known = {c.commitment_id: c for c in input.due_commitments}
            changed: list[Commitment] = []
            for update in input.analysis.commitment_updates:
                if update.commitment_id in known and update.status in set(CommitmentStatus):
                    c = known[update.commitment_id]
                    changed.append(
                        Commitment(
                            commitment_id=c.commitment_id,
                            user_id=c.user_id,
                            text=c.text,
                            due_date=c.due_date,
                            status=update.status,
                            source_call_id=c.source_call_id,
                        )
                    )
                    out.updated_commitment_ids.append(c.commitment_id)
            for i, new in enumerate(input.analysis.new_commitments):
                cid = new_commitment_id(record.call_id, i)
                changed.append(
                    Commitment(
                        commitment_id=cid,
                        user_id=record.user_id,
                        text=new.text,
                        due_date=new.due_date,
                        status=CommitmentStatus.OPEN,
                        source_call_id=record.call_id,
                    )
                )
                out.new_commitment_ids.append(cid)
            if changed:
                await self._records.upsert_commitments(changed)
        await self._records.save_call(record)
        return out
