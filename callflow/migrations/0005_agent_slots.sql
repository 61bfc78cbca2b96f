-- Agent capacity as a resource (callflow/slots): self-hosted LiveKit does not queue agent
-- dispatches, so a phone is rung only once an agent slot is held for its call. The agent
-- workers report what they can take (agent_workers, each row counting until it expires); each
-- call asking for a slot has one row in agent_slots, 'waiting' in the queue or 'held'.
-- Every row expires unless renewed, so no crash keeps a slot or a place in the queue.
-- Plain Postgres, for the embedded Postgres and Supabase alike; re-running it is harmless.

create table if not exists agent_workers (
    worker_id   text primary key,
    capacity    integer not null check (capacity >= 0),  -- calls it takes at once
    active      integer not null default 0 check (active >= 0),  -- calls it is in now
    reported_at timestamptz not null default now(),
    expires_at  timestamptz not null  -- its capacity counts until then
);

create table if not exists agent_slots (
    call_id      text primary key,
    user_id      text not null,
    state        text not null check (state in ('waiting', 'held')),
    due_at       timestamptz not null,  -- when the call is due to ring: the queue's order
    requested_at timestamptz not null default now(),  -- first asked: kept while it waits
    granted_at   timestamptz,
    -- held: the grant lapses then unless renewed; waiting: the place lapses then unless the
    -- call asks again (its holder died)
    expires_at   timestamptz not null,
    check ((state = 'held') = (granted_at is not null))
);
create index if not exists agent_slots_waiting_idx
    on agent_slots (due_at, requested_at, call_id) where state = 'waiting';
create index if not exists agent_slots_held_user_idx on agent_slots (user_id) where state = 'held';
create index if not exists agent_slots_expires_idx on agent_slots (expires_at);

alter table agent_workers enable row level security;
alter table agent_slots enable row level security;

-- Take a slot for p_call_id, or keep its place in the queue, in one transaction under one
-- transaction-level advisory lock (so several API/worker processes never grant one slot twice):
--  1. drop lapsed rows (held slots and waiting places past expires_at) and expired workers;
--  2. upsert the call's row: a new call waits, asked at now; asking again keeps requested_at
--     (its place), takes the new due_at while waiting and pushes expires_at out to now + hold;
--  3. capacity = sum(capacity) of the live workers, held = count of held rows;
--  4. the waiting calls rank by due_at (to the second), then the slots their user holds now
--     (fewer first), then requested_at, then call_id; the call is granted when the free slots
--     outnumber the waiting calls ranked ahead of it (held + waiting_ahead < capacity): every
--     call ahead still finds a slot when it asks, and no slot idles while one is free for it.
-- A call that already holds its slot is granted again (its hold extended to now + hold).
-- Returns {granted, capacity, held (this call included when granted), waiting_ahead,
-- expires_at (when granted)}. Exposed by PostgREST as POST /rest/v1/rpc/acquire_agent_slot.
create or replace function acquire_agent_slot(
    p_call_id text, p_user_id text, p_due_at timestamptz, p_hold_s double precision
)
returns jsonb
language plpgsql
set search_path = public, pg_temp
as $$
declare
    t timestamptz;
    lease interval;
    v_user text;
    v_state text;
    v_expires timestamptz;
    v_capacity integer;
    v_held integer;
    v_ahead integer;
begin
    if p_call_id is null or p_call_id = '' or p_user_id is null or p_user_id = ''
       or p_due_at is null then
        raise exception 'acquire_agent_slot: call_id, user_id and due_at are required'
            using errcode = '22023';
    end if;
    if p_hold_s is null or not (p_hold_s > 0 and p_hold_s <= 31622400) then  -- NaN fails too
        raise exception 'acquire_agent_slot: hold_s must be a positive number of seconds, got %',
            p_hold_s using errcode = '22023';
    end if;
    lease := make_interval(secs => p_hold_s);

    -- One acquire at a time, whatever process asks ("slot" in ASCII); released at commit.
    -- The statements below run after it is held, so each sees every earlier grant.
    perform pg_advisory_xact_lock(1936486260);
    t := clock_timestamp();

    delete from agent_slots where expires_at <= t;
    delete from agent_workers where expires_at <= t;

    insert into agent_slots as s (call_id, user_id, state, due_at, requested_at, expires_at)
    values (p_call_id, p_user_id, 'waiting', p_due_at, t, t + lease)
    on conflict (call_id) do update
       set due_at = case when s.state = 'waiting' then excluded.due_at else s.due_at end,
           expires_at = greatest(s.expires_at, excluded.expires_at)
    returning s.user_id, s.state, s.expires_at into v_user, v_state, v_expires;
    if v_user <> p_user_id then
        raise exception 'acquire_agent_slot: call % is user %''s, not %', p_call_id, v_user,
            p_user_id using errcode = '23514';
    end if;

    select coalesce(sum(w.capacity), 0)::integer into v_capacity from agent_workers w;
    select count(*)::integer into v_held from agent_slots where state = 'held';

    if v_state = 'held' then
        return jsonb_build_object('granted', true, 'capacity', v_capacity, 'held', v_held,
                                  'waiting_ahead', 0, 'expires_at', v_expires);
    end if;

    with held_by_user as (
        select user_id, count(*) as n from agent_slots where state = 'held' group by user_id
    ), ranked as (
        select w.call_id,
               row_number() over (
                   order by date_trunc('second', w.due_at), coalesce(h.n, 0), w.requested_at,
                            w.call_id
               ) - 1 as ahead
          from agent_slots w
          left join held_by_user h on h.user_id = w.user_id
         where w.state = 'waiting'
    )
    select r.ahead::integer into v_ahead from ranked r where r.call_id = p_call_id;

    if v_held + v_ahead < v_capacity then
        update agent_slots
           set state = 'held', granted_at = t, expires_at = t + lease
         where call_id = p_call_id
        returning expires_at into v_expires;
        return jsonb_build_object('granted', true, 'capacity', v_capacity, 'held', v_held + 1,
                                  'waiting_ahead', 0, 'expires_at', v_expires);
    end if;
    return jsonb_build_object('granted', false, 'capacity', v_capacity, 'held', v_held,
                              'waiting_ahead', v_ahead, 'expires_at', null);
end;
$$;

-- Extend a held slot to now + p_hold_s (never shortening it); false when the call holds none
-- (it lapsed, was released, or only waits). POST /rest/v1/rpc/renew_agent_slot.
create or replace function renew_agent_slot(p_call_id text, p_hold_s double precision)
returns boolean
language plpgsql
set search_path = public, pg_temp
as $$
declare
    t timestamptz := clock_timestamp();
begin
    if p_hold_s is null or not (p_hold_s > 0 and p_hold_s <= 31622400) then  -- NaN fails too
        raise exception 'renew_agent_slot: hold_s must be a positive number of seconds, got %',
            p_hold_s using errcode = '22023';
    end if;
    update agent_slots
       set expires_at = greatest(expires_at, t + make_interval(secs => p_hold_s))
     where call_id = p_call_id and state = 'held' and expires_at > t;
    return found;
end;
$$;

-- Free the call's slot or its place in the queue; true when it had one. Idempotent.
-- (No lock needed: a release only lowers `held`, and an acquire that counted the row just
-- refuses once more.) POST /rest/v1/rpc/release_agent_slot.
create or replace function release_agent_slot(p_call_id text)
returns boolean
language plpgsql
set search_path = public, pg_temp
as $$
begin
    delete from agent_slots where call_id = p_call_id;
    return found;
end;
$$;

-- An agent worker's report: its capacity counts for p_ttl_s unless reported again.
-- POST /rest/v1/rpc/report_agent_worker.
create or replace function report_agent_worker(
    p_worker_id text, p_capacity integer, p_active integer, p_ttl_s double precision
)
returns boolean
language plpgsql
set search_path = public, pg_temp
as $$
declare
    t timestamptz := clock_timestamp();
begin
    if p_worker_id is null or p_worker_id = '' then
        raise exception 'report_agent_worker: worker_id is required' using errcode = '22023';
    end if;
    if p_ttl_s is null or not (p_ttl_s > 0 and p_ttl_s <= 31622400) then  -- NaN fails too
        raise exception 'report_agent_worker: ttl_s must be a positive number of seconds, got %',
            p_ttl_s using errcode = '22023';
    end if;
    insert into agent_workers as w (worker_id, capacity, active, reported_at, expires_at)
    values (p_worker_id, p_capacity, coalesce(p_active, 0), t,
            t + make_interval(secs => p_ttl_s))
    on conflict (worker_id) do update
       set capacity = excluded.capacity, active = excluded.active,
           reported_at = excluded.reported_at, expires_at = excluded.expires_at;
    return true;
end;
$$;

-- Supabase: the service role gets the tables and functions (row level security keeps the anon
-- key out); the functions run with the caller's rights.
do $$
declare
    fn text;
begin
    if exists (select 1 from pg_roles where rolname = 'service_role') then
        grant select, insert, update, delete on table agent_workers, agent_slots to service_role;
        foreach fn in array array[
            'acquire_agent_slot(text, text, timestamptz, double precision)',
            'renew_agent_slot(text, double precision)',
            'release_agent_slot(text)',
            'report_agent_worker(text, integer, integer, double precision)'
        ] loop
            execute format('revoke execute on function %s from public', fn);
            if exists (select 1 from pg_roles where rolname = 'anon') then
                execute format('revoke execute on function %s from anon, authenticated', fn);
            end if;
            execute format('grant execute on function %s to service_role', fn);
        end loop;
    end if;
end;
$$;
