//! Service-token scopes: what each internal client may do, and the clients file that says so.
//!
//! A client-credentials token carries the scopes of its client (`scope`, space-separated, the
//! OAuth 2.0 convention); each internal route checks the one it needs. The grants are
//! [`ServiceName::scopes`], the one table both `cargo xtask dev` and the operator write into
//! auth's clients file ([`client_line`]), and auth reads back ([`ClientLine::parse`]).

use std::fmt;

use crate::ServiceName;

/// Something an internal client may do on another service's internal API.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    /// `catalog:read`: products by id and the low-stock list (`POST /internal/products/batch`,
    /// `GET /internal/products/low-stock`).
    CatalogRead,
    /// `catalog:reserve`: take, inspect and give back an order's stock
    /// (`POST /internal/reservations`, `GET /internal/reservations/{order_id}`,
    /// `POST /internal/reservations/{order_id}/release`).
    CatalogReserve,
    /// `cart:read`: any user's cart (`GET /internal/carts/{user_id}`).
    CartRead,
    /// `cart:clear`: empty any user's cart (`POST /internal/carts/{user_id}/clear`).
    CartClear,
}

/// Every scope.
pub const SCOPES: [Scope; 4] = [
    Scope::CatalogRead,
    Scope::CatalogReserve,
    Scope::CartRead,
    Scope::CartClear,
];

impl Scope {
    /// The wire name (`catalog:reserve`): `<service that checks it>:<what it allows>`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::CatalogRead => "catalog:read",
            Self::CatalogReserve => "catalog:reserve",
            Self::CartRead => "cart:read",
            Self::CartClear => "cart:clear",
        }
    }

    /// Looks a scope up by its wire name.
    pub fn parse(name: &str) -> Option<Self> {
        SCOPES.into_iter().find(|scope| scope.as_str() == name)
    }

    /// The service whose internal routes check it.
    pub const fn checked_by(self) -> ServiceName {
        match self {
            Self::CatalogRead | Self::CatalogReserve => ServiceName::Catalog,
            Self::CartRead | Self::CartClear => ServiceName::Cart,
        }
    }

    /// A space-separated list (the `scope` claim and form field of OAuth 2.0).
    pub fn join(scopes: &[Scope]) -> String {
        scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" ")
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl ServiceName {
    /// The scopes its client-credentials token carries: exactly what it calls. A service that
    /// is no client gets none.
    pub const fn scopes(self) -> &'static [Scope] {
        match self {
            // Checkout prices items, reserves stock, reads and clears the cart; cancel and the
            // sweeper release; admin stats list low stock.
            Self::Order => &[
                Scope::CatalogRead,
                Scope::CatalogReserve,
                Scope::CartRead,
                Scope::CartClear,
            ],
            // Read-only; neither reserves stock nor touches anyone's cart.
            Self::Cart | Self::Gateway => &[Scope::CatalogRead],
            Self::Auth | Self::Catalog => &[],
        }
    }
}

/// The first line of a generated clients file.
pub const CLIENTS_FILE_HEADER: &str = "# client_id:secret:scope,scope (scopes from shop-contract)";

/// The clients-file line of `service` with `secret`: `order:<secret>:catalog:read,…`. A line of
/// a client with no scopes ends after the secret.
pub fn client_line(service: ServiceName, secret: &str) -> String {
    let scopes = service.scopes();
    if scopes.is_empty() {
        return format!("{service}:{secret}");
    }
    let scopes: Vec<&str> = scopes.iter().map(|s| s.as_str()).collect();
    format!("{service}:{secret}:{}", scopes.join(","))
}

/// A whole clients file: the header, then one line per service client in [`crate::SERVICES`]
/// order, each with the secret `secret` gives it (`None`: that client is left out).
pub fn clients_file(mut secret: impl FnMut(ServiceName) -> Option<String>) -> String {
    let mut file = format!("{CLIENTS_FILE_HEADER}\n");
    for service in crate::SERVICES.into_iter().filter(|s| s.is_service_client()) {
        if let Some(secret) = secret(service) {
            file.push_str(&client_line(service, &secret));
            file.push('\n');
        }
    }
    file
}

/// One parsed line of the clients file: `client_id:secret[:scope,scope…]`.
///
/// The id ends at the first `:`. The scopes, separated by commas (or spaces), follow the first
/// later `:` after which the rest of the line has the shape of a scope list (`word:word`
/// items); everything before it is the secret. So a secret may hold a `:` (as before scopes
/// existed), unless what follows that `:` looks like a list of scopes. A line without scopes
/// grants none: such a client still gets a token, and every internal route refuses it.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientLine<'a> {
    /// The client id, trimmed (checked by the reader, not here).
    pub id: &'a str,
    /// The secret, trimmed.
    pub secret: &'a str,
    /// The scopes granted, in file order, without repeats.
    pub scopes: Vec<Scope>,
}

impl fmt::Debug for ClientLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientLine")
            .field("id", &self.id)
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

/// Why a clients-file line did not parse. Never holds the secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientLineError {
    /// No `:` after the client id.
    NoSecret,
    /// A scope name that is not in [`SCOPES`]; named when it starts with a service's name
    /// (anything else might be the tail of a secret).
    UnknownScope(Option<String>),
}

impl fmt::Display for ClientLineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let known = SCOPES.map(Scope::as_str).join(", ");
        match self {
            Self::NoSecret => f.write_str("expected client_id:secret[:scope,scope]"),
            Self::UnknownScope(Some(name)) => write!(f, "unknown scope `{name}` (known: {known})"),
            Self::UnknownScope(None) => write!(f, "an unknown scope (known: {known})"),
        }
    }
}

impl std::error::Error for ClientLineError {}

fn scope_items(list: &str) -> impl Iterator<Item = &str> {
    list.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|item| !item.is_empty())
}

/// Whether `text` has the shape of a scope list: one or more `word:word` items (lower-case
/// letters and `-`), known or not.
fn is_scope_list(text: &str) -> bool {
    let item = |name: &str| {
        name.split_once(':').is_some_and(|(service, action)| {
            !service.is_empty()
                && !action.is_empty()
                && service.bytes().all(|b| b.is_ascii_lowercase())
                && action.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')
        })
    };
    scope_items(text).next().is_some() && scope_items(text).all(item)
}

impl<'a> ClientLine<'a> {
    /// Parses one non-blank, non-comment line.
    pub fn parse(line: &'a str) -> Result<Self, ClientLineError> {
        let (id, rest) = line.trim().split_once(':').ok_or(ClientLineError::NoSecret)?;
        let (secret, list) = rest
            .match_indices(':')
            .map(|(at, _)| (&rest[..at], &rest[at + 1..]))
            .find(|(_, list)| is_scope_list(list))
            .unwrap_or((rest, ""));
        let mut scopes = Vec::new();
        for name in scope_items(list) {
            let scope = Scope::parse(name).ok_or_else(|| {
                let names_a_service = name
                    .split_once(':')
                    .is_some_and(|(service, _)| ServiceName::parse(service).is_some());
                ClientLineError::UnknownScope(names_a_service.then(|| name.to_owned()))
            })?;
            if !scopes.contains(&scope) {
                scopes.push(scope);
            }
        }
        Ok(Self {
            id: id.trim(),
            secret: secret.trim(),
            scopes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SERVICES;

    #[test]
    fn each_client_gets_only_what_it_needs() {
        use Scope::*;
        assert_eq!(
            ServiceName::Order.scopes(),
            &[CatalogRead, CatalogReserve, CartRead, CartClear]
        );
        assert_eq!(ServiceName::Cart.scopes(), &[CatalogRead]);
        assert_eq!(ServiceName::Gateway.scopes(), &[CatalogRead]);
        for service in SERVICES {
            let scopes = service.scopes();
            if !service.is_service_client() {
                assert!(scopes.is_empty(), "{service} is no client but holds {scopes:?}");
            }
            for scope in scopes {
                // A scope is only worth holding for a service one calls, and never one's own.
                assert!(service.calls().contains(&scope.checked_by()), "{service}: {scope}");
                assert_ne!(scope.checked_by(), service, "{service}: {scope}");
            }
        }
        // Only order reserves stock or touches carts.
        for scope in [CatalogReserve, CartRead, CartClear] {
            let holders: Vec<_> = SERVICES.into_iter().filter(|s| s.scopes().contains(&scope)).collect();
            assert_eq!(holders, [ServiceName::Order], "{scope}");
        }
    }

    #[test]
    fn every_scope_is_granted_and_names_its_checker() {
        for scope in SCOPES {
            assert_eq!(Scope::parse(scope.as_str()), Some(scope));
            assert!(is_scope_list(scope.as_str()), "{scope}");
            let (service, _) = scope.as_str().split_once(':').unwrap_or_default();
            assert_eq!(ServiceName::parse(service), Some(scope.checked_by()), "{scope}");
            assert!(
                SERVICES.into_iter().any(|s| s.scopes().contains(&scope)),
                "{scope} is granted to nobody"
            );
        }
        assert_eq!(Scope::parse("catalog:write"), None);
        assert_eq!(
            Scope::join(&[Scope::CartRead, Scope::CartClear]),
            "cart:read cart:clear"
        );
    }

    #[test]
    fn client_lines_round_trip() {
        let line = client_line(ServiceName::Order, "0123456789abcdef");
        assert_eq!(
            line,
            "order:0123456789abcdef:catalog:read,catalog:reserve,cart:read,cart:clear"
        );
        let parsed = ClientLine::parse(&line).expect("parses");
        assert_eq!(parsed.id, "order");
        assert_eq!(parsed.secret, "0123456789abcdef");
        assert_eq!(parsed.scopes, ServiceName::Order.scopes());
        let file = clients_file(|s| (s != ServiceName::Cart).then(|| format!("secret-of-{s}")));
        assert_eq!(
            file,
            format!(
                "{CLIENTS_FILE_HEADER}\norder:secret-of-order:catalog:read,catalog:reserve,cart:read,cart:clear\n\
                 gateway:secret-of-gateway:catalog:read\n"
            )
        );
    }

    #[test]
    fn lines_without_scopes_grant_none_and_bad_scopes_are_refused() {
        for line in ["order:s3cret", " order : s3cret ", "order:s3cret:"] {
            let parsed = ClientLine::parse(line).expect(line);
            assert_eq!(parsed.id, "order", "{line}");
            assert!(parsed.secret.starts_with("s3cret"), "{line}");
            assert!(parsed.scopes.is_empty(), "{line}");
        }
        let parsed = ClientLine::parse("x:s: cart:read  cart:read,catalog:read ").expect("spaces and repeats");
        assert_eq!(parsed.secret, "s");
        assert_eq!(parsed.scopes, [Scope::CartRead, Scope::CatalogRead]);
        assert_eq!(
            ClientLine::parse("order").expect_err("no secret"),
            ClientLineError::NoSecret
        );
        assert_eq!(
            ClientLine::parse("order:s3cret:catalog:write").expect_err("unknown scope"),
            ClientLineError::UnknownScope(Some("catalog:write".into()))
        );
        // What might be the tail of a secret is never repeated in an error.
        let err = ClientLine::parse("order:abc:def:ghi").expect_err("an odd secret");
        assert_eq!(err, ClientLineError::UnknownScope(None));
        assert!(!err.to_string().contains("def"), "{err}");
        assert!(!format!("{:?}", ClientLine::parse("order:s3cret").expect("parses")).contains("s3cret"));
    }

    #[test]
    fn secrets_may_hold_colons_as_before() {
        let old = ClientLine::parse("odd.client:p+ss%word:/0123456789").expect("an old line");
        assert_eq!((old.secret, old.scopes.len()), ("p+ss%word:/0123456789", 0));
        let new = ClientLine::parse("odd.client:p+ss%word:/0123456789:cart:read").expect("with scopes");
        assert_eq!(new.secret, "p+ss%word:/0123456789");
        assert_eq!(new.scopes, [Scope::CartRead]);
        let hex = ClientLine::parse("a:b:c:catalog:read").expect("colons then a scope");
        assert_eq!((hex.secret, hex.scopes.as_slice()), ("b:c", &[Scope::CatalogRead][..]));
    }
}
