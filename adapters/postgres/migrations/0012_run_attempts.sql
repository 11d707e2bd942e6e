-- Each ended attempt of a run (who ran it, when, how it ended, its figures), oldest first,
-- the latest 20: the run's history across retries, hand-backs and deferrals. Written with
-- the run's row, so it is exactly as fenced as the rest of it.
ALTER TABLE runs ADD COLUMN attempts jsonb NOT NULL DEFAULT '[]';
