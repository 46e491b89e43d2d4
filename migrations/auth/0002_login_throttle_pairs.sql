-- Login throttling per (email, address) pair, per email and per address (docs/api/auth.md#throttling).
-- Keys: `pair:<email> <address>`, `email:<email>`, `ip:<address>`. A counter remembers its
-- failures until a window passes without one (`last_failed_at`); a pair or an email may be
-- refused until `blocked_until`.
--
-- Expand only: replicas of the previous release keep writing `attempts` and
-- `window_started_at` during a rolling upgrade; a later migration drops those two columns.
ALTER TABLE login_throttle
    ADD COLUMN failures       integer NOT NULL DEFAULT 0,
    ADD COLUMN last_failed_at timestamptz,
    ADD COLUMN blocked_until  timestamptz,
    ADD CONSTRAINT login_throttle_failures_check CHECK (failures >= 0),
    ALTER COLUMN attempts SET DEFAULT 0,
    ALTER COLUMN window_started_at SET DEFAULT now();
