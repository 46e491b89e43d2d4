-- A reservation holds its stock until its order confirms it (the order service confirms the
-- orders it placed, in batches, off the checkout's path). One still unconfirmed after
-- RESERVATION_TTL expires: its stock goes back, as a release would give it.
ALTER TABLE reservations ADD COLUMN confirmed_at timestamptz;

-- Reservations made before expiry existed belong to orders decided long ago: never expire them.
UPDATE reservations SET confirmed_at = created_at WHERE status = 'reserved';

CREATE INDEX reservations_unconfirmed_idx ON reservations (created_at)
    WHERE status = 'reserved' AND confirmed_at IS NULL;
