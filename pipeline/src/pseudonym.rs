//! Keyed BLAKE3 pseudonyms for identifiers, applied before anything reaches the warehouse.
//!
//! A pseudonym is `<prefix>_<32 hex>`: the first 128 bits of
//! `BLAKE3-keyed(key, domain || 0x00 || value)`. The domain separates kinds of identifier, so
//! the same string used as an account id and as an org id yields unrelated pseudonyms. 128 bits
//! keeps collisions out of reach at any realistic number of accounts, and the key (kept outside
//! the warehouse) makes dictionary attacks on small id spaces useless.

use std::net::IpAddr;

use crate::error::{Error, Result};

/// Environment variable holding the key as 64 hex characters.
pub const KEY_ENV: &str = "VIGIL_KEY";

/// What kind of identifier is being pseudonymized; each has its own domain and prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdKind {
    /// An account id (`acct_…`).
    Account,
    /// An organisation id (`org_…`).
    Org,
    /// A network prefix: /24 for IPv4, /48 for IPv6 (`net_…`).
    NetPrefix,
    /// A full user-agent string (`ua_…`).
    UserAgent,
    /// An identifier in metadata (`id_…`): a user id, login, device or session id, e-mail…
    Metadata,
}

impl IdKind {
    fn domain(self) -> &'static [u8] {
        match self {
            IdKind::Account => b"vigil.account.v1",
            IdKind::Org => b"vigil.org.v1",
            IdKind::NetPrefix => b"vigil.netprefix.v1",
            IdKind::UserAgent => b"vigil.useragent.v1",
            IdKind::Metadata => b"vigil.metadata.v1",
        }
    }

    fn prefix(self) -> &'static str {
        match self {
            IdKind::Account => "acct_",
            IdKind::Org => "org_",
            IdKind::NetPrefix => "net_",
            IdKind::UserAgent => "ua_",
            IdKind::Metadata => "id_",
        }
    }
}

/// The secret pseudonym key (32 bytes). Never written to the warehouse.
#[derive(Clone)]
pub struct PseudonymKey([u8; 32]);

impl std::fmt::Debug for PseudonymKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PseudonymKey(<redacted>)")
    }
}

impl PseudonymKey {
    /// Parses 64 hex characters (surrounding white space ignored).
    pub fn from_hex(text: &str) -> Result<Self> {
        let text = text.trim();
        if text.len() != 64 {
            return Err(Error::Key(format!(
                "expected 64 hex characters (32 bytes), got {} characters",
                text.chars().count()
            )));
        }
        let key = crate::hex::decode::<32>(text).ok_or_else(|| Error::Key("the key holds a character that is not a hex digit".into()))?;
        if key.iter().all(|&b| b == 0) {
            return Err(Error::Key("the all-zero key is not a secret".into()));
        }
        Ok(PseudonymKey(key))
    }

    /// Reads the key from a file holding 64 hex characters.
    pub fn from_file(path: &std::path::Path) -> Result<Self> {
        let text = crate::key_text::read_small(path)
            .map_err(|e| Error::Key(format!("cannot read key file {}: {e}", path.display())))?;
        Self::from_hex(&text)
    }

    /// A key from raw bytes (the demo and tests generate their own).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        PseudonymKey(bytes)
    }

    /// The key as 64 hex characters, for writing a generated key to a key file.
    pub fn to_hex(&self) -> String {
        crate::hex::encode(&self.0)
    }

    /// Writes the pseudonym of `value` into `out` (cleared first), without allocating once
    /// `out` has grown to pseudonym size.
    pub fn pseudonym_into(&self, kind: IdKind, value: &str, out: &mut String) {
        let mut hasher = blake3::Hasher::new_keyed(&self.0);
        hasher.update(kind.domain());
        hasher.update(&[0]);
        hasher.update(value.as_bytes());
        let digest = hasher.finalize();
        out.clear();
        out.push_str(kind.prefix());
        for &b in &digest.as_bytes()[..16] {
            crate::hex::push_byte(out, b);
        }
    }

    /// A key for another keyed use of BLAKE3 (its `derive_key` mode), separate from the
    /// pseudonyms: `context` names the use.
    pub fn derive(&self, context: &str) -> [u8; 32] {
        blake3::derive_key(context, &self.0)
    }

    /// The pseudonym of `value` as a new string.
    pub fn pseudonym(&self, kind: IdKind, value: &str) -> String {
        let mut out = String::with_capacity(40);
        self.pseudonym_into(kind, value, &mut out);
        out
    }

    /// Pseudonym of an IP address's network prefix (/24 for IPv4, /48 for IPv6), or `None`
    /// when `ip` is not an address.
    pub fn net_prefix_pseudonym_into(&self, ip: &str, out: &mut String) -> Option<()> {
        let mut prefix = PrefixText::default();
        write_network_prefix(ip, &mut prefix)?;
        self.pseudonym_into(IdKind::NetPrefix, prefix.as_str(), out);
        Some(())
    }
}

/// The network prefix of an address as text: `203.0.113.0/24` or `2001:db8:1::/48`.
/// IPv4-mapped IPv6 addresses are treated as IPv4 so the same client gets one prefix.
pub fn network_prefix(ip: &str) -> Option<String> {
    let mut prefix = PrefixText::default();
    write_network_prefix(ip, &mut prefix)?;
    Some(prefix.as_str().to_owned())
}

/// A network prefix's text on the stack ("255.255.255.0/24", "ffff:ffff:ffff::/48" at most):
/// formatting it with `format!` was 1% of ingest instructions, one per record.
#[derive(Default)]
struct PrefixText {
    bytes: [u8; 24],
    len: usize,
}

impl PrefixText {
    fn push(&mut self, text: &[u8]) {
        self.bytes[self.len..self.len + text.len()].copy_from_slice(text);
        self.len += text.len();
    }

    /// `value` in `radix` (10 or 16, lower-case), no leading zeros.
    fn push_number(&mut self, value: u16, radix: u16) {
        let mut digits = [0u8; 5];
        let (mut v, mut n) = (value, 0);
        loop {
            digits[n] = b"0123456789abcdef"[usize::from(v % radix)];
            n += 1;
            v /= radix;
            if v == 0 {
                break;
            }
        }
        digits[..n].reverse();
        self.push(&digits[..n]);
    }

    fn as_str(&self) -> &str {
        // Only ASCII digits and punctuation are ever pushed.
        std::str::from_utf8(&self.bytes[..self.len]).unwrap_or_default()
    }
}

fn write_network_prefix(ip: &str, out: &mut PrefixText) -> Option<()> {
    let addr: IpAddr = ip.trim().parse().ok()?;
    let addr = match addr {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    };
    match addr {
        IpAddr::V4(v4) => {
            for octet in &v4.octets()[..3] {
                out.push_number(u16::from(*octet), 10);
                out.push(b".");
            }
            out.push(b"0/24");
        }
        IpAddr::V6(v6) => {
            for segment in &v6.segments()[..3] {
                out.push_number(*segment, 16);
                out.push(b":");
            }
            out.push(b":/48");
        }
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> PseudonymKey {
        PseudonymKey::from_hex(&"ab".repeat(32)).unwrap()
    }

    #[test]
    fn key_parsing_rejects_bad_input() {
        assert!(PseudonymKey::from_hex("abc").is_err());
        assert!(PseudonymKey::from_hex(&"zz".repeat(32)).is_err());
        assert!(PseudonymKey::from_hex(&"00".repeat(32)).is_err());
        assert_eq!(key().to_hex(), "ab".repeat(32));
    }

    #[test]
    fn pseudonyms_are_keyed_and_domain_separated() {
        let a = key().pseudonym(IdKind::Account, "alice");
        assert!(a.starts_with("acct_") && a.len() == 5 + 32, "{a}");
        assert_eq!(a, key().pseudonym(IdKind::Account, "alice"));
        assert_ne!(a[5..], key().pseudonym(IdKind::Org, "alice")[4..]);
        let other = PseudonymKey::from_hex(&"cd".repeat(32)).unwrap();
        assert_ne!(a, other.pseudonym(IdKind::Account, "alice"));
        assert!(!a.contains("alice"));
    }

    #[test]
    fn prefixes_group_neighbouring_addresses() {
        assert_eq!(network_prefix("203.0.113.7").unwrap(), "203.0.113.0/24");
        assert_eq!(network_prefix("::ffff:203.0.113.9").unwrap(), "203.0.113.0/24");
        assert_eq!(network_prefix("2001:db8:abcd:12::1").unwrap(), "2001:db8:abcd::/48");
        assert!(network_prefix("not an ip").is_none());
        assert_eq!(network_prefix(" 255.255.255.255 ").unwrap(), "255.255.255.0/24");
        assert_eq!(network_prefix("0.0.0.0").unwrap(), "0.0.0.0/24");
        assert_eq!(network_prefix("ffff:ffff:ffff:ffff::").unwrap(), "ffff:ffff:ffff::/48");
        assert_eq!(network_prefix("::1").unwrap(), "0:0:0::/48");
        let k = key();
        let (mut a, mut b) = (String::new(), String::new());
        k.net_prefix_pseudonym_into("198.51.100.1", &mut a).unwrap();
        k.net_prefix_pseudonym_into("198.51.100.200", &mut b).unwrap();
        assert_eq!(a, b);
        k.net_prefix_pseudonym_into("198.51.101.1", &mut b).unwrap();
        assert_ne!(a, b);
    }
}
