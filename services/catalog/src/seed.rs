//! The demo catalog loaded by `shop-catalog seed` (and `cargo xtask dev`): 6 categories,
//! 2 attribute templates, 36 products with images this service draws itself (`/images`).
//! Idempotent: existing categories, templates and SKUs are left as they are.

use rust_decimal::Decimal;
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

/// What a seed run added.
#[derive(Debug, Default)]
pub struct Summary {
    pub categories: u64,
    pub templates: u64,
    pub products: u64,
}

const CATEGORIES: &[(&str, &str, &str)] = &[
    ("clothing", "Clothing", "Everyday wear and outerwear"),
    ("electronics", "Electronics", "Gadgets, audio and accessories"),
    ("home-kitchen", "Home & Kitchen", "Cookware, tableware and home goods"),
    ("books", "Books", "Fiction, non-fiction and cookbooks"),
    (
        "sports-outdoors",
        "Sports & Outdoors",
        "Gear for the steppe and the mountains",
    ),
    ("toys-games", "Toys & Games", "For all ages"),
];

fn clothing_schema() -> Value {
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {
            "size": {"type": "string", "enum": ["XS", "S", "M", "L", "XL", "XXL"], "title": "Size"},
            "color": {"type": "string", "minLength": 1, "maxLength": 30, "title": "Colour"},
            "material": {"type": "string", "maxLength": 60, "title": "Material"}
        },
        "required": ["size", "color"],
        "additionalProperties": false
    })
}

fn electronics_schema() -> Value {
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {
            "brand": {"type": "string", "minLength": 1, "maxLength": 40, "title": "Brand"},
            "warranty_months": {"type": "integer", "minimum": 0, "maximum": 60, "title": "Warranty", "x-unit": "months"},
            "wireless": {"type": "boolean", "title": "Wireless"}
        },
        "required": ["brand", "warranty_months"],
        "additionalProperties": false
    })
}

/// (sku, name, category, price in tenge, stock, template, attributes, description)
type Row = (
    &'static str,
    &'static str,
    &'static str,
    i64,
    i32,
    Option<&'static str>,
    Value,
    &'static str,
);

fn products() -> Vec<Row> {
    let c = |size: &str, color: &str, material: &str| json!({"size": size, "color": color, "material": material});
    let e = |brand: &str, months: i64, wireless: bool| json!({"brand": brand, "warranty_months": months, "wireless": wireless});
    vec![
        (
            "CLO-001",
            "Merino wool sweater",
            "clothing",
            24_990,
            25,
            Some("Clothing"),
            c("M", "charcoal", "merino wool"),
            "Warm, soft and itch-free for Almaty winters.",
        ),
        (
            "CLO-002",
            "Down parka",
            "clothing",
            79_990,
            8,
            Some("Clothing"),
            c("L", "black", "nylon, goose down"),
            "Rated to minus thirty; a hood with a fur-free trim.",
        ),
        (
            "CLO-003",
            "Linen shirt",
            "clothing",
            14_500,
            40,
            Some("Clothing"),
            c("S", "white", "linen"),
            "Breathable summer shirt with mother-of-pearl buttons.",
        ),
        (
            "CLO-004",
            "Felt slippers",
            "clothing",
            6_900,
            60,
            Some("Clothing"),
            c("M", "grey", "wool felt"),
            "Hand-felted house slippers.",
        ),
        (
            "CLO-005",
            "Rain jacket",
            "clothing",
            32_000,
            3,
            Some("Clothing"),
            c("XL", "yellow", "recycled polyester"),
            "Packable, seam-sealed, with pit zips.",
        ),
        (
            "CLO-006",
            "Crème cashmere scarf",
            "clothing",
            19_900,
            12,
            Some("Clothing"),
            c("M", "cream", "cashmere"),
            "Featherweight café-au-lait cashmere.",
        ),
        (
            "ELE-001",
            "Wireless headphones",
            "electronics",
            89_990,
            15,
            Some("Electronics"),
            e("Sonora", 24, true),
            "Active noise cancelling, 30-hour battery.",
        ),
        (
            "ELE-002",
            "Mechanical keyboard",
            "electronics",
            45_000,
            20,
            Some("Electronics"),
            e("Keyforge", 12, false),
            "Hot-swappable switches, Kazakh and Russian legends.",
        ),
        (
            "ELE-003",
            "USB-C charger 65 W",
            "electronics",
            12_990,
            100,
            Some("Electronics"),
            e("Voltix", 12, false),
            "GaN charger for laptops and phones.",
        ),
        (
            "ELE-004",
            "Smart speaker",
            "electronics",
            34_990,
            0,
            Some("Electronics"),
            e("Sonora", 12, true),
            "Room-filling sound; out of stock until spring.",
        ),
        (
            "ELE-005",
            "E-reader",
            "electronics",
            64_500,
            7,
            Some("Electronics"),
            e("Paperlight", 24, true),
            "Glare-free screen, weeks of battery.",
        ),
        (
            "ELE-006",
            "Action camera",
            "electronics",
            119_000,
            4,
            Some("Electronics"),
            e("Steppe", 12, true),
            "4K60, waterproof to 10 m.",
        ),
        (
            "HOM-001",
            "Cast-iron kazan 8 L",
            "home-kitchen",
            27_500,
            18,
            None,
            json!({}),
            "For plov and kuyrdak; pre-seasoned.",
        ),
        (
            "HOM-002",
            "Porcelain tea set",
            "home-kitchen",
            21_000,
            9,
            None,
            json!({}),
            "Six piyalas and a teapot.",
        ),
        (
            "HOM-003",
            "Chef's knife",
            "home-kitchen",
            18_900,
            30,
            None,
            json!({}),
            "20 cm, stainless Damascus pattern.",
        ),
        (
            "HOM-004",
            "French press",
            "home-kitchen",
            9_990,
            45,
            None,
            json!({}),
            "One litre, double-walled.",
        ),
        (
            "HOM-005",
            "Wool blanket",
            "home-kitchen",
            26_000,
            2,
            None,
            json!({}),
            "Heavy, warm and washable.",
        ),
        (
            "HOM-006",
            "Dastarkhan tablecloth",
            "home-kitchen",
            11_500,
            14,
            None,
            json!({}),
            "Embroidered cotton, 180 × 120 cm.",
        ),
        (
            "BOO-001",
            "The Path of Abai",
            "books",
            7_900,
            50,
            None,
            json!({}),
            "Mukhtar Auezov's epic novel.",
        ),
        (
            "BOO-002",
            "Steppe cookbook",
            "books",
            9_500,
            22,
            None,
            json!({}),
            "Beshbarmak, baursak and a hundred more recipes.",
        ),
        (
            "BOO-003",
            "Rust in action",
            "books",
            16_000,
            11,
            None,
            json!({}),
            "Systems programming, hands on.",
        ),
        (
            "BOO-004",
            "A history of the Silk Road",
            "books",
            12_900,
            6,
            None,
            json!({}),
            "Caravans, cities and ideas.",
        ),
        (
            "BOO-005",
            "Children's atlas",
            "books",
            6_500,
            35,
            None,
            json!({}),
            "Maps, animals and flags.",
        ),
        (
            "BOO-006",
            "Poems of the Great Steppe",
            "books",
            5_900,
            1,
            None,
            json!({}),
            "An anthology in translation.",
        ),
        (
            "SPO-001",
            "Trekking poles",
            "sports-outdoors",
            15_900,
            26,
            None,
            json!({}),
            "Carbon, foldable, 410 g the pair.",
        ),
        (
            "SPO-002",
            "Two-person tent",
            "sports-outdoors",
            68_000,
            5,
            None,
            json!({}),
            "Freestanding, three-season.",
        ),
        (
            "SPO-003",
            "Insulated bottle",
            "sports-outdoors",
            7_500,
            80,
            None,
            json!({}),
            "Keeps tea hot for 24 hours.",
        ),
        (
            "SPO-004",
            "Yoga mat",
            "sports-outdoors",
            10_900,
            33,
            None,
            json!({}),
            "Natural rubber, 5 mm.",
        ),
        (
            "SPO-005",
            "Ski goggles",
            "sports-outdoors",
            23_500,
            10,
            None,
            json!({}),
            "For Shymbulak's sunniest days.",
        ),
        (
            "SPO-006",
            "Climbing chalk bag",
            "sports-outdoors",
            4_900,
            0,
            None,
            json!({}),
            "With a brush holder.",
        ),
        (
            "TOY-001",
            "Wooden yurt puzzle",
            "toys-games",
            8_900,
            19,
            None,
            json!({}),
            "A 3D puzzle of a Kazakh yurt.",
        ),
        (
            "TOY-002",
            "Togyz kumalak board",
            "toys-games",
            14_000,
            8,
            None,
            json!({}),
            "The traditional nine-pebble game.",
        ),
        (
            "TOY-003",
            "Building blocks, 500 pieces",
            "toys-games",
            19_500,
            27,
            None,
            json!({}),
            "Compatible with the usual bricks.",
        ),
        (
            "TOY-004",
            "Plush snow leopard",
            "toys-games",
            6_900,
            42,
            None,
            json!({}),
            "Soft, 35 cm, machine washable.",
        ),
        (
            "TOY-005",
            "Kite",
            "toys-games",
            5_500,
            16,
            None,
            json!({}),
            "Delta kite for steppe winds.",
        ),
        (
            "TOY-006",
            "Strategy board game",
            "toys-games",
            24_900,
            3,
            None,
            json!({}),
            "Two to five players, 90 minutes.",
        ),
    ]
}

fn image_slug(sku: &str, name: &str) -> String {
    let words: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let words = words.split('-').filter(|w| !w.is_empty()).collect::<Vec<_>>().join("-");
    format!("{}-{words}", sku.to_ascii_lowercase())
}

/// Loads the demo catalog; `public_url` is where this service's `/images` are reachable.
pub async fn seed(db: &PgPool, public_url: &str) -> anyhow::Result<Summary> {
    let mut summary = Summary::default();
    let mut tx = db.begin().await?;
    for (slug, name, description) in CATEGORIES {
        summary.categories += sqlx::query(
            "INSERT INTO categories (id, slug, name, description) VALUES ($1, $2, $3, $4) ON CONFLICT (slug) DO NOTHING",
        )
        .bind(Uuid::now_v7())
        .bind(slug)
        .bind(name)
        .bind(description)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    }
    for (name, description, schema) in [
        ("Clothing", "Size, colour and material of a garment", clothing_schema()),
        (
            "Electronics",
            "Brand, warranty and connectivity of a device",
            electronics_schema(),
        ),
    ] {
        crate::domain::json_schema(&schema).map_err(|e| anyhow::anyhow!("seed template {name}: {e}"))?;
        summary.templates += sqlx::query(
            "INSERT INTO templates (id, name, description, schema) VALUES ($1, $2, $3, $4) ON CONFLICT (lower(name)) DO NOTHING",
        )
        .bind(Uuid::now_v7())
        .bind(name)
        .bind(description)
        .bind(&schema)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    }
    for (sku, name, category, tenge, stock, template, attributes, description) in products() {
        let image = format!("{public_url}/images/{}.svg", image_slug(sku, name));
        let inserted: Option<Uuid> = sqlx::query_scalar(
            "INSERT INTO products (id, sku, name, description, price, stock, attributes, template_id, images)
             VALUES ($1, $2, $3, $4, $5, $6, $7, (SELECT id FROM templates WHERE lower(name) = lower($8)), ARRAY[$9])
             ON CONFLICT (lower(sku)) DO NOTHING RETURNING id",
        )
        .bind(Uuid::now_v7())
        .bind(sku)
        .bind(name)
        .bind(description)
        .bind(Decimal::from(tenge))
        .bind(stock)
        .bind(&attributes)
        .bind(template)
        .bind(image)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(id) = inserted {
            summary.products += 1;
            sqlx::query("INSERT INTO product_categories (product_id, category_id) SELECT $1, id FROM categories WHERE slug = $2")
                .bind(id)
                .bind(category)
                .execute(&mut *tx)
                .await?;
        }
    }
    tx.commit().await?;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_rows_satisfy_their_templates_and_rules() {
        let clothing = crate::domain::json_schema(&clothing_schema()).expect("schema");
        let electronics = crate::domain::json_schema(&electronics_schema()).expect("schema");
        let rows = products();
        assert!(rows.len() >= 30);
        for (sku, name, category, _, _, template, attributes, _) in &rows {
            assert!(crate::domain::sku(sku).is_ok(), "{sku}");
            assert!(CATEGORIES.iter().any(|c| c.0 == *category), "{sku}: {category}");
            let v = match *template {
                Some("Clothing") => &clothing,
                Some("Electronics") => &electronics,
                _ => continue,
            };
            assert!(crate::domain::check_attributes(v, attributes).is_empty(), "{sku}");
            assert!(crate::domain::slug(&image_slug(sku, name)).is_ok(), "{sku}");
        }
    }
}
