-- Each data source names the secret store references that hold its secret values, so a new
-- value is written under a new reference and the catalog switches to it when it commits
-- (see domain.data_sources.secret_reference). Existing rows keep the references they used.

ALTER TABLE data_sources ADD COLUMN secret_references jsonb NOT NULL DEFAULT '{}';

UPDATE data_sources
SET secret_references = (
    SELECT coalesce(jsonb_object_agg(field, 'data-source/' || id || '/' || field), '{}')
    FROM unnest(secret_fields_set) AS field
);

ALTER TABLE data_sources DROP COLUMN secret_fields_set;

-- Which kinds exist is the connector registry's knowledge; a new kind needs no migration.
ALTER TABLE data_sources DROP CONSTRAINT data_sources_kind_check;
