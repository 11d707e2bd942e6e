-- Runs: what the API shows and what workers take, in one table (no second job table to keep
-- in sync). Workers take queued runs with FOR UPDATE SKIP LOCKED and store every change as a
-- compare-and-set on (attempt, status), so a worker whose attempt was taken over stores nothing.

-- A run names its pipeline together with the pipeline's organization, so a run can never
-- belong to another organization than its pipeline. The constraint's index serves every
-- lookup the plain (organization_id, id) index served.
ALTER TABLE pipelines ADD CONSTRAINT pipelines_organization_id_id_key UNIQUE (organization_id, id);
DROP INDEX pipelines_by_organization;

CREATE TABLE runs (
    -- UUIDv7: id order is creation order (lists, newest first, walk it backwards)
    id uuid PRIMARY KEY,
    organization_id uuid NOT NULL,
    pipeline_id uuid NOT NULL,
    status text NOT NULL
        CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    trigger text NOT NULL CHECK (trigger IN ('manual', 'schedule', 'retry')),
    -- attempts started so far (the current one while running)
    attempt integer NOT NULL CHECK (attempt >= 0),
    max_attempts integer NOT NULL CHECK (max_attempts >= 1),
    queued_at timestamptz NOT NULL,
    -- a queued run is not claimed before this (a retry's backoff, a deferred run)
    not_before timestamptz,
    started_at timestamptz,
    finished_at timestamptz,
    worker_id text,
    lease_expires_at timestamptz,
    -- the destination epoch the current attempt writes with
    epoch bigint,
    cancel_requested boolean NOT NULL DEFAULT false,
    -- stream name -> {rows_read, rows_written, estimate}
    streams jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(streams) = 'object'),
    -- {type, message, retryable} or null; never a secret
    error jsonb CHECK (error IS NULL OR jsonb_typeof(error) = 'object'),
    FOREIGN KEY (organization_id, pipeline_id)
        REFERENCES pipelines (organization_id, id) ON DELETE CASCADE,
    CHECK (attempt <= max_attempts),
    -- the reaper finds a dead worker's run by its lease: a running run always has one
    CHECK (status <> 'running' OR (worker_id IS NOT NULL AND lease_expires_at IS NOT NULL
                                   AND epoch IS NOT NULL AND started_at IS NOT NULL)),
    CHECK ((status IN ('succeeded', 'failed', 'cancelled')) = (finished_at IS NOT NULL))
);

-- At most one queued or running run per pipeline, kept by the database so that two
-- concurrent triggers cannot both win; the INSERT names it as its ON CONFLICT arbiter.
CREATE UNIQUE INDEX runs_one_active_per_pipeline ON runs (pipeline_id)
    WHERE status IN ('queued', 'running');

-- The queue: oldest queued run first. Only queued rows are in it, so it stays as small as
-- the backlog however many finished runs the table keeps.
CREATE INDEX runs_queued ON runs (queued_at, id) WHERE status = 'queued';

-- Runs held by workers (the reaper's scan, a worker's own runs). Keyed by worker rather than
-- by lease on purpose: a heartbeat then changes no indexed column and its update can stay
-- HOT; running rows are as few as the workers' total concurrency, so the reaper filters
-- them on lease_expires_at cheaply.
CREATE INDEX runs_running ON runs (worker_id) WHERE status = 'running';

-- Lists, newest first (scanned backwards): an organization's, a pipeline's, a status's.
-- runs_by_pipeline also serves the cascade from a deleted pipeline.
CREATE INDEX runs_by_organization ON runs (organization_id, id);
CREATE INDEX runs_by_pipeline ON runs (organization_id, pipeline_id, id);
CREATE INDEX runs_by_status ON runs (organization_id, status, id);
