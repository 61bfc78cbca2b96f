-- Commitments as a model (callflow/commitments.py has the rules): every commitment has a due
-- date, an optional due time, a recurrence where the user said one and its end (`until`); the
-- statuses gain 'partly' and 'cancelled'; each call's verdict on a commitment is a check-in row.
-- Plain Postgres, for the embedded Postgres and Supabase alike; re-running it is harmless.

alter table commitments add column if not exists due_time time;
alter table commitments add column if not exists recurrence text;
alter table commitments add column if not exists until date;
alter table commitments add column if not exists created_at timestamptz;
-- Rows from before this migration were written once or restated: their last write stands in.
update commitments set created_at = updated_at where created_at is null;
alter table commitments alter column created_at set default now();
alter table commitments alter column created_at set not null;

-- Each check is put in place only while it lacks this file's values, so re-running the file
-- after a later migration widened a check leaves that check as it is.
do $guard$
begin
    if not exists (
        select 1 from pg_constraint
         where conrelid = 'commitments'::regclass and conname = 'commitments_recurrence_check'
           and pg_get_constraintdef(oid) ~ '\mweekdays\M'
    ) then
        alter table commitments drop constraint if exists commitments_recurrence_check;
        alter table commitments add constraint commitments_recurrence_check
            check (recurrence in ('daily', 'weekdays', 'weekly'));
    end if;
    if not exists (
        select 1 from pg_constraint
         where conrelid = 'commitments'::regclass and conname = 'commitments_status_check'
           and pg_get_constraintdef(oid) ~ '\mpartly\M'
           and pg_get_constraintdef(oid) ~ '\mcancelled\M'
    ) then
        alter table commitments drop constraint if exists commitments_status_check;
        alter table commitments add constraint commitments_status_check
            check (status in ('open', 'kept', 'broken', 'partly', 'unclear', 'cancelled'));
    end if;
end;
$guard$;

-- Backfill: a commitment stored without a due date falls due the day after it was last written
-- (updated_at, as a date in the user's time zone; UTC when that zone is not a known name), the
-- default a new commitment gets. Then no NULL due date can be stored again.
update commitments c
   set due_date = (c.updated_at at time zone coalesce(
           (select u.timezone
              from users u
             where u.user_id = c.user_id
               and exists (select 1 from pg_timezone_names z where z.name = u.timezone)),
           'UTC'))::date + 1
 where c.due_date is null;
alter table commitments alter column due_date set not null;

-- A check-in names its commitment together with that commitment's user.
do $$
begin
    if not exists (
        select 1 from pg_constraint
         where conname = 'commitments_id_user_key' and conrelid = 'commitments'::regclass
    ) then
        alter table commitments add constraint commitments_id_user_key
            unique (commitment_id, user_id);
    end if;
end;
$$;

-- One row per (call, commitment) asked about: check_in_id is uuid5 of the two, so a retried
-- save rewrites its row.
create table if not exists commitment_check_ins (
    check_in_id   text primary key,
    commitment_id text not null,
    user_id       text not null,
    call_id       text not null,
    verdict       text not null
                  check (verdict in ('kept', 'broken', 'partly', 'unclear', 'cancelled')),
    evidence      text,
    asked_on      date not null,  -- the call's date in the user's time zone
    created_at    timestamptz not null default now(),
    foreign key (commitment_id, user_id) references commitments (commitment_id, user_id)
        on delete cascade on update cascade
);
create index if not exists commitment_check_ins_commitment_idx
    on commitment_check_ins (commitment_id, asked_on desc, created_at desc);
create index if not exists commitment_check_ins_user_idx
    on commitment_check_ins (user_id, asked_on desc, created_at desc);
alter table commitment_check_ins enable row level security;

-- One call's commitment changes in one statement (so one transaction): upsert the commitment
-- rows, then the check-ins, all of p_user_id. A commitment id that is another user's is refused.
-- Exposed by PostgREST as POST /rest/v1/rpc/apply_commitment_changes.
create or replace function apply_commitment_changes(
    p_user_id text, p_commitments jsonb, p_check_ins jsonb
)
returns jsonb
language plpgsql
set search_path = public, pg_temp
as $$
declare
    commitments_written integer;
    check_ins_written integer;
begin
    insert into commitments as c
        (commitment_id, user_id, text, due_date, due_time, recurrence, until, status,
         source_call_id)
    select r.commitment_id, p_user_id, r.text, r.due_date, r.due_time, r.recurrence, r.until,
           r.status, r.source_call_id
      from jsonb_to_recordset(coalesce(p_commitments, '[]'::jsonb)) as r(
               commitment_id text, text text, due_date date, due_time time, recurrence text,
               until date, status text, source_call_id text)
    on conflict (commitment_id) do update
       set text = excluded.text, due_date = excluded.due_date, due_time = excluded.due_time,
           recurrence = excluded.recurrence, until = excluded.until, status = excluded.status,
           source_call_id = excluded.source_call_id, updated_at = now()
     where c.user_id = excluded.user_id;
    get diagnostics commitments_written = row_count;
    if commitments_written < jsonb_array_length(coalesce(p_commitments, '[]'::jsonb)) then
        raise exception 'apply_commitment_changes: a commitment id is not user %''s', p_user_id
            using errcode = '23514';
    end if;

    insert into commitment_check_ins as ci
        (check_in_id, commitment_id, user_id, call_id, verdict, evidence, asked_on)
    select r.check_in_id, r.commitment_id, p_user_id, r.call_id, r.verdict, r.evidence,
           r.asked_on
      from jsonb_to_recordset(coalesce(p_check_ins, '[]'::jsonb)) as r(
               check_in_id text, commitment_id text, call_id text, verdict text,
               evidence text, asked_on date)
    on conflict (check_in_id) do update
       set verdict = excluded.verdict, evidence = excluded.evidence,
           asked_on = excluded.asked_on
     where ci.commitment_id = excluded.commitment_id and ci.user_id = excluded.user_id;
    get diagnostics check_ins_written = row_count;

    return jsonb_build_object('commitments', commitments_written, 'check_ins', check_ins_written);
end;
$$;

-- Supabase: the service role gets the new table and function (row level security keeps the
-- anon key out); the function runs with the caller's rights.
do $$
begin
    if exists (select 1 from pg_roles where rolname = 'service_role') then
        grant select, insert, update, delete on table commitment_check_ins to service_role;
        revoke execute on function apply_commitment_changes(text, jsonb, jsonb) from public;
        if exists (select 1 from pg_roles where rolname = 'anon') then
            revoke execute on function apply_commitment_changes(text, jsonb, jsonb)
                from anon, authenticated;
        end if;
        grant execute on function apply_commitment_changes(text, jsonb, jsonb) to service_role;
    end if;
end;
$$;
