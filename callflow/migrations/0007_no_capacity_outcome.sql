-- A call that got no agent slot within its max wait ends `no_capacity`. Safe to re-run.
alter table calls drop constraint if exists calls_outcome_check;
alter table calls add constraint calls_outcome_check
    check (outcome in ('completed', 'missed', 'declined', 'unreachable', 'cancelled', 'failed',
                       'no_agent', 'no_conversation', 'skipped', 'no_capacity'));
