-- Outcomes of calls that were answered without a conversation, and the topics the analysis
-- keeps for the next call (the next call's agent is told them). Safe to re-run.

alter table calls drop constraint if exists calls_outcome_check;
alter table calls add constraint calls_outcome_check
    check (outcome in ('completed', 'missed', 'declined', 'unreachable', 'cancelled', 'failed',
                       'no_agent', 'no_conversation'));

alter table calls add column if not exists topics_next_time jsonb not null default '[]'::jsonb;
