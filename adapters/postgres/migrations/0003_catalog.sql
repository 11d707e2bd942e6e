-- The catalog: data sources (their secrets live in the secret store) and pipelines.

CREATE TABLE data_sources (
    id uuid PRIMARY KEY,
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name text NOT NULL,
    kind text NOT NULL CHECK (kind IN ('postgres', 'file')),
    -- the kind's config without its secret fields
    config jsonb NOT NULL,
    secret_fields_set text[] NOT NULL DEFAULT '{}',
    -- what the last connector calls said; shared so every process respects an open circuit
    circuit text NOT NULL DEFAULT 'closed' CHECK (circuit IN ('closed', 'open', 'half_open')),
    circuit_open_until timestamptz,
    last_check_at timestamptz,
    last_error text,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    UNIQUE (organization_id, name)
);
CREATE INDEX data_sources_by_organization ON data_sources (organization_id, id);

CREATE TABLE pipelines (
    id uuid PRIMARY KEY,
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name text NOT NULL,
    -- NO ACTION (not RESTRICT): deleting an organization removes pipelines and data
    -- sources in one statement, and the check runs at its end
    source_id uuid NOT NULL REFERENCES data_sources (id),
    destination_id uuid NOT NULL REFERENCES data_sources (id),
    streams jsonb NOT NULL,
    schedule jsonb,
    enabled boolean NOT NULL,
    -- per-stream cursors, written by runs only
    state jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    UNIQUE (organization_id, name)
);
CREATE INDEX pipelines_by_organization ON pipelines (organization_id, id);
CREATE INDEX pipelines_by_source ON pipelines (source_id);
CREATE INDEX pipelines_by_destination ON pipelines (destination_id);
