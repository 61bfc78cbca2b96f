-- The per-user cap on calls started through the call API (POST /calls): each accepted request
-- leaves one row, and claim_call_request counts a user's rows of the rolling window under a
-- per-user advisory lock, so several API replicas sharing this database never let a user past
-- the cap. Re-running this file is harmless.

create table if not exists call_requests (
    call_id      text primary key,
    user_id      text not null,
    requested_at timestamptz not null default now()
);
create index if not exists call_requests_user_idx on call_requests (user_id, requested_at);

alter table call_requests enable row level security;

-- Record p_call_id for p_user_id unless the user already has p_limit requests in the last
-- p_window_s seconds. A call id asked for again (an idempotency key reused) is allowed and not
-- counted twice. Returns {allowed, count, limit, retry_after_s}: retry_after_s is when the
-- oldest request in the window leaves it (refused requests only).
-- Exposed by PostgREST as POST /rest/v1/rpc/claim_call_request.
create or replace function claim_call_request(
    p_user_id text, p_call_id text, p_limit integer, p_window_s double precision
)
returns jsonb
language plpgsql
set search_path = public, pg_temp
as $$
declare
    t timestamptz;
    win interval;
    v_count integer;
    v_oldest timestamptz;
begin
    if p_user_id is null or p_user_id = '' or p_call_id is null or p_call_id = '' then
        raise exception 'claim_call_request: user_id and call_id are required'
            using errcode = '22023';
    end if;
    if p_limit is null or p_limit < 1 or p_window_s is null or not (p_window_s > 0) then
        raise exception 'claim_call_request: limit must be 1 or more and window_s positive'
            using errcode = '22023';
    end if;
    win := make_interval(secs => p_window_s);
    -- One claim per user at a time, in whatever process; released at commit.
    perform pg_advisory_xact_lock(hashtextextended('call_requests:' || p_user_id, 0));
    t := clock_timestamp();
    if exists (select 1 from call_requests where call_id = p_call_id) then
        return jsonb_build_object('allowed', true, 'count', null, 'limit', p_limit,
                                  'retry_after_s', null);
    end if;
    select count(*), min(requested_at) into v_count, v_oldest
        from call_requests where user_id = p_user_id and requested_at > t - win;
    if v_count >= p_limit then
        return jsonb_build_object(
            'allowed', false, 'count', v_count, 'limit', p_limit,
            'retry_after_s', greatest(1, ceil(extract(epoch from (v_oldest + win - t))))
        );
    end if;
    insert into call_requests (call_id, user_id, requested_at) values (p_call_id, p_user_id, t);
    -- Rows past any window are of no use: keep the table small.
    delete from call_requests where user_id = p_user_id and requested_at <= t - win;
    return jsonb_build_object('allowed', true, 'count', v_count + 1, 'limit', p_limit,
                              'retry_after_s', null);
end;
$$;

-- A request whose workflow never started gives its place back.
create or replace function release_call_request(p_call_id text)
returns boolean
language sql
set search_path = public, pg_temp
as $$
    with gone as (delete from call_requests where call_id = p_call_id returning 1)
    select exists (select 1 from gone);
$$;

revoke execute on function claim_call_request(text, text, integer, double precision) from public;
revoke execute on function release_call_request(text) from public;

do $$
begin
    if exists (select 1 from pg_roles where rolname = 'service_role') then
        grant select, insert, update, delete on table public.call_requests to service_role;
        grant execute on function claim_call_request(text, text, integer, double precision)
            to service_role;
        grant execute on function release_call_request(text) to service_role;
    end if;
    if exists (select 1 from pg_roles where rolname = 'anon') then
        revoke all on table public.call_requests from anon;
    end if;
    if exists (select 1 from pg_roles where rolname = 'authenticated') then
        revoke all on table public.call_requests from authenticated;
    end if;
end;
$$;
