-- A call that got no agent slot within its max wait ends `no_capacity`. Safe to re-run.
-- Put in place only while the check lacks `no_capacity`: re-running this file after a later
-- migration added outcomes (0011, ...) must not take them away.
do $guard$
begin
    if not exists (
        select 1 from pg_constraint
         where conrelid = 'calls'::regclass and conname = 'calls_outcome_check'
           and pg_get_constraintdef(oid) ~ '\mno_capacity\M'
    ) then
        alter table calls drop constraint if exists calls_outcome_check;
        alter table calls add constraint calls_outcome_check
            check (outcome in ('completed', 'missed', 'declined', 'unreachable', 'cancelled',
                               'failed', 'no_agent', 'no_conversation', 'skipped',
                               'no_capacity'));
    end if;
end;
$guard$;
