//! One module per command: arguments in, library call, report out.

pub mod access;
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
pub mod reveal;
pub mod runs;
pub mod validate;
pub mod weekly;

use anyhow::Context as _;
use vigil::ledger::{SigningKey, SIGNING_KEY_ENV};
use vigil::pseudonym::{PseudonymKey, KEY_ENV};
use vigil::warehouse::Warehouse;

use crate::cli::{KeyArgs, SigningArgs};

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

/// The signing key from `--signing-key` or `$VIGIL_SIGNING_KEY` (a path, or the key as 64 hex
/// characters); `None` when neither is set, with a warning that the run goes unsigned.
pub fn load_signing_key(args: &SigningArgs) -> anyhow::Result<Option<SigningKey>> {
    if let Some(path) = &args.signing_key {
        return Ok(Some(SigningKey::from_file(path).with_context(|| format!("--signing-key {}", path.display()))?));
    }
    match std::env::var(SIGNING_KEY_ENV) {
        Ok(value) if value.trim().len() == 64 && value.trim().bytes().all(|b| b.is_ascii_hexdigit()) => {
            Ok(Some(SigningKey::from_hex(&value).with_context(|| format!("${SIGNING_KEY_ENV}"))?))
        }
        Ok(value) => Ok(Some(SigningKey::from_file(std::path::Path::new(&value)).with_context(|| format!("${SIGNING_KEY_ENV}"))?)),
        Err(_) => {
            tracing::warn!(
                "no signing key (--signing-key or ${SIGNING_KEY_ENV}): this run's ledger entries are unsigned and `vigil verify` will report them; create one with `vigil keygen --signing --out FILE`"
            );
            Ok(None)
        }
    }
}

/// The warehouse, created if needed, with runs signed by the key the arguments name.
pub fn open_for_runs(path: &std::path::Path, signing: &SigningArgs) -> anyhow::Result<Warehouse> {
    let key = load_signing_key(signing)?;
    Ok(Warehouse::open(path)?.with_signer(key))
}

/// 32 bytes from the operating system's random source.
pub fn random_bytes() -> anyhow::Result<[u8; 32]> {
    Ok(vigil::random::os_bytes::<32>()?)
}

/// A new pseudonym key.
pub fn random_key() -> anyhow::Result<PseudonymKey> {
    Ok(PseudonymKey::from_bytes(random_bytes()?))
}
