//! PATCH bodies: an absent field keeps a value, `null` clears it.

/// Deserializes a present field as `Some(value)` (so `null` is `Some(None)`); use with
/// `#[serde(default, deserialize_with = "shop_api::patch::present")]` on an
/// `Option<Option<T>>`, which stays `None` when the field is absent.
pub fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    serde::Deserialize::deserialize(d).map(Some)
}
