-- Secrets sealed with AES-256-GCM by the application; the database never sees a plaintext.

CREATE TABLE secrets (
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    reference text NOT NULL,
    -- the key ring version that sealed it; rotation moves every row to the newest
    key_version integer NOT NULL CHECK (key_version >= 1),
    nonce bytea NOT NULL CHECK (length(nonce) = 12),
    -- ciphertext followed by the 16-byte GCM tag
    ciphertext bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, reference)
);
-- rotation finds the rows not on the newest key
CREATE INDEX secrets_by_key_version ON secrets (key_version);
