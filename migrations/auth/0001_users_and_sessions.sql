-- Users, refresh-token families and login throttling for shop-auth.
-- Constraints live here, not only in code.

CREATE TABLE users (
    id              uuid PRIMARY KEY,
    email           text        NOT NULL,
    password_hash   text        NOT NULL,
    name            text,
    phone           text,
    address         text,
    role            text        NOT NULL DEFAULT 'customer',
    is_active       boolean     NOT NULL DEFAULT true,
    plan            text        NOT NULL DEFAULT 'free',
    plan_expires_at timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT users_role_check CHECK (role IN ('customer', 'admin')),
    CONSTRAINT users_plan_check CHECK (plan IN ('free', 'premium')),
    -- emails are stored normalised (trimmed, lower case), so uniqueness is case-insensitive
    CONSTRAINT users_email_normalised CHECK (email = lower(btrim(email)) AND length(email) BETWEEN 3 AND 254),
    CONSTRAINT users_name_length CHECK (length(name) <= 100),
    CONSTRAINT users_phone_length CHECK (length(phone) <= 32),
    CONSTRAINT users_address_length CHECK (length(address) <= 500)
);
CREATE UNIQUE INDEX users_email_key ON users (email);
CREATE INDEX users_created_at_idx ON users (created_at DESC, id);

-- One row per refresh token; a login starts a family, each refresh adds a row to it.
-- Only the SHA-256 of a token is stored.
CREATE TABLE refresh_tokens (
    id          uuid PRIMARY KEY,
    family_id   uuid        NOT NULL,
    user_id     uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash  bytea       NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    revoked_at  timestamptz,
    CONSTRAINT refresh_tokens_hash_length CHECK (length(token_hash) = 32)
);
CREATE UNIQUE INDEX refresh_tokens_hash_key ON refresh_tokens (token_hash);
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_live_user_idx ON refresh_tokens (user_id) WHERE revoked_at IS NULL;

-- Login attempt counters, shared by every replica: `email:<addr>` and `ip:<addr>`.
CREATE TABLE login_throttle (
    key               text PRIMARY KEY,
    attempts          integer     NOT NULL CHECK (attempts >= 0),
    window_started_at timestamptz NOT NULL
);
