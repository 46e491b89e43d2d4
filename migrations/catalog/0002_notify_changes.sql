-- Every catalog process caches pages of the product listing and empties its cache when
-- something a listing reads changes: each statement that writes these tables notifies
-- `catalog_changed` (delivered at commit; Postgres folds identical notifications of one
-- transaction into one).
CREATE FUNCTION catalog_notify_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('catalog_changed', TG_TABLE_NAME);
    RETURN NULL;
END
$$;

CREATE TRIGGER products_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON products
    FOR EACH STATEMENT EXECUTE FUNCTION catalog_notify_change();
CREATE TRIGGER product_categories_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON product_categories
    FOR EACH STATEMENT EXECUTE FUNCTION catalog_notify_change();
CREATE TRIGGER categories_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON categories
    FOR EACH STATEMENT EXECUTE FUNCTION catalog_notify_change();
