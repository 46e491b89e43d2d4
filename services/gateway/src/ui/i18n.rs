//! The UI's languages: every string a page shows comes from the Fluent files under
//! `services/gateway/locales/<lang>/` (embedded at compile time), never from a template.
//!
//! The language is the one the shopper chose (the `sk_lang` cookie, set by `/lang/{code}`),
//! else the best match of `Accept-Language`, else Russian (the shop's first shoppers read it).

use std::borrow::Cow;
use std::collections::HashMap;

use axum::http::{HeaderMap, header};
use fluent_templates::fluent_bundle::FluentValue;
use fluent_templates::{LanguageIdentifier, Loader, langid};

fluent_templates::static_loader! {
    static LOCALES = {
        locales: "./locales",
        fallback_language: "en",
        // No Unicode isolation marks around arguments: they show up in copied text and tests.
        customise: |bundle| bundle.set_use_isolating(false),
    };
}

/// The cookie that remembers a chosen language.
pub const LANG_COOKIE: &str = "sk_lang";

/// A language the UI speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Ru,
    En,
}

static RU: LanguageIdentifier = langid!("ru");
static EN: LanguageIdentifier = langid!("en");

impl Lang {
    /// Every language, in the order the switcher shows them.
    pub const ALL: [Lang; 2] = [Lang::Ru, Lang::En];
    /// When nothing else decides.
    pub const DEFAULT: Lang = Lang::Ru;

    /// The BCP 47 code (`ru`, `en`).
    pub fn code(self) -> &'static str {
        match self {
            Lang::Ru => "ru",
            Lang::En => "en",
        }
    }

    /// The language's own name (shown in the switcher whatever the page's language).
    pub fn native_name(self) -> &'static str {
        match self {
            Lang::Ru => "Русский",
            Lang::En => "English",
        }
    }

    /// The language of a code such as `ru`, `ru-RU`, `EN-gb`.
    pub fn from_code(code: &str) -> Option<Lang> {
        let primary = code.split(['-', '_']).next()?.trim();
        Lang::ALL.into_iter().find(|l| l.code().eq_ignore_ascii_case(primary))
    }

    /// The cookie's choice, else the best `Accept-Language` match, else [`Lang::DEFAULT`].
    pub fn negotiate(headers: &HeaderMap) -> Lang {
        if let Some(chosen) = crate::session::cookie(headers, LANG_COOKIE).and_then(Lang::from_code) {
            return chosen;
        }
        headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .and_then(best_accepted)
            .unwrap_or(Lang::DEFAULT)
    }

    fn id(self) -> &'static LanguageIdentifier {
        match self {
            Lang::Ru => &RU,
            Lang::En => &EN,
        }
    }

    /// The text of `key`; a missing key shows as the key itself (and a test prevents it).
    pub fn t(self, key: &str) -> String {
        LOCALES.try_lookup(self.id(), key).unwrap_or_else(|| key.to_owned())
    }

    /// Whether `key` exists in this language (optional texts such as notices).
    pub fn has(self, key: &str) -> bool {
        // A message with a selector only formats with its argument, so give every usual one.
        let args: HashMap<Cow<'static, str>, FluentValue> = ["count", "status"]
            .into_iter()
            .map(|name| (Cow::Borrowed(name), FluentValue::from(1)))
            .collect();
        LOCALES.try_lookup_with_args(self.id(), key, &args).is_some()
    }

    /// The text of `key` with arguments (numbers stay numbers, for plural rules).
    pub fn t_args(self, key: &str, args: &[(&'static str, Arg)]) -> String {
        let args: HashMap<Cow<'static, str>, FluentValue> = args
            .iter()
            .map(|(name, value)| {
                let value = match value {
                    Arg::Text(text) => FluentValue::from(text.clone()),
                    Arg::Number(n) => FluentValue::from(*n),
                };
                (Cow::Borrowed(*name), value)
            })
            .collect();
        LOCALES
            .try_lookup_with_args(self.id(), key, &args)
            .unwrap_or_else(|| key.to_owned())
    }
}

/// An argument of a translated text.
#[derive(Debug, Clone)]
pub enum Arg {
    Text(String),
    Number(f64),
}

impl From<&str> for Arg {
    fn from(text: &str) -> Self {
        Arg::Text(text.to_owned())
    }
}

impl From<String> for Arg {
    fn from(text: String) -> Self {
        Arg::Text(text)
    }
}

impl From<&i64> for Arg {
    fn from(n: &i64) -> Self {
        Arg::from(*n)
    }
}

impl From<i64> for Arg {
    fn from(n: i64) -> Self {
        // Counts in a shop stay far below 2^53.
        #[allow(clippy::cast_precision_loss)]
        Arg::Number(n as f64)
    }
}

/// The best language of an `Accept-Language` value we speak (highest `q`, then order).
fn best_accepted(value: &str) -> Option<Lang> {
    let mut best: Option<(f32, Lang)> = None;
    for item in value.split(',') {
        let mut parts = item.split(';');
        let tag = parts.next().unwrap_or_default().trim();
        let q = parts
            .find_map(|p| p.trim().strip_prefix("q="))
            .and_then(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        if q <= 0.0 {
            continue;
        }
        if let Some(lang) = Lang::from_code(tag)
            && best.is_none_or(|(best_q, _)| q > best_q)
        {
            best = Some((q, lang));
        }
    }
    best.map(|(_, lang)| lang)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::collections::BTreeSet;
    use std::path::Path;

    use axum::http::HeaderValue;

    use super::*;

    fn headers(accept: &str, cookie: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT_LANGUAGE, HeaderValue::from_str(accept).unwrap());
        if let Some(cookie) = cookie {
            h.insert(header::COOKIE, HeaderValue::from_str(cookie).unwrap());
        }
        h
    }

    #[test]
    fn the_language_is_chosen_then_accepted_then_russian() {
        assert_eq!(Lang::negotiate(&headers("en-US,en;q=0.9", None)), Lang::En);
        assert_eq!(Lang::negotiate(&headers("de-DE,ru;q=0.5,en;q=0.4", None)), Lang::Ru);
        assert_eq!(Lang::negotiate(&headers("de, fr;q=0.8", None)), Lang::Ru);
        assert_eq!(Lang::negotiate(&headers("en;q=0, ru;q=0.1", None)), Lang::Ru);
        assert_eq!(Lang::negotiate(&headers("ru;q=0.2, en;q=0.8", None)), Lang::En);
        assert_eq!(Lang::negotiate(&headers("en", Some("sk_lang=ru"))), Lang::Ru);
        assert_eq!(Lang::negotiate(&headers("ru", Some("sk_lang=xx"))), Lang::Ru);
        assert_eq!(Lang::negotiate(&HeaderMap::new()), Lang::DEFAULT);
    }

    /// The message ids of every `.ftl` file of one language.
    fn keys(lang: &str) -> BTreeSet<String> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("locales").join(lang);
        let mut keys = BTreeSet::new();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "ftl") {
                for line in std::fs::read_to_string(&path).unwrap().lines() {
                    if let Some((id, _)) = line.split_once('=')
                        && !line.starts_with([' ', '#', '-', '\t', '*', '['])
                    {
                        assert!(keys.insert(id.trim().to_owned()), "{lang}: `{}` twice", id.trim());
                    }
                }
            }
        }
        keys
    }

    #[test]
    fn every_key_exists_in_every_language() {
        let en = keys("en");
        let ru = keys("ru");
        assert!(en.len() > 50, "the English files hold {} keys", en.len());
        let only_en: Vec<_> = en.difference(&ru).collect();
        let only_ru: Vec<_> = ru.difference(&en).collect();
        assert!(only_en.is_empty(), "missing in ru: {only_en:?}");
        assert!(only_ru.is_empty(), "missing in en: {only_ru:?}");
        for key in &en {
            for lang in Lang::ALL {
                assert!(lang.has(key), "{key} does not load in {}", lang.code());
            }
        }
    }

    /// Every key the templates and the UI code ask for by name exists in every language.
    #[test]
    fn every_key_used_is_translated() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut used = BTreeSet::new();
        let mut stack = vec![root.join("templates"), root.join("src/ui")];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                    continue;
                }
                let text = std::fs::read_to_string(&path).unwrap();
                for marker in ["t(\"", "t_args(\""] {
                    for (at, _) in text.match_indices(marker) {
                        // `ctx.t(`, `lang.t(`, not `get(`.
                        if at == 0 || text.as_bytes()[at - 1] != b'.' {
                            continue;
                        }
                        let rest = &text[at + marker.len()..];
                        let key = &rest[..rest.find('"').unwrap()];
                        if !key.is_empty()
                            && key
                                .chars()
                                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                        {
                            used.insert(key.to_owned());
                        }
                    }
                }
            }
        }
        assert!(used.len() > 30, "found {} keys in use", used.len());
        let en = keys("en");
        let missing: Vec<_> = used.iter().filter(|k| !en.contains(*k)).collect();
        assert!(missing.is_empty(), "used but not translated: {missing:?}");
    }
}
