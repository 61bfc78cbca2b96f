-- Outcomes of calls that were answered without a conversation or skipped in the user's quiet
-- hours, the topics the analysis keeps for the next call (the next call's agent is told them),
-- and each user's quiet hours (checked at every ring). Safe to re-run.

-- Put in place only while the check lacks these outcomes: re-running this file after a later
-- migration added outcomes (0007, 0011, ...) must not take them away.
do $guard$
begin
    if not exists (
        select 1 from pg_constraint
         where conrelid = 'calls'::regclass and conname = 'calls_outcome_check'
           and pg_get_constraintdef(oid) ~ '\mno_conversation\M'
    ) then
        alter table calls drop constraint if exists calls_outcome_check;
        alter table calls add constraint calls_outcome_check
            check (outcome in ('completed', 'missed', 'declined', 'unreachable', 'cancelled',
                               'failed', 'no_agent', 'no_conversation', 'skipped'));
    end if;
end;
$guard$;

alter table calls add column if not exists topics_next_time jsonb not null default '[]'::jsonb;

-- Local hours in which the user is never rung, as "HH:MM-HH:MM" (the end may be past midnight).
alter table users add column if not exists quiet_hours text;
alter table users drop constraint if exists users_quiet_hours_check;
alter table users add constraint users_quiet_hours_check
    check (quiet_hours is null or quiet_hours ~ '^([01][0-9]|2[0-3]):[0-5][0-9]-([01][0-9]|2[0-3]):[0-5][0-9]$');
