-- A cancelled call withholds the push of an armed ring (a ring activity started ahead of the due
-- time): 'withheld' blocks every later claim, as 'sent' does.
-- Re-running this file (or any earlier one) must not undo a later migration: the check, the
-- claim_push and the withhold_push of this file are put in place only where they are not yet.
do $guard$
begin
    if not exists (
        select 1 from pg_constraint
         where conrelid = 'push_log'::regclass and conname = 'push_log_state_check'
           and pg_get_constraintdef(oid) ~ '\mwithheld\M'
    ) then
        alter table push_log drop constraint if exists push_log_state_check;
        alter table push_log add constraint push_log_state_check
            check (state in ('claimed', 'sent', 'withheld'));
    end if;
end;
$guard$;

-- Left alone once a later migration pinned its search_path (0008 does; every later definition
-- must): that definition is newer than this one.
do $guard$
begin
    if not exists (
        select 1 from pg_proc
         where oid = to_regprocedure('claim_push(text, integer)') and proconfig is not null
    ) then
        create or replace function claim_push(p_call_id text, p_attempt integer)
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
            return current_state = 'claimed';
        end;
        $body$;
    end if;
end;
$guard$;

-- True when the push is now withheld (or already was); false when it was already sent.
-- Left alone once a later migration pinned its search_path (0008 does; every later definition
-- must): that definition is newer than this one.
do $guard$
begin
    if not exists (
        select 1 from pg_proc
         where oid = to_regprocedure('withhold_push(text, integer)') and proconfig is not null
    ) then
        create or replace function withhold_push(p_call_id text, p_attempt integer)
        returns boolean
        language plpgsql
        as $body$
        declare
            current_state text;
        begin
            insert into push_log (call_id, attempt, state)
            values (p_call_id, p_attempt, 'withheld')
            on conflict (call_id, attempt) do update
                set state = 'withheld'
                where push_log.state = 'claimed';
            select state into current_state
              from push_log
             where call_id = p_call_id and attempt = p_attempt;
            return current_state = 'withheld';
        end;
        $body$;
    end if;
end;
$guard$;

do $$
begin
    if exists (select 1 from pg_roles where rolname = 'service_role') then
        revoke execute on function withhold_push(text, integer) from public;
        if exists (select 1 from pg_roles where rolname = 'anon') then
            revoke execute on function withhold_push(text, integer) from anon, authenticated;
        end if;
        grant execute on function withhold_push(text, integer) to service_role;
    end if;
end;
$$;
