//! Internal service clients allowed the client-credentials grant (`SERVICE_CLIENTS_FILE`), and
//! the scopes each may be given.
//!
//! The file holds `client_id:secret:scope,scope` lines ([`shop_contract::ClientLine`]); a line
//! without scopes still authenticates, and its tokens carry no scope.

use std::collections::HashMap;
use std::path::Path;

use anyhow::Context as _;
use sha2::{Digest as _, Sha256};
use shop_contract::{ClientLine, Scope};
use subtle::ConstantTimeEq as _;

/// The shortest client secret accepted.
pub const MIN_SECRET_LEN: usize = 16;

/// One client: the SHA-256 of its secret (the secret itself is not kept) and its scopes.
struct Client {
    secret_hash: [u8; 32],
    scopes: Vec<Scope>,
}

/// Client ids, their secrets' hashes and their scopes.
#[derive(Default)]
pub struct ServiceClients {
    clients: HashMap<String, Client>,
}

impl std::fmt::Debug for ServiceClients {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceClients")
            .field("ids", &self.clients.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl ServiceClients {
    /// Parses `client_id:secret[:scope,scope]` lines; blank lines and `#` comments are skipped.
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let mut clients = HashMap::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            // Never echo the line: it holds a secret (nor does the parser's error).
            let ClientLine { id, secret, scopes } =
                ClientLine::parse(line).map_err(|e| anyhow::anyhow!("line {}: {e}", n + 1))?;
            anyhow::ensure!(
                !id.is_empty()
                    && id.len() <= 64
                    && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)),
                "line {}: client ids are 1-64 characters of letters, digits, - _ .",
                n + 1
            );
            anyhow::ensure!(
                secret.len() >= MIN_SECRET_LEN,
                "line {}: the secret of {id} is shorter than {MIN_SECRET_LEN} characters",
                n + 1
            );
            let client = Client {
                secret_hash: Sha256::digest(secret.as_bytes()).into(),
                scopes,
            };
            anyhow::ensure!(
                clients.insert(id.to_owned(), client).is_none(),
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

    /// The scopes of `id` when `secret` is its secret (compared in constant time); `None` for
    /// an unknown client or a wrong secret.
    pub fn authenticate(&self, id: &str, secret: &str) -> Option<&[Scope]> {
        let presented: [u8; 32] = Sha256::digest(secret.as_bytes()).into();
        let client = self.clients.get(id)?;
        bool::from(client.secret_hash.ct_eq(&presented)).then_some(client.scopes.as_slice())
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
        let c = ServiceClients::parse(
            "# internal clients\norder:0123456789abcdef0123:catalog:reserve,cart:read\n\ncart: fedcba9876543210fedc \n",
        )
        .expect("parses");
        assert_eq!(c.len(), 2);
        assert_eq!(
            c.authenticate("order", "0123456789abcdef0123"),
            Some(&[Scope::CatalogReserve, Scope::CartRead][..])
        );
        // A line without scopes (the format before scopes) authenticates, with none.
        assert_eq!(c.authenticate("cart", "fedcba9876543210fedc"), Some(&[][..]));
        assert_eq!(c.authenticate("order", "fedcba9876543210fedc"), None);
        assert_eq!(c.authenticate("nobody", "0123456789abcdef0123"), None);
    }

    #[test]
    fn reads_what_the_contract_writes() {
        let file = shop_contract::clients_file(|s| Some(format!("{s}-secret-0123456789")));
        let c = ServiceClients::parse(&file).expect("parses");
        for service in shop_contract::SERVICES.into_iter().filter(|s| s.is_service_client()) {
            assert_eq!(
                c.authenticate(service.as_str(), &format!("{service}-secret-0123456789")),
                Some(service.scopes()),
                "{service}"
            );
        }
    }

    #[test]
    fn rejects_bad_files_without_leaking_secrets() {
        for bad in [
            "order",
            "order:short",
            "bad id:0123456789abcdef",
            "a:0123456789abcdef\na:0123456789abcdef",
            "order:0123456789abcdef:catalog:write",
            "order:0123456789abcdef:made:up",
        ] {
            let err = ServiceClients::parse(bad).expect_err(bad);
            assert!(!format!("{err:#}").contains("0123456789abcdef"), "{err:#}");
        }
    }
}
