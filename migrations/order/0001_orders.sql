-- Orders and their item snapshots. Stock lives in the catalog; an order only records what was
-- bought, at which price, and whether the catalog's reservation is still held.

CREATE TABLE orders (
    id               uuid PRIMARY KEY,
    user_id          uuid NOT NULL,
    user_email       text NOT NULL,
    status           text NOT NULL CHECK (status IN ('pending', 'placed', 'rejected', 'canceled')),
    total            NUMERIC(12,2) NOT NULL CHECK (total >= 0),
    currency         text NOT NULL,
    reason           text,
    idempotency_key  text NOT NULL CHECK (length(idempotency_key) BETWEEN 1 AND 128),
    -- sha256 of the cart's (product, qty) lines: tells a retry from a key reused with another cart.
    cart_fingerprint text NOT NULL,
    -- When the catalog gave the stock of a canceled order back (NULL: not yet, the sweeper retries).
    released_at      timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT orders_idempotency_key UNIQUE (user_id, idempotency_key)
);

CREATE INDEX orders_user_created ON orders (user_id, created_at DESC, id DESC);
CREATE INDEX orders_status_created ON orders (status, created_at);
CREATE INDEX orders_created ON orders (created_at);
CREATE INDEX orders_pending ON orders (updated_at) WHERE status = 'pending';
CREATE INDEX orders_unreleased ON orders (updated_at) WHERE status = 'canceled' AND released_at IS NULL;

CREATE TABLE order_items (
    order_id   uuid NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    line       int NOT NULL,
    product_id uuid NOT NULL,
    sku        text NOT NULL,
    name       text NOT NULL,
    unit_price NUMERIC(12,2) NOT NULL CHECK (unit_price >= 0),
    qty        int NOT NULL CHECK (qty > 0),
    subtotal   NUMERIC(12,2) NOT NULL CHECK (subtotal >= 0),
    PRIMARY KEY (order_id, line)
);

CREATE INDEX order_items_product ON order_items (product_id);
