//! One module per command: arguments in, library call, report out.

pub mod campaign;
pub mod demo;
pub mod fixtures;
pub mod ingest;
pub mod keygen;
pub mod models;
pub mod nightly;
pub mod query;
pub mod sql;
pub mod redact;
pub mod runs;
pub mod weekly;

use anyhow::Context as _;
use vigil::pseudonym::{PseudonymKey, KEY_ENV};

use crate::cli::KeyArgs;

/// The pseudonym key from `--key-file` or `$VIGIL_KEY`; refuses to go on without one.
pub fn load_key(args: &KeyArgs) -> anyhow::Result<PseudonymKey> {
    if let Some(path) = &args.key_file {
        return PseudonymKey::from_file(path).with_context(|| format!("--key-file {}", path.display()));
    }
    match std::env::var(KEY_ENV) {
        Ok(hex) => PseudonymKey::from_hex(&hex).with_context(|| format!("${KEY_ENV}")),
        Err(_) => anyhow::bail!(
            "no pseudonym key: set {KEY_ENV} to 64 hex characters or pass --key-file FILE \
             (create one with `vigil keygen --out FILE`; keep it outside the warehouse)"
        ),
    }
}

/// 32 bytes from the operating system's random source.
pub fn random_key() -> anyhow::Result<PseudonymKey> {
    use std::io::Read;
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .context("reading /dev/urandom for a new key")?;
    Ok(PseudonymKey::from_bytes(bytes))
}
