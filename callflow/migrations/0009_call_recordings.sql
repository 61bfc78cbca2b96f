-- Call recordings (docs/recordings.md): each user's consent (off unless they turn it on), and
-- on the call record the recording's object key in the S3-compatible storage, its duration,
-- size and channels. The retention cleanup deletes the object, clears the key and stamps
-- recording_deleted_at (duration, size and channels stay as the record of what there was).
-- Adds columns and an index only: no new table or function, so no grants. Safe to re-run.

alter table users add column if not exists recording_consent boolean not null default false;

alter table calls add column if not exists recording_key text;
alter table calls add column if not exists recording_duration_s double precision
    check (recording_duration_s is null or recording_duration_s >= 0);
alter table calls add column if not exists recording_size_bytes bigint
    check (recording_size_bytes is null or recording_size_bytes >= 0);
alter table calls add column if not exists recording_channels smallint
    check (recording_channels is null or recording_channels > 0);
alter table calls add column if not exists recording_started_at timestamptz;
alter table calls add column if not exists recording_deleted_at timestamptz;

-- The cleanup asks for recordings of calls that ended before a cut-off.
create index if not exists calls_recording_ended_at_idx on calls (ended_at)
    where recording_key is not null;
