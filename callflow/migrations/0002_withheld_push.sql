-- A cancelled call withholds the push of an armed ring (a ring activity started ahead of the due
-- time): 'withheld' blocks every later claim, as 'sent' does.
alter table push_log drop constraint if exists push_log_state_check;
alter table push_log add constraint push_log_state_check
    check (state in ('claimed', 'sent', 'withheld'));

create or replace function claim_push(p_call_id text, p_attempt integer)
returns boolean
language plpgsql
as $$
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
$$;

-- True when the push is now withheld (or already was); false when it was already sent.
create or replace function withhold_push(p_call_id text, p_attempt integer)
returns boolean
language plpgsql
as $$
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
$$;

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
