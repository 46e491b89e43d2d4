//! Signing-key files: loading Ed25519 or RSA PEM keys from a directory, generating new ones.
//!
//! A key directory holds one PEM file per key, `<kid>.pem`. Key ids sort by age (generated ids
//! start with a UTC timestamp), so the last one is the newest: auth signs with it and accepts
//! every key listed, which is how keys rotate without downtime.

use std::path::Path;

use anyhow::Context as _;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};

/// A private key auth signs with.
pub struct SigningKey {
    /// The key id (file stem), put in the token header.
    pub kid: String,
    /// `EdDSA` or `RS256`.
    pub alg: Algorithm,
    /// The private key.
    pub encoding: EncodingKey,
    /// The public half as a JWK (with `kid`, `alg`, `use: sig`).
    pub jwk: Jwk,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

/// A public key tokens are verified with.
#[derive(Clone)]
pub struct VerifyingKey {
    /// The key id.
    pub kid: String,
    /// The one algorithm this key is accepted with.
    pub alg: Algorithm,
    /// The public key.
    pub decoding: DecodingKey,
}

impl std::fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyingKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

fn pem_files(dir: &Path) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot read key directory {}", dir.display()))? {
        let path = entry?.path();
        if path.extension().and_then(|e| e.to_str()) != Some("pem") {
            continue;
        }
        let kid = path
            .file_stem()
            .and_then(|s| s.to_str())
            .filter(|s| {
                !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
            })
            .with_context(|| format!("{}: key file names must be <kid>.pem with a plain kid", path.display()))?
            .to_owned();
        let pem = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        files.push((kid, pem));
    }
    files.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(files)
}

/// Parses one private key PEM (PKCS#8 Ed25519, or PKCS#1/PKCS#8 RSA).
pub fn parse_signing_key(kid: &str, pem: &[u8]) -> anyhow::Result<SigningKey> {
    let (alg, encoding, mut jwk) = match EncodingKey::from_ed_pem(pem) {
        Ok(encoding) => (Algorithm::EdDSA, encoding, ed25519_jwk(kid, pem)?),
        Err(_) => {
            let encoding = EncodingKey::from_rsa_pem(pem)
                .with_context(|| format!("key {kid}: neither an Ed25519 nor an RSA private key"))?;
            let jwk = Jwk::from_encoding_key(&encoding, Algorithm::RS256)
                .with_context(|| format!("key {kid}: cannot derive its public key"))?;
            (Algorithm::RS256, encoding, jwk)
        }
    };
    jwk.common.key_id = Some(kid.to_owned());
    jwk.common.public_key_use = Some(jsonwebtoken::jwk::PublicKeyUse::Signature);
    Ok(SigningKey {
        kid: kid.to_owned(),
        alg,
        encoding,
        jwk,
    })
}

/// The public JWK of an Ed25519 private key, from PKCS#8 v1 or v2 PEM (jsonwebtoken's own
/// derivation accepts only v1).
fn ed25519_jwk(kid: &str, pem: &[u8]) -> anyhow::Result<Jwk> {
    use base64::Engine as _;
    use ed25519_dalek::pkcs8::DecodePrivateKey as _;
    use jsonwebtoken::jwk::{
        AlgorithmParameters, CommonParameters, EllipticCurve, OctetKeyPairParameters, OctetKeyPairType,
    };
    let text = std::str::from_utf8(pem).with_context(|| format!("key {kid}: not PEM text"))?;
    let key = ed25519_dalek::SigningKey::from_pkcs8_pem(text)
        .map_err(|e| anyhow::anyhow!("key {kid}: not an Ed25519 key: {e}"))?;
    Ok(Jwk {
        common: CommonParameters {
            key_algorithm: Some(jsonwebtoken::jwk::KeyAlgorithm::EdDSA),
            ..Default::default()
        },
        algorithm: AlgorithmParameters::OctetKeyPair(OctetKeyPairParameters {
            key_type: OctetKeyPairType::OctetKeyPair,
            curve: EllipticCurve::Ed25519,
            x: base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key.verifying_key().as_bytes()),
        }),
    })
}

/// Loads every `<kid>.pem` private key of `dir`, oldest first. Fails when there is none.
pub fn load_signing_keys(dir: &Path) -> anyhow::Result<Vec<SigningKey>> {
    let keys = pem_files(dir)?
        .into_iter()
        .map(|(kid, pem)| parse_signing_key(&kid, &pem))
        .collect::<anyhow::Result<Vec<_>>>()?;
    anyhow::ensure!(!keys.is_empty(), "no <kid>.pem signing key in {}", dir.display());
    Ok(keys)
}

/// The verifying half of a signing key.
pub fn verifying_key(key: &SigningKey) -> anyhow::Result<VerifyingKey> {
    Ok(VerifyingKey {
        kid: key.kid.clone(),
        alg: key.alg,
        decoding: DecodingKey::from_jwk(&key.jwk)?,
    })
}

/// Parses one public key PEM (Ed25519 or RSA).
pub fn parse_public_key(kid: &str, pem: &[u8]) -> anyhow::Result<VerifyingKey> {
    let (alg, decoding) = match DecodingKey::from_ed_pem(pem) {
        Ok(k) => (Algorithm::EdDSA, k),
        Err(_) => (
            Algorithm::RS256,
            DecodingKey::from_rsa_pem(pem)
                .with_context(|| format!("key {kid}: neither an Ed25519 nor an RSA public key"))?,
        ),
    };
    Ok(VerifyingKey {
        kid: kid.to_owned(),
        alg,
        decoding,
    })
}

/// Loads every `<kid>.pem` public key of `dir`. Fails when there is none.
pub fn load_public_keys(dir: &Path) -> anyhow::Result<Vec<VerifyingKey>> {
    let keys = pem_files(dir)?
        .into_iter()
        .map(|(kid, pem)| parse_public_key(&kid, &pem))
        .collect::<anyhow::Result<Vec<_>>>()?;
    anyhow::ensure!(!keys.is_empty(), "no <kid>.pem public key in {}", dir.display());
    Ok(keys)
}

/// Converts a JWK from a JWKS document into a verifying key; `None` for keys we do not accept
/// (no `kid`, not a signature key, an algorithm other than EdDSA/RS256).
pub fn from_jwk(jwk: &Jwk) -> Option<VerifyingKey> {
    let kid = jwk.common.key_id.clone()?;
    let alg = match &jwk.algorithm {
        jsonwebtoken::jwk::AlgorithmParameters::OctetKeyPair(_) => Algorithm::EdDSA,
        jsonwebtoken::jwk::AlgorithmParameters::RSA(_) => Algorithm::RS256,
        _ => return None,
    };
    Some(VerifyingKey {
        kid,
        alg,
        decoding: DecodingKey::from_jwk(jwk).ok()?,
    })
}

/// A new key id: UTC time then random hex, so ids sort by age (`20261123T130512Z-9f2c1a`).
pub fn new_kid() -> String {
    let suffix: u32 = rand::random();
    format!(
        "{}-{:06x}",
        chrono::Utc::now().format("%Y%m%dT%H%M%SZ"),
        suffix & 0xff_ffff
    )
}

/// The PEM pair of a new Ed25519 key: (PKCS#8 private, SPKI public).
pub fn generate_ed25519_pem() -> anyhow::Result<(String, String)> {
    use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
    use ed25519_dalek::pkcs8::{EncodePrivateKey, EncodePublicKey};
    let key = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
    // PKCS#8 v1 (no embedded public key), the form `openssl genpkey -algorithm ed25519` writes.
    let pair = ed25519_dalek::pkcs8::KeypairBytes {
        secret_key: key.to_bytes(),
        public_key: None,
    };
    let private = pair
        .to_pkcs8_pem(LineEnding::LF)
        .context("encode private key")?
        .to_string();
    let public = key
        .verifying_key()
        .to_public_key_pem(LineEnding::LF)
        .context("encode public key")?;
    Ok((private, public))
}

/// Writes a new Ed25519 key as `signing/<kid>.pem` (mode 0600) and `public/<kid>.pem` under
/// `dir`, and returns the kid.
pub fn generate_into(dir: &Path) -> anyhow::Result<String> {
    let kid = new_kid();
    let (private, public) = generate_ed25519_pem()?;
    let signing = dir.join("signing");
    let public_dir = dir.join("public");
    std::fs::create_dir_all(&signing)?;
    std::fs::create_dir_all(&public_dir)?;
    let private_path = signing.join(format!("{kid}.pem"));
    write_private(&private_path, private.as_bytes())?;
    std::fs::write(public_dir.join(format!("{kid}.pem")), public)?;
    Ok(kid)
}

fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(bytes)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_key_signs_and_its_public_pem_verifies() {
        let (private, public) = generate_ed25519_pem().expect("generate");
        let signing = parse_signing_key("k1", private.as_bytes()).expect("parse private");
        assert_eq!(signing.alg, Algorithm::EdDSA);
        let public = parse_public_key("k1", public.as_bytes()).expect("parse public");
        let mut header = jsonwebtoken::Header::new(Algorithm::EdDSA);
        header.kid = Some("k1".into());
        let claims = serde_json::json!({"sub": "x", "exp": 4_000_000_000u64});
        let token = jsonwebtoken::encode(&header, &claims, &signing.encoding).expect("sign");
        let mut v = jsonwebtoken::Validation::new(Algorithm::EdDSA);
        v.validate_aud = false;
        jsonwebtoken::decode::<serde_json::Value>(&token, &public.decoding, &v).expect("verifies with the PEM");
        let from_jwk = verifying_key(&signing).expect("jwk");
        jsonwebtoken::decode::<serde_json::Value>(&token, &from_jwk.decoding, &v).expect("verifies with the JWK");
    }

    #[test]
    fn kids_sort_by_age() {
        let a = new_kid();
        std::thread::sleep(std::time::Duration::from_millis(1100));
        let b = new_kid();
        assert!(a < b, "{a} < {b}");
    }
}
