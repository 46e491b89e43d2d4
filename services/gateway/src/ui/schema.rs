//! A product template's JSON Schema read as a list of form fields: the product page shows the
//! attributes with the schema's labels (`title`) and units (`x-unit`), and the admin's product
//! form is generated from it and turned back into the `attributes` object.

use serde_json::{Map, Value};

/// What kind of value an attribute holds.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    Text {
        max_length: Option<u64>,
    },
    Integer {
        minimum: Option<i64>,
        maximum: Option<i64>,
    },
    Number,
    Boolean,
    /// One of these strings.
    Choice(Vec<String>),
}

/// One attribute of a template.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    /// The property name (`warranty_months`).
    pub name: String,
    /// `title`, else the name with `_` as spaces and a capital first letter.
    pub label: String,
    /// `x-unit` (`months`, `cm`).
    pub unit: Option<String>,
    /// `description`.
    pub help: Option<String>,
    pub kind: Kind,
    pub required: bool,
}

/// The fields of a schema's top-level `properties`, in the schema's order.
pub fn fields(schema: &Value) -> Vec<Field> {
    let required: Vec<&str> = schema["required"]
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let Some(properties) = schema["properties"].as_object() else {
        return Vec::new();
    };
    properties
        .iter()
        .map(|(name, spec)| Field {
            name: name.clone(),
            label: spec["title"].as_str().map_or_else(|| humanize(name), str::to_owned),
            unit: spec["x-unit"].as_str().map(str::to_owned),
            help: spec["description"].as_str().map(str::to_owned),
            kind: kind(spec),
            required: required.contains(&name.as_str()),
        })
        .collect()
}

fn kind(spec: &Value) -> Kind {
    if let Some(options) = spec["enum"].as_array() {
        return Kind::Choice(
            options
                .iter()
                .map(|o| o.as_str().map_or_else(|| o.to_string(), str::to_owned))
                .collect(),
        );
    }
    match spec["type"].as_str() {
        Some("integer") => Kind::Integer {
            minimum: spec["minimum"].as_i64(),
            maximum: spec["maximum"].as_i64(),
        },
        Some("number") => Kind::Number,
        Some("boolean") => Kind::Boolean,
        _ => Kind::Text {
            max_length: spec["maxLength"].as_u64(),
        },
    }
}

fn humanize(name: &str) -> String {
    let text = name.replace('_', " ");
    let mut chars = text.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// An attribute value as text (`true`/`false` become the given words).
pub fn show(value: &Value, yes: &str, no: &str) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Bool(true) => yes.to_owned(),
        Value::Bool(false) => no.to_owned(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// The `attributes` object from form fields named `attr.<name>`: numbers where the schema
/// wants numbers (text that is not one is kept as text, so the catalog names the field),
/// checkboxes as booleans, empty fields left out.
pub fn from_form(fields: &[Field], form: &[(String, String)]) -> Value {
    let mut out = Map::new();
    for field in fields {
        let sent = form
            .iter()
            .find(|(k, _)| k.strip_prefix("attr.") == Some(field.name.as_str()))
            .map(|(_, v)| v.trim());
        let value = match (&field.kind, sent) {
            (Kind::Boolean, sent) => Some(Value::Bool(matches!(sent, Some("on" | "true" | "1")))),
            (_, None | Some("")) => None,
            (Kind::Integer { .. }, Some(text)) => Some(
                text.parse::<i64>()
                    .map_or_else(|_| Value::String(text.to_owned()), Value::from),
            ),
            (Kind::Number, Some(text)) => Some(
                text.replace(',', ".")
                    .parse::<f64>()
                    .ok()
                    .and_then(|n| serde_json::Number::from_f64(n).map(Value::Number))
                    .unwrap_or_else(|| Value::String(text.to_owned())),
            ),
            (_, Some(text)) => Some(Value::String(text.to_owned())),
        };
        if let Some(value) = value {
            out.insert(field.name.clone(), value);
        }
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn schema() -> Value {
        json!({"type": "object", "properties": {
            "size": {"type": "string", "enum": ["S", "M"], "title": "Size"},
            "warranty_months": {"type": "integer", "minimum": 0, "x-unit": "months"},
            "wireless": {"type": "boolean"},
            "note": {"type": "string", "maxLength": 20}
        }, "required": ["size"]})
    }

    #[test]
    fn a_schema_becomes_fields_with_labels_and_units() {
        let f = fields(&schema());
        assert_eq!(f.len(), 4);
        let size = f.iter().find(|f| f.name == "size").expect("size");
        assert_eq!(size.label, "Size");
        assert!(size.required);
        assert_eq!(size.kind, Kind::Choice(vec!["S".into(), "M".into()]));
        let warranty = f.iter().find(|f| f.name == "warranty_months").expect("warranty");
        assert_eq!(warranty.label, "Warranty months");
        assert_eq!(warranty.unit.as_deref(), Some("months"));
        assert!(!warranty.required);
        assert!(fields(&json!({"type": "object"})).is_empty());
    }

    #[test]
    fn form_fields_become_typed_attributes() {
        let f = fields(&schema());
        let form = vec![
            ("attr.size".to_owned(), "M".to_owned()),
            ("attr.warranty_months".to_owned(), " 24 ".to_owned()),
            ("attr.note".to_owned(), String::new()),
            ("attr.unknown".to_owned(), "x".to_owned()),
        ];
        assert_eq!(
            from_form(&f, &form),
            json!({"size": "M", "warranty_months": 24, "wireless": false})
        );
        let bad = vec![
            ("attr.warranty_months".to_owned(), "two".to_owned()),
            ("attr.wireless".to_owned(), "on".to_owned()),
        ];
        assert_eq!(from_form(&f, &bad), json!({"warranty_months": "two", "wireless": true}));
    }
}
