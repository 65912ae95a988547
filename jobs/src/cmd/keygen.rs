//! `vigil keygen`: a new pseudonym key file or signing key, readable only by its owner.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use vigil::ledger::SigningKey;

use crate::cli::KeygenArgs;

pub fn run(args: KeygenArgs) -> anyhow::Result<()> {
    if args.signing {
        let key = SigningKey::from_bytes(super::random_bytes()?);
        let public = write_signing_key(&args.out, &key)?;
        println!("wrote a new signing key to {} and its public key ({}) to {}", args.out.display(), key.public().to_text(), public.display());
        return Ok(());
    }
    let key = super::random_key()?;
    write_key_file(&args.out, &key)?;
    println!("wrote a new pseudonym key to {}", args.out.display());
    Ok(())
}

/// Writes the key with mode 0600, refusing to overwrite an existing file.
pub fn write_key_file(path: &Path, key: &vigil::pseudonym::PseudonymKey) -> anyhow::Result<()> {
    write_new(path, &key.to_hex(), 0o600)
}

/// Writes a signing key (0600) and its public key beside it (`<path>.pub`, 0644), refusing to
/// overwrite either. Returns the public key's path.
pub fn write_signing_key(path: &Path, key: &SigningKey) -> anyhow::Result<PathBuf> {
    let mut public = path.as_os_str().to_owned();
    public.push(".pub");
    let public = PathBuf::from(public);
    anyhow::ensure!(!public.exists() && public.symlink_metadata().is_err(), "{} already exists; refusing to overwrite it", public.display());
    write_new(path, &key.to_hex(), 0o600)?;
    write_new(&public, &key.public().to_text(), 0o644)?;
    Ok(public)
}

/// Creates `path` (never through a link, never over a file) with `mode` and one line of text.
fn write_new(path: &Path, line: &str, mode: u32) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .with_context(|| format!("creating key file {}", path.display()))?;
    writeln!(file, "{line}")?;
    file.sync_all()?;
    Ok(())
}
