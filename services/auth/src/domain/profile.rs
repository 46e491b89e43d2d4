//! Profile fields a user may edit: name, phone, address.

/// A display name: 1 to 100 characters, no control characters.
pub fn name(raw: &str) -> Result<String, &'static str> {
    text(raw, 100)
}

/// A postal address: up to 500 characters; line breaks allowed.
pub fn address(raw: &str) -> Result<String, &'static str> {
    let t = raw.trim().replace("\r\n", "\n");
    if t.chars().count() > 500 {
        return Err("must be at most 500 characters");
    }
    if t.chars().any(|c| c.is_control() && c != '\n') {
        return Err("must not contain control characters");
    }
    Ok(t)
}

/// A phone number: digits with an optional leading `+`, spaces, dashes, dots and parentheses;
/// 5 to 15 digits (E.164 allows at most 15).
pub fn phone(raw: &str) -> Result<String, &'static str> {
    let t = raw.trim();
    let digits = t.chars().filter(char::is_ascii_digit).count();
    let allowed = t
        .char_indices()
        .all(|(i, c)| c.is_ascii_digit() || " -.()".contains(c) || (c == '+' && i == 0));
    if !allowed || !(5..=15).contains(&digits) || t.len() > 32 {
        return Err("must be a phone number: 5 to 15 digits, optionally starting with +");
    }
    Ok(t.to_owned())
}

fn text(raw: &str, max: usize) -> Result<String, &'static str> {
    let t = raw.trim();
    if t.is_empty() {
        return Err("must not be empty");
    }
    if t.chars().count() > max {
        return Err("is too long");
    }
    if t.chars().any(char::is_control) {
        return Err("must not contain control characters");
    }
    Ok(t.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones() {
        assert_eq!(phone(" +7 (701) 123-45-67 "), Ok("+7 (701) 123-45-67".to_owned()));
        for bad in [
            "12",
            "call me",
            "+7 701 123 45 67 89 01 23",
            "7+7011234567",
            "1234567<br>",
        ] {
            assert!(phone(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn names() {
        assert_eq!(name("  Ада Лавлейс "), Ok("Ада Лавлейс".to_owned()));
        assert!(name("").is_err());
        assert!(name(&"n".repeat(101)).is_err());
        assert!(name("a\u{7}b").is_err());
    }

    #[test]
    fn addresses_keep_line_breaks() {
        assert_eq!(address("1 Main St\r\nAlmaty"), Ok("1 Main St\nAlmaty".to_owned()));
        assert!(address(&"a".repeat(501)).is_err());
    }
}
