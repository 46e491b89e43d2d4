-- `GET /internal/revoked-sessions` is polled every second by every service: the sessions ended
-- within the last access-token lifetime, found by an index over the few revoked rows.
CREATE INDEX refresh_tokens_revoked_at_idx ON refresh_tokens (revoked_at) WHERE revoked_at IS NOT NULL;
