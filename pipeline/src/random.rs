//! Secret random bytes for keys, from the operating system (`/dev/urandom`: never blocks after
//! boot, and needs no crate of its own).

use std::io::Read as _;

use crate::error::{Error, Result};

/// `N` bytes from the operating system's random source.
pub fn os_bytes<const N: usize>() -> Result<[u8; N]> {
    let mut bytes = [0u8; N];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|e| Error::Key(format!("reading /dev/urandom for a new key: {e}")))?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    #[test]
    fn draws_differ() {
        assert_ne!(super::os_bytes::<32>().unwrap(), super::os_bytes::<32>().unwrap());
    }
}
