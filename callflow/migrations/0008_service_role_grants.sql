-- Supabase grants: since 2026-10-30 a new table in schema public is granted to nobody on any
-- Supabase project (Supabase changelog #45329), and bypassing row level security does not bypass
-- grants. The service-role key maps to the `service_role` database role, so every table and
-- function of 0001-0007 is granted to it here; the API's other roles (`anon`, `authenticated`)
-- get nothing. Each later migration carries its own grants. Plain Postgres has no such roles:
-- the grants are guarded. Safe to re-run, in any order with the other files.

-- Tables: read and write rows, nothing more (no truncate, references or triggers). callflow uses
-- no sequences (every key is text).
do $$
declare
    t text;
begin
    foreach t in array array[
        'users', 'commitments', 'calls', 'push_log', 'memories', 'schedules',
        'commitment_check_ins', 'agent_workers', 'agent_slots'
    ] loop
        if exists (select 1 from pg_roles where rolname = 'service_role') then
            execute format(
                'grant select, insert, update, delete on table public.%I to service_role', t);
        end if;
        if exists (select 1 from pg_roles where rolname = 'anon') then
            execute format('revoke all on table public.%I from anon', t);
        end if;
        if exists (select 1 from pg_roles where rolname = 'authenticated') then
            execute format('revoke all on table public.%I from authenticated', t);
        end if;
    end loop;
end;
$$;

-- Functions: SECURITY INVOKER, on purpose. Each one only reads and writes tables the caller
-- (service_role) is granted above, so running with the caller's rights needs nothing more, and a
-- role that somehow got EXECUTE could still do only what its own grants allow; SECURITY DEFINER
-- would run them with the owner's rights (on Supabase, `postgres`) for no gain. The search_path is
-- pinned all the same (public, then pg_temp last), so no schema or temporary object on a caller's
-- path can stand in for a table or operator they use. 0001/0002 defined claim_push and
-- withhold_push without it; a function that already pins a search_path (0003, 0005, or a later
-- redefinition) is left as it is, so re-running this file never undoes a newer definition.
do $$
declare
    fn text;
begin
    foreach fn in array array[
        'claim_push(text, integer)',
        'withhold_push(text, integer)',
        'apply_commitment_changes(text, jsonb, jsonb)',
        'acquire_agent_slot(text, text, timestamptz, double precision)',
        'renew_agent_slot(text, double precision)',
        'release_agent_slot(text)',
        'report_agent_worker(text, integer, integer, double precision)'
    ] loop
        if exists (
            select 1 from pg_proc
             where oid = to_regprocedure('public.' || fn) and proconfig is null
        ) then
            execute format(
                'alter function public.%s security invoker set search_path = public, pg_temp',
                fn);
        end if;
        if exists (select 1 from pg_roles where rolname = 'service_role') then
            -- Postgres grants EXECUTE on a new function to PUBLIC (every role): take it back.
            execute format('revoke execute on function public.%s from public', fn);
            execute format('grant execute on function public.%s to service_role', fn);
        end if;
        if exists (select 1 from pg_roles where rolname = 'anon') then
            execute format('revoke execute on function public.%s from anon', fn);
        end if;
        if exists (select 1 from pg_roles where rolname = 'authenticated') then
            execute format('revoke execute on function public.%s from authenticated', fn);
        end if;
    end loop;
end;
$$;
