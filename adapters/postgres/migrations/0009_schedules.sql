-- The scheduler: due scheduled runs queued exactly once per due time, however many workers
-- run it. A scheduler locks the due pipelines (FOR NO KEY UPDATE SKIP LOCKED), queues one run
-- for the latest due time that has passed and moves the pipeline's last due time forward, in
-- one transaction; a second scheduler skips the locked rows, and one arriving after the
-- commit finds the pipeline no longer due. The unique key below backs that up.

-- The latest due time the scheduler dealt with (queued a run for, or passed over while the
-- pipeline had an active run): the next due time is counted from it (from created_at before
-- the first). It only moves forward.
ALTER TABLE pipelines ADD COLUMN last_scheduled_for timestamptz;

-- The next due time, as the scheduler last computed it from the schedule and
-- last_scheduled_for (cron arithmetic stays in the application): it makes "which pipelines
-- are due" one index scan. NULL: not computed yet (a new pipeline, or its schedule changed);
-- 'infinity': the schedule never fires again.
ALTER TABLE pipelines ADD COLUMN next_due_at timestamptz;

-- Only pipelines the scheduler may run are in it; NULLS FIRST as the scheduler orders them.
CREATE INDEX pipelines_due ON pipelines (next_due_at NULLS FIRST)
    WHERE enabled AND schedule IS NOT NULL;

-- The due time a scheduled run was queued for (NULL for manual runs and retries).
ALTER TABLE runs ADD COLUMN scheduled_for timestamptz;
ALTER TABLE runs ADD CONSTRAINT runs_scheduled_for_schedule
    CHECK (scheduled_for IS NULL OR trigger = 'schedule');

-- At most one run per pipeline and due time, whatever the schedulers do.
CREATE UNIQUE INDEX runs_one_per_due_time ON runs (pipeline_id, scheduled_for)
    WHERE scheduled_for IS NOT NULL;
