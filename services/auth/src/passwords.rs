//! Password hashing: argon2id with OWASP's parameters (19 MiB, 2 passes, 1 lane).
//!
//! Hashing runs on a fixed pool of one worker thread per core, each reusing its own 19 MiB
//! block buffer while busy and dropping it after [`IDLE_RELEASE`] without work. Two reasons: a
//! login flood queues instead of starting a thread (and 19 MiB) per request, so memory stays
//! at `cores × 19 MiB` under load (with `spawn_blocking`, each of the many blocking threads
//! kept its freed buffer in its own malloc arena: 470 MiB resident after 400 logins at
//! concurrency 8); and an idle service gives the memory back.

use std::sync::Arc;
use std::time::Duration;

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use crossbeam_channel::{RecvTimeoutError, Sender};
use tokio::sync::oneshot;

/// OWASP Password Storage Cheat Sheet: m = 19 MiB, t = 2, p = 1.
pub const MEMORY_KIB: u32 = 19 * 1024;
/// Passes.
pub const ITERATIONS: u32 = 2;
/// Lanes.
pub const PARALLELISM: u32 = 1;
/// The most hashing threads (and 19 MiB buffers) whatever the core count.
pub const MAX_WORKERS: usize = 4;
/// How long a worker keeps its buffer without work.
pub const IDLE_RELEASE: Duration = Duration::from_secs(5);
/// Hash length in bytes.
const OUTPUT_LEN: usize = 32;

enum Job {
    Hash {
        password: String,
        reply: oneshot::Sender<anyhow::Result<String>>,
    },
    Verify {
        password: String,
        phc: String,
        reply: oneshot::Sender<anyhow::Result<bool>>,
    },
}

/// Hashes and verifies passwords on the worker pool.
#[derive(Clone)]
pub struct Hasher {
    jobs: Sender<Job>,
    /// A hash of a random password, verified against when the user does not exist, so a
    /// login for an unknown email takes as long as one for a known email. Made on first use,
    /// so an idle service has done no hashing at all.
    dummy: Arc<tokio::sync::OnceCell<String>>,
}

fn params() -> anyhow::Result<Params> {
    Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, Some(OUTPUT_LEN))
        .map_err(|e| anyhow::anyhow!("argon2 params: {e}"))
}

/// One worker's reusable memory.
struct Worker {
    blocks: Vec<Block>,
}

impl Worker {
    fn memory(&mut self, count: usize) -> &mut [Block] {
        if self.blocks.len() != count {
            self.blocks = vec![Block::default(); count];
        }
        &mut self.blocks
    }

    fn hash(&mut self, password: &str) -> anyhow::Result<String> {
        let params = params()?;
        let salt = Salt::generate();
        let mut out = [0u8; OUTPUT_LEN];
        let blocks = params.block_count();
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
            .hash_password_into_with_memory(password.as_bytes(), salt.as_ref(), &mut out, self.memory(blocks))
            .map_err(|e| anyhow::anyhow!("argon2: {e}"))?;
        let phc = PasswordHash {
            algorithm: Algorithm::Argon2id.ident(),
            version: Some(Version::V0x13.into()),
            params: ParamsString::try_from(&params).map_err(|e| anyhow::anyhow!("argon2 params: {e}"))?,
            salt: Some(salt),
            hash: Some(Output::new(&out).map_err(|e| anyhow::anyhow!("argon2 output: {e}"))?),
        };
        Ok(phc.to_string())
    }

    fn verify(&mut self, password: &str, phc: &str) -> anyhow::Result<bool> {
        let bad = |e: &dyn std::fmt::Display| anyhow::anyhow!("stored hash is not a valid argon2 PHC string: {e}");
        let parsed = PasswordHash::new(phc).map_err(|e| bad(&e))?;
        let algorithm = Algorithm::try_from(parsed.algorithm.as_str()).map_err(|e| bad(&e))?;
        let version = parsed
            .version
            .map(Version::try_from)
            .transpose()
            .map_err(|e| bad(&e))?
            .unwrap_or_default();
        let params = Params::try_from(&parsed).map_err(|e| bad(&e))?;
        let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
            return Err(bad(&"no salt or hash"));
        };
        let mut out = vec![0u8; expected.len()];
        let blocks = params.block_count();
        Argon2::new(algorithm, version, params)
            .hash_password_into_with_memory(password.as_bytes(), salt.as_ref(), &mut out, self.memory(blocks))
            .map_err(|e| anyhow::anyhow!("argon2: {e}"))?;
        // `Output`'s equality is constant-time.
        Ok(Output::new(&out).map_err(|e| bad(&e))? == expected)
    }
}

impl Hasher {
    /// Starts one worker thread per available core.
    pub fn new() -> anyhow::Result<Self> {
        // At most 4 workers: each holds 19 MiB while busy, and a pod's memory limit does not
        // grow with the node's core count.
        let cores = std::thread::available_parallelism()
            .map_or(2, std::num::NonZero::get)
            .min(MAX_WORKERS);
        // A multi-consumer channel: every idle worker waits (and times out) on its own.
        let (tx, rx) = crossbeam_channel::unbounded::<Job>();
        for i in 0..cores {
            let rx = rx.clone();
            std::thread::Builder::new().name(format!("argon2-{i}")).spawn(move || {
                let mut worker = Worker { blocks: Vec::new() };
                loop {
                    let job = rx.recv_timeout(IDLE_RELEASE);
                    match job {
                        Ok(Job::Hash { password, reply }) => drop(reply.send(worker.hash(&password))),
                        Ok(Job::Verify { password, phc, reply }) => drop(reply.send(worker.verify(&password, &phc))),
                        Err(RecvTimeoutError::Timeout) => worker.blocks = Vec::new(),
                        Err(RecvTimeoutError::Disconnected) => return, // every Hasher is gone
                    }
                }
            })?;
        }
        Ok(Self {
            jobs: tx,
            dummy: Arc::new(tokio::sync::OnceCell::new()),
        })
    }

    /// Hashes a password into a PHC string.
    pub async fn hash(&self, password: &str) -> anyhow::Result<String> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job::Hash {
                password: password.to_owned(),
                reply,
            })
            .map_err(|_| anyhow::anyhow!("password workers stopped"))?;
        answer.await?
    }

    /// Whether `password` matches `hash` (`None`: compare against the dummy, always false).
    pub async fn verify(&self, password: &str, hash: Option<&str>) -> anyhow::Result<bool> {
        let phc = match hash {
            Some(h) => h.to_owned(),
            None => {
                let random = format!("{:x?}", rand::random::<[u8; 16]>());
                self.dummy.get_or_try_init(|| self.hash(&random)).await?.clone()
            }
        };
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job::Verify {
                password: password.to_owned(),
                phc,
                reply,
            })
            .map_err(|_| anyhow::anyhow!("password workers stopped"))?;
        Ok(answer.await?? && hash.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::password_hash::PasswordVerifier as _;

    #[tokio::test]
    async fn hash_then_verify() {
        let h = Hasher::new().expect("hasher");
        let hash = h.hash("correct horse").await.expect("hash");
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hash}");
        assert!(h.verify("correct horse", Some(&hash)).await.expect("verify"));
        assert!(!h.verify("wrong horse", Some(&hash)).await.expect("verify"));
        assert!(!h.verify("correct horse", None).await.expect("dummy"));
        assert!(h.verify("x", Some("not a phc string")).await.is_err());
    }

    #[tokio::test]
    async fn interoperates_with_the_argon2_crates_own_format() {
        // Our hashes verify with the crate's verifier, and the crate's (other params) with ours.
        let h = Hasher::new().expect("hasher");
        let ours = h.hash("correct horse").await.expect("hash");
        let parsed = PasswordHash::new(&ours).expect("parses");
        assert!(Argon2::default().verify_password(b"correct horse", &parsed).is_ok());
        let theirs = "$argon2id$v=19$m=8192,t=1,p=1$c2FsdHNhbHRzYWx0$5bAHUp1AhZp31ubEOA1nfS25qbLNkNBoaOOb1c9Lq0M";
        let theirs_ok = Argon2::default()
            .verify_password(b"hunter42", &PasswordHash::new(theirs).expect("parses"))
            .is_ok();
        assert_eq!(h.verify("hunter42", Some(theirs)).await.expect("verify"), theirs_ok);
    }
}
