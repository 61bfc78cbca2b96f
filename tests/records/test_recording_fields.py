"""The recordings' side of the Postgres records store: consent, the record's recording fields,
the retention queries (migrations/0009_call_recordings.sql)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from callflow.models import CallRecord, Recording, User
from callflow.records.errors import InvalidRecord
from callflow.records.postgres import PostgresRecords
from callflow.records.supabase import SupabaseRecords


async def _user(records: PostgresRecords) -> User:
    user = User(f"rec-{uuid.uuid4().hex[:8]}", "Rec", voip_token=None)
    await records.upsert_user(user)
    return user


def _call(user_id: str, *, ended: datetime, recording: Recording | None) -> CallRecord:
    return CallRecord(
        call_id=uuid.uuid4().hex,
        user_id=user_id,
        outcome="completed",
        attempts=1,
        started_at=(ended - timedelta(minutes=1)).isoformat(),
        ended_at=ended.isoformat(),
        recording=recording,
    )


async def test_consent_is_off_until_set_and_survives_profile_upserts(
    records: PostgresRecords,
) -> None:
    user = await _user(records)
    fetched = await records.get_user(user.user_id)
    assert fetched is not None and fetched.recording_consent is False

    assert await records.set_recording_consent(user.user_id, True)
    await records.upsert_user(user)  # a profile update does not withdraw consent
    fetched = await records.get_user(user.user_id)
    assert fetched is not None and fetched.recording_consent is True

    assert await records.set_recording_consent(user.user_id, False)
    fetched = await records.get_user(user.user_id)
    assert fetched is not None and fetched.recording_consent is False
    assert not await records.set_recording_consent("no-such-user", True)


async def test_a_recording_round_trips_and_a_later_save_keeps_it(records: PostgresRecords) -> None:
    user = await _user(records)
    started = datetime(2026, 12, 1, 8, 0, 5, tzinfo=UTC)
    recording = Recording(
        key="calls/x.ogg", duration_s=61.25, size_bytes=990_000, started_at=started.isoformat()
    )
    record = _call(user.user_id, ended=datetime.now(UTC), recording=recording)
    await records.save_call(record)

    saved = await records.get_call(record.call_id)
    assert saved is not None and saved.recording is not None
    assert saved.recording.key == "calls/x.ogg"
    assert saved.recording.duration_s == 61.25 and saved.recording.size_bytes == 990_000
    assert saved.recording.channels == 2 and saved.recording.deleted_at is None
    assert datetime.fromisoformat(saved.recording.started_at or "") == started

    record.recording = None  # a record saved again without it (a retried activity's input)
    await records.save_call(record)
    again = await records.get_call(record.call_id)
    assert again is not None and again.recording is not None and again.recording.key


async def test_a_call_without_recording_has_none(records: PostgresRecords) -> None:
    user = await _user(records)
    record = _call(user.user_id, ended=datetime.now(UTC), recording=None)
    await records.save_call(record)
    saved = await records.get_call(record.call_id)
    assert saved is not None and saved.recording is None


async def test_expired_recordings_lists_only_old_ones_with_a_key_until_cleared(
    records: PostgresRecords,
) -> None:
    user = await _user(records)
    now = datetime.now(UTC)
    old = _call(
        user.user_id, ended=now - timedelta(days=3), recording=Recording("calls/o.ogg", 5, 5)
    )
    new = _call(user.user_id, ended=now, recording=Recording("calls/n.ogg", 5, 5))
    for r in (old, new):
        await records.save_call(r)
    cutoff = (now - timedelta(days=1)).isoformat()

    expired = await records.expired_recordings(cutoff, limit=1000)
    assert (old.call_id, "calls/o.ogg") in expired
    assert all(call_id != new.call_id for call_id, _ in expired)

    await records.clear_recording(old.call_id, now.isoformat())
    assert all(call_id != old.call_id for call_id, _ in await records.expired_recordings(cutoff))
    cleared = await records.get_call(old.call_id)
    assert cleared is not None and cleared.recording is not None
    assert cleared.recording.key is None and cleared.recording.deleted_at is not None


async def test_a_negative_duration_is_refused_naming_the_field(records: PostgresRecords) -> None:
    user = await _user(records)
    bad = _call(user.user_id, ended=datetime.now(UTC), recording=Recording("calls/b.ogg", -1, 5))
    with pytest.raises(InvalidRecord, match="duration_s"):
        await records.save_call(bad)


# --- the same through the Supabase adapter (PostgREST over the same migrated database)


async def test_supabase_consent_recording_and_retention(
    supabase_records: SupabaseRecords, records: PostgresRecords
) -> None:
    user = User(f"rec-sb-{uuid.uuid4().hex[:8]}", "Rec", voip_token=None)
    await supabase_records.upsert_user(user)
    fetched = await supabase_records.get_user(user.user_id)
    assert fetched is not None and fetched.recording_consent is False
    assert await supabase_records.set_recording_consent(user.user_id, True)
    await supabase_records.upsert_user(user)  # a profile update keeps the consent
    fetched = await supabase_records.get_user(user.user_id)
    assert fetched is not None and fetched.recording_consent is True
    assert not await supabase_records.set_recording_consent("no-such-user", True)

    now = datetime.now(UTC)
    old = _call(
        user.user_id, ended=now - timedelta(days=3), recording=Recording("calls/so.ogg", 7.5, 70)
    )
    new = _call(user.user_id, ended=now, recording=Recording("calls/sn.ogg", 5, 5))
    for r in (old, new):
        await supabase_records.save_call(r)
    saved = await supabase_records.get_call(old.call_id)
    assert saved is not None and saved.recording == Recording("calls/so.ogg", 7.5, 70)

    cutoff = (now - timedelta(days=1)).isoformat()
    expired = await supabase_records.expired_recordings(cutoff, limit=1000)
    assert (old.call_id, "calls/so.ogg") in expired
    assert all(call_id != new.call_id for call_id, _ in expired)
    await supabase_records.clear_recording(old.call_id, now.isoformat())
    cleared = await records.get_call(old.call_id)  # what the database holds, read the other way
    assert cleared is not None and cleared.recording is not None
    assert cleared.recording.key is None and cleared.recording.deleted_at is not None
