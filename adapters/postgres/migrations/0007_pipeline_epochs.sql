-- Each attempt to move a pipeline's streams takes the next epoch of its pipeline: the number
-- only grows, so a destination can tell a newer attempt from a zombie of an older one.

ALTER TABLE pipelines ADD COLUMN epoch bigint NOT NULL DEFAULT 0 CHECK (epoch >= 0);
