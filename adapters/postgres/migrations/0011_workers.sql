-- Workers say they are alive every few seconds (one row each, stamped with the database's
-- clock); operators and readiness read it. Leases on runs, not this table, decide who holds
-- a run, so a lost row costs nothing but visibility.
CREATE TABLE workers (
    id text PRIMARY KEY CHECK (length(id) <= 200),
    host text NOT NULL CHECK (length(host) <= 255),
    pid integer NOT NULL,
    concurrency integer NOT NULL CHECK (concurrency >= 1),
    runs_held integer NOT NULL CHECK (runs_held >= 0),
    started_at timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL
);
CREATE INDEX workers_last_seen ON workers (last_seen_at);
