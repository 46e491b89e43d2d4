-- Products, categories, attribute templates, stock and reservations for shop-catalog.
-- Constraints live here, not only in code.

-- Accent-insensitive search: `unaccent` is a trusted extension (PG 13+), so the database
-- owner may create it. It is STABLE; an IMMUTABLE wrapper pinned to its dictionary is what a
-- generated column and an index may use.
CREATE EXTENSION IF NOT EXISTS unaccent;

CREATE FUNCTION shop_unaccent(text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
    AS $$ SELECT public.unaccent('public.unaccent'::regdictionary, $1) $$;

CREATE TABLE categories (
    id          uuid PRIMARY KEY,
    slug        text        NOT NULL,
    name        text        NOT NULL,
    description text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT categories_slug_format CHECK (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$' AND length(slug) <= 64),
    CONSTRAINT categories_name_length CHECK (length(btrim(name)) BETWEEN 1 AND 100)
);
CREATE UNIQUE INDEX categories_slug_key ON categories (slug);

CREATE TABLE templates (
    id          uuid PRIMARY KEY,
    name        text        NOT NULL,
    description text,
    schema      jsonb       NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT templates_name_length CHECK (length(btrim(name)) BETWEEN 1 AND 100),
    CONSTRAINT templates_schema_object CHECK (jsonb_typeof(schema) = 'object')
);
CREATE UNIQUE INDEX templates_name_key ON templates (lower(name));

CREATE TABLE products (
    id            uuid PRIMARY KEY,
    sku           text          NOT NULL,
    name          text          NOT NULL,
    description   text          NOT NULL DEFAULT '',
    price         numeric(12,2) NOT NULL,
    stock         integer       NOT NULL DEFAULT 0,
    is_active     boolean       NOT NULL DEFAULT true,
    attributes    jsonb         NOT NULL DEFAULT '{}'::jsonb,
    template_id   uuid          REFERENCES templates (id) ON DELETE RESTRICT,
    images        text[]        NOT NULL DEFAULT '{}',
    version       integer       NOT NULL DEFAULT 1,
    created_at    timestamptz   NOT NULL DEFAULT now(),
    updated_at    timestamptz   NOT NULL DEFAULT now(),
    search        tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('simple', shop_unaccent(name || ' ' || sku)), 'A') ||
        setweight(to_tsvector('simple', shop_unaccent(description)), 'B')
    ) STORED,
    CONSTRAINT products_price_non_negative CHECK (price >= 0),
    CONSTRAINT products_stock_non_negative CHECK (stock >= 0),
    CONSTRAINT products_sku_format CHECK (sku ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'),
    CONSTRAINT products_name_length CHECK (length(btrim(name)) BETWEEN 1 AND 200),
    CONSTRAINT products_description_length CHECK (length(description) <= 10000),
    CONSTRAINT products_attributes_object CHECK (jsonb_typeof(attributes) = 'object'),
    CONSTRAINT products_images_count CHECK (cardinality(images) <= 20)
);
-- SKUs are unique whatever their case.
CREATE UNIQUE INDEX products_sku_key ON products (lower(sku));
-- SKU prefix search (`lower(sku) LIKE 'clo-%'`) whatever the database's collation.
CREATE INDEX products_sku_prefix_idx ON products (lower(sku) text_pattern_ops);
CREATE INDEX products_search_idx ON products USING gin (search);
CREATE INDEX products_active_created_idx ON products (created_at DESC, id) WHERE is_active;
CREATE INDEX products_active_price_idx ON products (price, id) WHERE is_active;
CREATE INDEX products_active_name_idx ON products (lower(name), id) WHERE is_active;

CREATE TABLE product_categories (
    product_id  uuid NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    category_id uuid NOT NULL REFERENCES categories (id) ON DELETE CASCADE,
    PRIMARY KEY (product_id, category_id)
);
CREATE INDEX product_categories_category_idx ON product_categories (category_id, product_id);

-- One reservation per order: reserved once, released at most once.
CREATE TABLE reservations (
    order_id    uuid PRIMARY KEY,
    status      text        NOT NULL DEFAULT 'reserved',
    items       jsonb       NOT NULL,
    reserved_by text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    released_at timestamptz,
    CONSTRAINT reservations_status_check CHECK (status IN ('reserved', 'released')),
    CONSTRAINT reservations_released_when CHECK ((status = 'released') = (released_at IS NOT NULL))
);
CREATE INDEX reservations_reserved_idx ON reservations (created_at) WHERE status = 'reserved';
