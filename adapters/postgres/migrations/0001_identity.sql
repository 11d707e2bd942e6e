-- Identity and tenancy: users, organizations, memberships, credentials,
-- sign-in throttling and idempotency records.

CREATE TABLE users (
    id uuid PRIMARY KEY,
    -- stored normalized (trimmed, lower case); the check keeps it that way
    email text NOT NULL UNIQUE CHECK (email = lower(email)),
    name text NOT NULL,
    -- an encoded Argon2id hash that carries its own parameters
    password_hash text NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);

CREATE TABLE organizations (
    id uuid PRIMARY KEY,
    name text NOT NULL,
    slug text NOT NULL UNIQUE,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);

CREATE TABLE memberships (
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role text NOT NULL CHECK (role IN ('owner', 'admin', 'member', 'viewer')),
    joined_at timestamptz NOT NULL,
    PRIMARY KEY (organization_id, user_id)
);
-- a user's organizations, in id order (sign-in resolves every membership of a user)
CREATE INDEX memberships_by_user ON memberships (user_id, organization_id);

CREATE TABLE access_tokens (
    -- SHA-256 of the token; the token itself is never stored
    token_hash bytea PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX access_tokens_by_user ON access_tokens (user_id, expires_at);

CREATE TABLE api_keys (
    id uuid PRIMARY KEY,
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name text NOT NULL,
    role text NOT NULL CHECK (role IN ('owner', 'admin', 'member', 'viewer')),
    -- the key's public part, shown in listings; finds the row in one lookup
    public_id text NOT NULL UNIQUE,
    -- SHA-256 of the whole key; the key itself is never stored
    secret_hash bytea NOT NULL,
    created_by uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz,
    last_used_at timestamptz
);
CREATE INDEX api_keys_by_organization ON api_keys (organization_id, id);

-- Sign-in attempts per hashed account or client address, in fixed windows.
CREATE TABLE login_attempts (
    key text PRIMARY KEY,
    window_started_at timestamptz NOT NULL,
    attempts integer NOT NULL CHECK (attempts >= 0)
);

-- The first response to a creating request with an Idempotency-Key, per caller.
CREATE TABLE idempotency_keys (
    scope text NOT NULL,
    key text NOT NULL,
    fingerprint text NOT NULL,
    status integer,
    body bytea,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_keys_by_expiry ON idempotency_keys (expires_at);
