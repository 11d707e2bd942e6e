-- The trace of the request that queued a run (a W3C traceparent), when the service traces:
-- the worker's span of each attempt links to it, so a run is found from its trigger and back.
ALTER TABLE runs ADD COLUMN trace_parent text;
