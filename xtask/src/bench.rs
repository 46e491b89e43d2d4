//! `cargo xtask bench`: placeholder until the benchmark command lands.

/// Runs `cargo xtask bench`.
pub fn run(_args: &[String]) -> anyhow::Result<()> {
    anyhow::bail!("bench: not yet available")
}
