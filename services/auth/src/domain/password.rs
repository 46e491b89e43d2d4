//! The password policy: 8 to 128 characters, not the email, not a well-known password.

use super::Email;

/// The shortest password accepted (NIST SP 800-63B minimum).
pub const MIN_LEN: usize = 8;
/// The longest, so hashing cost stays bounded.
pub const MAX_LEN: usize = 128;

/// Passwords every credential-stuffing list starts with (lower case).
const COMMON: &[&str] = &[
    "password",
    "password1",
    "password12",
    "password123",
    "password1234",
    "passw0rd",
    "p@ssw0rd",
    "p@ssword",
    "12345678",
    "123456789",
    "1234567890",
    "12341234",
    "11111111",
    "00000000",
    "87654321",
    "123123123",
    "1q2w3e4r",
    "1q2w3e4r5t",
    "qwertyuiop",
    "qwerty123",
    "qwerty12",
    "qwertyui",
    "asdfghjkl",
    "asdfasdf",
    "zxcvbnm1",
    "iloveyou",
    "iloveyou1",
    "sunshine",
    "princess",
    "football",
    "baseball",
    "welcome1",
    "welcome123",
    "letmein1",
    "letmein123",
    "admin123",
    "admin1234",
    "administrator",
    "changeme",
    "changeme123",
    "trustno1",
    "superman",
    "starwars",
    "whatever",
    "dragon123",
    "monkey123",
    "abc12345",
    "abcd1234",
    "aa123456",
    "master123",
    "shopkeeper",
    "secret123",
    "default1",
    "computer",
    "internet",
    "michael1",
    "jennifer",
    "passpass",
    "test1234",
    "testtest",
    "qazwsxedc",
    "1qaz2wsx",
    "zaq12wsx",
];

/// A password that meets the policy. Never printed.
pub struct Password(String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(***)")
    }
}

impl Password {
    /// Checks the policy for a user with `email`.
    pub fn parse(raw: &str, email: &Email) -> Result<Self, &'static str> {
        let len = raw.chars().count();
        if len < MIN_LEN {
            return Err("must be at least 8 characters");
        }
        if len > MAX_LEN {
            return Err("must be at most 128 characters");
        }
        if raw.chars().any(char::is_control) {
            return Err("must not contain control characters");
        }
        let lower = raw.to_lowercase();
        if lower == email.as_str() || lower == email.local_part() {
            return Err("must not be your email address");
        }
        if COMMON.contains(&lower.as_str()) || raw.chars().all(|c| raw.starts_with(c)) {
            return Err("is too common; choose another");
        }
        Ok(Self(raw.to_owned()))
    }

    /// The password itself (for hashing only).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email() -> Email {
        Email::parse("bob.smith@example.com").expect("valid")
    }

    #[test]
    fn accepts_a_decent_password() {
        assert!(Password::parse("correct horse battery", &email()).is_ok());
        assert!(Password::parse("Zk7#pq2!", &email()).is_ok());
    }

    #[test]
    fn rejects_weak_ones() {
        for (bad, why) in [
            ("short", "at least 8"),
            ("Password123", "too common"),
            ("PASSWORD", "too common"),
            ("aaaaaaaaaaaa", "too common"),
            ("bob.smith@example.com", "email"),
            ("BOB.SMITH@EXAMPLE.COM", "email"),
            ("bob.smith", "email"),
            ("with\u{0}nul-byte", "control"),
        ] {
            let err = Password::parse(bad, &email()).expect_err(bad);
            assert!(err.contains(why), "{bad}: {err}");
        }
        assert!(Password::parse(&"x".repeat(129), &email()).is_err());
    }

    #[test]
    fn length_counts_characters_not_bytes() {
        assert!(Password::parse("пароль12", &email()).is_ok(), "8 Cyrillic/ASCII chars");
        assert!(Password::parse("ключ", &email()).is_err());
    }

    #[test]
    fn debug_never_shows_it() {
        let p = Password::parse("correct horse battery", &email()).expect("valid");
        assert!(!format!("{p:?}").contains("horse"));
    }
}
