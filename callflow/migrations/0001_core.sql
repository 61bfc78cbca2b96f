-- callflow records and memory schema (docs/architecture.md).
-- Plain Postgres SQL: the same file applies to the embedded Postgres and to Supabase
-- (supabase db push, or paste into the SQL editor). Re-running it is harmless.

create table if not exists users (
    user_id      text primary key,
    display_name text not null,
    voip_token   text,
    timezone     text not null default 'UTC',
    locale       text not null default 'en-US',
    created_at   timestamptz not null default now()
);

create table if not exists commitments (
    commitment_id  text primary key,
    user_id        text not null references users (user_id) on delete cascade,
    text           text not null,
    due_date       date,
    status         text not null default 'open'
                   check (status in ('open', 'kept', 'broken', 'unclear')),
    source_call_id text,
    updated_at     timestamptz not null default now()
);
-- The next call's context reads a user's open commitments that fall due.
create index if not exists commitments_open_due_idx
    on commitments (user_id, due_date) where status = 'open';

-- No foreign key to users: a call that failed because its user is missing is still recorded.
create table if not exists calls (
    call_id           text primary key,
    user_id           text not null,
    outcome           text not null
                      check (outcome in ('completed', 'missed', 'declined', 'unreachable',
                                         'cancelled', 'failed')),
    attempts          integer not null default 0 check (attempts >= 0),
    started_at        timestamptz,
    ended_at          timestamptz,
    failure_reason    text,
    memory_degraded   boolean not null default false,
    summary           text,
    mood              text,
    transcript        jsonb not null default '[]'::jsonb,
    usage             jsonb,
    cost_usd          numeric(12, 6),
    latency           jsonb not null default '{}'::jsonb,
    tools_called      jsonb not null default '[]'::jsonb,
    analysis_provider text,
    stages            jsonb not null default '[]'::jsonb,
    updated_at        timestamptz not null default now()
);
create index if not exists calls_user_started_idx on calls (user_id, started_at desc);

-- One row per VoIP push attempt, so a retried activity never rings the phone twice.
create table if not exists push_log (
    call_id    text not null,
    attempt    integer not null check (attempt >= 1),
    apns_id    text,
    state      text not null default 'claimed' check (state in ('claimed', 'sent')),
    claimed_at timestamptz not null default now(),
    sent_at    timestamptz,
    primary key (call_id, attempt)
);

-- Long-term memory for the local memory adapter; one row per call (memory_id = 'call-' || call_id).
create table if not exists memories (
    memory_id   text primary key,
    user_id     text not null,
    call_id     text,
    content     text not null,
    metadata    jsonb not null default '{}'::jsonb,
    content_tsv tsvector generated always as (to_tsvector('english', content)) stored,
    created_at  timestamptz not null default now()
);
create index if not exists memories_tsv_idx on memories using gin (content_tsv);
create index if not exists memories_user_recent_idx on memories (user_id, created_at desc);

-- Per-user call schedules (the schedules feature owns the spec's shape).
create table if not exists schedules (
    user_id    text primary key,
    spec       jsonb not null,
    paused     boolean not null default false,
    updated_at timestamptz not null default now()
);

-- Claim the push for (call_id, attempt): true unless it was already sent. A claim left behind
-- by a crash between claim and send may be claimed again (the phone was never rung).
-- Exposed by PostgREST as POST /rest/v1/rpc/claim_push, so the check is atomic on Supabase too.
-- Created only when absent: 0002 replaces it, and re-running this file must not bring it back.
do $guard$
begin
    if to_regprocedure('claim_push(text, integer)') is null then
        create function claim_push(p_call_id text, p_attempt integer)
        returns boolean
        language plpgsql
        as $body$
        declare
            current_state text;
        begin
            insert into push_log (call_id, attempt, state)
            values (p_call_id, p_attempt, 'claimed')
            on conflict (call_id, attempt) do nothing;
            select state into current_state
              from push_log
             where call_id = p_call_id and attempt = p_attempt
               for update;
            return current_state <> 'sent';
        end;
        $body$;
    end if;
end;
$guard$;

-- Supabase exposes the public schema to the anon key: deny it everything (no policies), the
-- service-role key bypasses row level security. Table owners (the local superuser) bypass it too.
alter table users enable row level security;
alter table commitments enable row level security;
alter table calls enable row level security;
alter table push_log enable row level security;
alter table memories enable row level security;
alter table schedules enable row level security;

do $$
begin
    if exists (select 1 from pg_roles where rolname = 'service_role') then
        revoke execute on function claim_push(text, integer) from public;
        if exists (select 1 from pg_roles where rolname = 'anon') then
            revoke execute on function claim_push(text, integer) from anon, authenticated;
        end if;
        grant execute on function claim_push(text, integer) to service_role;
    end if;
end;
$$;
