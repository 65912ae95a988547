//! `vigil keygen`: a new pseudonym key file, signing key, or reveal key split into shares,
//! each readable only by its owner.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use vigil::ledger::SigningKey;

use crate::cli::KeygenArgs;

pub fn run(args: KeygenArgs) -> anyhow::Result<()> {
    if let Some(shares) = args.reveal_shares {
        return write_reveal_shares(&args.out, shares, args.threshold);
    }
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
    anyhow::ensure!(public.symlink_metadata().is_err(), "{} already exists; refusing to overwrite it", public.display());
    write_new(path, &key.to_hex(), 0o600)?;
    write_new(&public, &key.public().to_text(), 0o644)?;
    Ok(public)
}

/// Makes a reveal key and writes `dir/reveal.pub` and one share file per holder (0600) in a
/// new directory (0700).
pub fn write_reveal_shares(dir: &Path, shares: u8, threshold: u8) -> anyhow::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    anyhow::ensure!(threshold <= shares, "--threshold {threshold} is more than --reveal-shares {shares}");
    std::fs::DirBuilder::new().mode(0o700).create(dir).with_context(|| format!("creating {} (it must not exist yet)", dir.display()))?;
    let (key, parts) = vigil::escrow::generate(shares, threshold)?;
    write_new(&dir.join("reveal.pub"), &key.to_text(), 0o644)?;
    for share in &parts {
        write_new(&dir.join(format!("share-{}", share.index)), share.to_text().trim_end(), 0o600)?;
    }
    println!(
        "wrote reveal key {} to {} and {shares} shares (any {threshold} reveal) to {}/share-1 … share-{shares}: give each share to a different key holder and delete it here",
        key.to_text(),
        dir.join("reveal.pub").display(),
        dir.display()
    );
    Ok(())
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
