-- What `callflow report` reads per call besides the existing columns: the per-turn latency the
-- agent reported, the VoIP pushes sent, and whether the post-call webhook was delivered (set
-- after the webhook, null until then and for calls recorded before this column). The memory
-- fetch time is a key of the existing `latency` object (`memory_fetch_ms`). Safe to re-run.
alter table calls add column if not exists turn_latencies_ms jsonb not null default '[]'::jsonb;
alter table calls add column if not exists pushes_sent integer
    check (pushes_sent is null or pushes_sent >= 0);
alter table calls add column if not exists webhook_delivered boolean;
