-- Agent dispatches beyond each attempt's first (the agent had not joined in time). Safe to
-- re-run.
alter table calls add column if not exists agent_redispatches integer not null default 0
    check (agent_redispatches >= 0);
