-- Housekeeping deletes finished runs past their retention in small batches: by finish time,
-- without reading the runs still queued or running.
CREATE INDEX runs_finished ON runs (finished_at) WHERE finished_at IS NOT NULL;
