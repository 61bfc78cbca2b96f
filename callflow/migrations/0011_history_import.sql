-- The history import (docs/history-import.md): calls brought over from an earlier system end
-- `imported` and say where they came from; each import run keeps its report, and each item's
-- outcome in that run, so a run resumed after a crash counts every item once. Safe to re-run.

-- Add `imported` to whatever outcomes the check allows now (other migrations add theirs), so
-- this file never drops an outcome it does not know about.
do $$
declare
    definition text;
    allowed text[];
begin
    select pg_get_constraintdef(c.oid) into definition
      from pg_constraint c
     where c.conrelid = 'public.calls'::regclass and c.conname = 'calls_outcome_check';
    if definition is null then
        return;  -- no check at all: every outcome is allowed already
    end if;
    -- The outcome values are the lower-case words of the definition, but for the column's name
    -- and the type (CHECK, ANY, ARRAY come back upper-case), in either form Postgres prints.
    select coalesce(array_agg(distinct m[1]), array[]::text[]) into allowed
      from regexp_matches(definition, '([a-z_]+)', 'g') as m
     where m[1] not in ('outcome', 'text');
    if cardinality(allowed) = 0 then
        raise exception 'calls_outcome_check is not a list of outcomes: %', definition;
    end if;
    if not ('imported' = any (allowed)) then
        allowed := array_append(allowed, 'imported'::text);
        alter table public.calls drop constraint calls_outcome_check;
        execute format(
            'alter table public.calls add constraint calls_outcome_check check (outcome in (%s))',
            (select string_agg(quote_literal(v), ', ' order by v) from unnest(allowed) as v));
    end if;
end;
$$;

-- Where a call record came from: `callflow` for calls this system placed, else the source
-- system (`elevenlabs`).
alter table public.calls add column if not exists source text not null default 'callflow';

create table if not exists public.import_runs (
    run_id     text primary key,
    kind       text not null,
    done       boolean not null default false,
    report     jsonb not null default '{}'::jsonb,
    started_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);

-- One row per item an import run finished (imported, skipped, unmapped): a retried or resumed
-- item returns the outcome it already had instead of counting again.
create table if not exists public.import_items (
    run_id     text not null,
    item_id    text not null,
    status     text not null check (status in ('imported', 'skipped', 'unmapped')),
    reason     text,
    user_id    text,
    call_id    text,
    created_at timestamptz not null default now(),
    primary key (run_id, item_id)
);

alter table public.import_runs enable row level security;
alter table public.import_items enable row level security;

do $$
begin
    if exists (select 1 from pg_roles where rolname = 'service_role') then
        grant select, insert, update, delete on table public.import_runs to service_role;
        grant select, insert, update, delete on table public.import_items to service_role;
    end if;
    if exists (select 1 from pg_roles where rolname = 'anon') then
        revoke all on table public.import_runs from anon;
        revoke all on table public.import_items from anon;
    end if;
    if exists (select 1 from pg_roles where rolname = 'authenticated') then
        revoke all on table public.import_runs from authenticated;
        revoke all on table public.import_items from authenticated;
    end if;
end;
$$;
