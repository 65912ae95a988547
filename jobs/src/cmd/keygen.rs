//! `vigil keygen`: a new pseudonym key file, readable only by its owner.

use anyhow::Context as _;

use crate::cli::KeygenArgs;

pub fn run(args: KeygenArgs) -> anyhow::Result<()> {
    let key = super::random_key()?;
    write_key_file(&args.out, &key)?;
    println!("wrote a new pseudonym key to {}", args.out.display());
    Ok(())
}

/// Writes the key with mode 0600, refusing to overwrite an existing file.
pub fn write_key_file(path: &std::path::Path, key: &vigil::pseudonym::PseudonymKey) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating key file {}", path.display()))?;
    writeln!(file, "{}", key.to_hex())?;
    Ok(())
}
