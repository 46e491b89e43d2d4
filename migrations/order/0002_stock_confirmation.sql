-- The catalog expires a reservation its order does not confirm in time. The sweeper confirms
-- placed orders in batches, off the checkout's path, and records when here.
ALTER TABLE orders ADD COLUMN stock_confirmed_at timestamptz;

-- Orders placed before confirmation existed: their reservations never expire.
UPDATE orders SET stock_confirmed_at = updated_at WHERE status IN ('placed', 'canceled');

CREATE INDEX orders_unconfirmed ON orders (updated_at) WHERE status = 'placed' AND stock_confirmed_at IS NULL;
