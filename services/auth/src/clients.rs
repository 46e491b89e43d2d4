//! Internal service clients allowed the client-credentials grant (`SERVICE_CLIENTS_FILE`).

use std::collections::HashMap;
use std::path::Path;

use anyhow::Context as _;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

/// The shortest client secret accepted.
pub const MIN_SECRET_LEN: usize = 16;

/// Client ids and the SHA-256 of their secrets (the secrets themselves are not kept).
#[derive(Default)]
pub struct ServiceClients {
    clients: HashMap<String, [u8; 32]>,
}

impl std::fmt::Debug for ServiceClients {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceClients")
            .field("ids", &self.clients.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl ServiceClients {
    /// Parses `client_id:secret` lines; blank lines and `#` comments are skipped.
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let mut clients = HashMap::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            // Never echo the line: it holds a secret.
            let (id, secret) = line
                .split_once(':')
                .with_context(|| format!("line {}: expected client_id:secret", n + 1))?;
            let id = id.trim();
            anyhow::ensure!(
                !id.is_empty()
                    && id.len() <= 64
                    && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)),
                "line {}: client ids are 1-64 characters of letters, digits, - _ .",
                n + 1
            );
            anyhow::ensure!(
                secret.trim().len() >= MIN_SECRET_LEN,
                "line {}: the secret of {id} is shorter than {MIN_SECRET_LEN} characters",
                n + 1
            );
            anyhow::ensure!(
                clients
                    .insert(id.to_owned(), Sha256::digest(secret.trim().as_bytes()).into())
                    .is_none(),
                "line {}: client {id} is listed twice",
                n + 1
            );
        }
        Ok(Self { clients })
    }

    /// Reads and parses the file.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read SERVICE_CLIENTS_FILE {}", path.display()))?;
        Self::parse(&text).with_context(|| format!("SERVICE_CLIENTS_FILE {}", path.display()))
    }

    /// Whether `secret` is `id`'s secret, compared in constant time.
    pub fn authenticate(&self, id: &str, secret: &str) -> bool {
        let presented: [u8; 32] = Sha256::digest(secret.as_bytes()).into();
        match self.clients.get(id) {
            Some(expected) => bool::from(expected.ct_eq(&presented)),
            None => false,
        }
    }

    /// How many clients are configured.
    pub fn len(&self) -> usize {
        self.clients.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.clients.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_authenticates() {
        let c =
            ServiceClients::parse("# internal clients\norder:0123456789abcdef0123\n\ncart: fedcba9876543210fedc \n")
                .expect("parses");
        assert_eq!(c.len(), 2);
        assert!(c.authenticate("order", "0123456789abcdef0123"));
        assert!(c.authenticate("cart", "fedcba9876543210fedc"));
        assert!(!c.authenticate("order", "fedcba9876543210fedc"));
        assert!(!c.authenticate("nobody", "0123456789abcdef0123"));
    }

    #[test]
    fn rejects_bad_files_without_leaking_secrets() {
        for bad in [
            "order",
            "order:short",
            "bad id:0123456789abcdef",
            "a:0123456789abcdef\na:0123456789abcdef",
        ] {
            let err = ServiceClients::parse(bad).expect_err(bad);
            assert!(!format!("{err:#}").contains("0123456789abcdef"), "{err:#}");
        }
    }
}
