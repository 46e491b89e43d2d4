//! The `catalog` database. Every query binds its parameters; dynamic filters are assembled
//! with `QueryBuilder`, never by formatting values into SQL.

pub mod categories;
pub mod products;
pub mod reservations;
pub mod templates;

/// Unique and foreign-key constraints the API maps to 409.
pub mod constraints {
    /// `products (lower(sku))`.
    pub const SKU_UNIQUE: &str = "products_sku_key";
    /// `categories (slug)`.
    pub const SLUG_UNIQUE: &str = "categories_slug_key";
    /// `templates (lower(name))`.
    pub const TEMPLATE_NAME_UNIQUE: &str = "templates_name_key";
    /// `products.template_id` → `templates`.
    pub const PRODUCT_TEMPLATE_FK: &str = "products_template_id_fkey";
}
