//! The ledger: an append-only, hash-chained, signed record of every run.
//!
//! `W/_ledger/ledger.jsonl` holds one JSON entry per line. Every time a run writes its manifest
//! (when it starts, at its commit point, when it ends) it first appends an entry that names the
//! manifest and its BLAKE3 digest, the digest of the previous entry's line (`prev`), and — when
//! the run has the warehouse's signing key — an Ed25519 signature over the entry. So:
//!
//! * editing a manifest (to hide a forged file) no longer matches its entry;
//! * editing, dropping or reordering an entry breaks the chain (`prev`, `seq`);
//! * rewriting the chain from some point on needs the signing key, which never enters the
//!   warehouse, and is caught without it by comparing the head with one anchored elsewhere
//!   (`vigil verify` prints the head; `--expect-head` checks it is still in the chain);
//! * deleting a whole run (manifest and files) leaves its entries naming a manifest that is gone.
//!
//! The ledger also records which keys the warehouse is bound to: the fingerprint of the
//! pseudonym key every ingest used (never the key) and the public key that signs. A run with
//! another key is refused when it starts ([`Ledger::check_keys`]), before it writes anything.
//!
//! Appends take their own lock (`W/_locks/ledger.lock`, blocking: entries are small and a run
//! of another job may be appending) and are synced before the run goes on, so an entry exists
//! before the manifest state it vouches for. A crash in the middle of an append leaves a partial
//! last line with no newline; the next append drops it (nothing relied on it).

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use chrono::Utc;
use ed25519_dalek::Signer as _;
use serde::{Deserialize, Serialize};

use crate::access::{AccessPolicy, Area};
use crate::error::{Error, Result};
use crate::escrow::RevealKey;
use crate::pseudonym::PseudonymKey;
use crate::warehouse::Warehouse;

/// Directory of the ledger, under the warehouse root (ignored by Hive readers: `_` prefix).
pub const LEDGER_DIR: &str = "_ledger";
const LEDGER_FILE: &str = "ledger.jsonl";
/// `prev` of the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";
/// No entry Vigil writes comes near this; a longer line was not written by Vigil.
pub const MAX_ENTRY_BYTES: usize = 64 * 1024;
/// Domain separation for signatures: a signature over a ledger entry is never valid elsewhere.
const SIGNATURE_CONTEXT: &[u8] = b"vigil ledger entry v1\0";
/// Environment variable naming the signing key (a file path, or the key as 64 hex characters).
pub const SIGNING_KEY_ENV: &str = "VIGIL_SIGNING_KEY";

/// The Ed25519 key that signs a warehouse's runs. Kept outside the warehouse; never printed.
pub struct SigningKey(ed25519_dalek::SigningKey);

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKey(public {})", self.public().to_text())
    }
}

impl SigningKey {
    /// A key from 32 secret bytes (from the operating system's random source).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        SigningKey(ed25519_dalek::SigningKey::from_bytes(&bytes))
    }

    /// Parses the 32-byte secret as 64 hex characters (surrounding white space ignored).
    pub fn from_hex(text: &str) -> Result<Self> {
        let bytes = crate::hex::decode::<32>(text.trim()).ok_or_else(|| Error::Key("a signing key is 64 hex characters (32 bytes)".into()))?;
        Ok(Self::from_bytes(bytes))
    }

    /// Reads a key file written by `vigil keygen --signing`.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = crate::key_text::read_small(path).map_err(|e| Error::Key(format!("cannot read signing key {}: {e}", path.display())))?;
        Self::from_hex(&text).map_err(|e| Error::Key(format!("{}: {e}", path.display())))
    }

    /// The secret as 64 hex characters, for writing a new key file.
    pub fn to_hex(&self) -> String {
        crate::hex::encode(self.0.as_bytes())
    }

    /// The public half.
    pub fn public(&self) -> PublicKey {
        PublicKey(self.0.verifying_key())
    }

    fn sign(&self, message: &[u8]) -> String {
        crate::hex::encode(&self.0.sign(message).to_bytes())
    }
}

/// A public signing key, written as `ed25519:<64 hex>`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PublicKey(ed25519_dalek::VerifyingKey);

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_text())
    }
}

impl PublicKey {
    /// `ed25519:<64 hex>`.
    pub fn to_text(&self) -> String {
        format!("ed25519:{}", crate::hex::encode(self.0.as_bytes()))
    }

    /// Parses `ed25519:<64 hex>` (or the bare hex).
    pub fn from_text(text: &str) -> Result<Self> {
        let text = text.trim();
        let hex = text.strip_prefix("ed25519:").unwrap_or(text);
        let bytes = crate::hex::decode::<32>(hex).ok_or_else(|| Error::Key("a public key is `ed25519:` and 64 hex characters".into()))?;
        ed25519_dalek::VerifyingKey::from_bytes(&bytes).map(PublicKey).map_err(|_| Error::Key("not a valid Ed25519 public key".into()))
    }

    /// Reads a `.pub` file written by `vigil keygen --signing`, or takes the text itself.
    pub fn from_file_or_text(value: &str) -> Result<Self> {
        crate::key_text::file_or_text(value, "public key", Self::from_text)
    }

    fn verify(&self, message: &[u8], signature_hex: &str) -> bool {
        let Some(bytes) = crate::hex::decode::<64>(signature_hex) else { return false };
        self.0.verify_strict(message, &ed25519_dalek::Signature::from_bytes(&bytes)).is_ok()
    }
}

/// A derived digest that names a pseudonym key without revealing it (BLAKE3 key derivation,
/// 128 bits, hex).
pub fn pseudonym_fingerprint(key: &PseudonymKey) -> String {
    crate::hex::encode(&key.derive("vigil 2026-12 pseudonym key fingerprint")[..16])
}

/// What a run's entry records about the moment its manifest was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunEvent {
    /// The run started (manifest `running`).
    Started,
    /// The run committed its files (manifest `publishing`).
    Committed,
    /// The run ended (manifest `succeeded` or `failed`).
    Finished,
}

/// What an entry is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Record {
    /// A run wrote its manifest.
    Run {
        /// Which write.
        event: RunEvent,
        /// Job (`ingest`, `nightly`, `weekly`).
        job: String,
        /// The run's date.
        date: String,
        /// The run id.
        run_id: String,
        /// The manifest, relative to the warehouse root.
        manifest: String,
        /// BLAKE3 of the manifest's bytes as written.
        manifest_blake3: String,
        /// Fingerprint of the pseudonym key (runs that pseudonymize: ingest).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pseudonym_key: Option<String>,
        /// The public reveal key raw ids were escrowed to (ingest with escrow on).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reveal_key: Option<String>,
    },
    /// Raw identifiers were revealed (written before they were shown).
    Reveal {
        /// The public reveal key whose shares were brought.
        reveal_key: String,
        /// Which shares: `<key set>/<index>`, one per key holder.
        shares: Vec<String>,
        /// Why.
        reason: String,
        /// The case it serves.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        case: Option<String>,
        /// The pseudonyms asked for.
        pseudonyms: Vec<String>,
        /// How many of them the warehouse held escrows for (and so were revealed).
        found: usize,
    },
}

/// The keys a run pseudonymizes and escrows with (ingest); other runs have neither.
#[derive(Debug, Clone, Copy, Default)]
pub struct RunKeys<'a> {
    /// The pseudonym key.
    pub pseudonym: Option<&'a PseudonymKey>,
    /// The public reveal key raw ids are escrowed to.
    pub reveal: Option<&'a RevealKey>,
}

/// One line of the ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// Position in the ledger, from 0.
    pub seq: u64,
    /// BLAKE3 of the previous entry's line ([`GENESIS`] for the first).
    pub prev: String,
    /// When it was appended (RFC 3339, UTC).
    pub at: String,
    /// What it records.
    pub record: Record,
    /// The public key that signed it (`ed25519:…`), if signed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signer: Option<String>,
    /// Ed25519 signature (hex) over the entry without this field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
}

impl Entry {
    /// The bytes a signature covers: the entry without its signature, with a context prefix.
    fn signed_message(&self) -> Result<Vec<u8>> {
        let unsigned = Entry { signature: None, ..self.clone() };
        let mut message = SIGNATURE_CONTEXT.to_vec();
        serde_json::to_writer(&mut message, &unsigned)?;
        Ok(message)
    }

    /// The key the entry names as its signer, when its signature is present and valid.
    pub fn valid_signer(&self) -> Option<PublicKey> {
        let (Some(signer), Some(signature)) = (&self.signer, &self.signature) else { return None };
        let key = PublicKey::from_text(signer).ok()?;
        self.signed_message().is_ok_and(|m| key.verify(&m, signature)).then_some(key)
    }

    /// Whether the signature is present and valid for the key the entry names.
    pub fn signature_valid(&self) -> bool {
        self.valid_signer().is_some()
    }
}

/// The keys a warehouse is bound to, as its ledger records them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BoundKeys {
    /// Fingerprint of the pseudonym key of the latest ingest that recorded one, and its run.
    pub pseudonym: Option<(String, String)>,
    /// Public key of the latest signed entry, and its run.
    pub signer: Option<(String, String)>,
    /// The reveal key of the latest ingest that escrowed, and its run.
    pub reveal: Option<(String, String)>,
}

/// One line as read back: the parsed entry (or why not), and the digest of its bytes.
#[derive(Debug)]
pub struct ReadLine {
    /// Line number, from 1.
    pub line: usize,
    /// BLAKE3 of the line's bytes (without the newline).
    pub digest: String,
    /// The entry, or what is wrong with the line.
    pub entry: std::result::Result<Entry, String>,
}

/// A warehouse's ledger.
#[derive(Debug, Clone)]
pub struct Ledger {
    root: PathBuf,
    path: PathBuf,
    lock_dir: PathBuf,
    access: std::sync::Arc<AccessPolicy>,
}

impl Ledger {
    /// The ledger of a warehouse (it may not exist yet).
    pub fn of(warehouse: &Warehouse) -> Self {
        Ledger {
            root: warehouse.root().to_path_buf(),
            path: warehouse.root().join(LEDGER_DIR).join(LEDGER_FILE),
            lock_dir: warehouse.root().join("_locks"),
            access: warehouse.access_arc(),
        }
    }

    /// Where it is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every line, parsed, in order. A missing ledger is empty. Lines longer than
    /// [`MAX_ENTRY_BYTES`] are reported, not read into memory.
    pub fn read(&self) -> Result<Vec<ReadLine>> {
        let file = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::warehouse(&self.path, e)),
        };
        let mut reader = BufReader::new(file);
        let mut out = Vec::new();
        let mut buf = Vec::new();
        loop {
            buf.clear();
            let n = (&mut reader).take(MAX_ENTRY_BYTES as u64 + 1).read_until(b'\n', &mut buf).map_err(|e| Error::warehouse(&self.path, e))?;
            if n == 0 {
                break;
            }
            let line = out.len() + 1;
            if buf.last() != Some(&b'\n') && n > MAX_ENTRY_BYTES {
                // Skip the rest of the over-long line.
                let mut skipped = Vec::new();
                loop {
                    skipped.clear();
                    let m = (&mut reader).take(1 << 20).read_until(b'\n', &mut skipped).map_err(|e| Error::warehouse(&self.path, e))?;
                    if m == 0 || skipped.last() == Some(&b'\n') {
                        break;
                    }
                }
                out.push(ReadLine { line, digest: String::new(), entry: Err(format!("longer than {MAX_ENTRY_BYTES} bytes")) });
                continue;
            }
            let complete = buf.last() == Some(&b'\n');
            let bytes = if complete { &buf[..buf.len() - 1] } else { &buf[..] };
            let digest = blake3::hash(bytes).to_hex().to_string();
            let entry = if complete {
                serde_json::from_slice::<Entry>(bytes).map_err(|e| format!("not a ledger entry: {e}"))
            } else {
                Err("partial last line (an append was interrupted, or the file was cut)".to_owned())
            };
            out.push(ReadLine { line, digest, entry });
        }
        Ok(out)
    }

    /// The keys the ledger binds the warehouse to.
    pub fn bound_keys(&self) -> Result<BoundKeys> {
        let mut keys = BoundKeys::default();
        for line in self.read()? {
            let Ok(entry) = line.entry else { continue };
            let by = match &entry.record {
                Record::Run { run_id, pseudonym_key, reveal_key, .. } => {
                    if let Some(fp) = pseudonym_key {
                        keys.pseudonym = Some((fp.clone(), run_id.clone()));
                    }
                    if let Some(key) = reveal_key {
                        keys.reveal = Some((key.clone(), run_id.clone()));
                    }
                    run_id.clone()
                }
                Record::Reveal { .. } => format!("reveal #{}", entry.seq),
            };
            if let Some(signer) = &entry.signer {
                keys.signer = Some((signer.clone(), by));
            }
        }
        Ok(keys)
    }

    /// Refuses a run whose keys differ from those the warehouse is bound to: another pseudonym
    /// key would give every account a second pseudonym; another (or no) reveal key would
    /// escrow ids the key holders cannot open (or stop escrowing unnoticed); another (or no)
    /// signing key would leave runs the warehouse's key does not vouch for.
    pub fn check_keys(&self, keys: RunKeys<'_>, signer: Option<&SigningKey>) -> Result<()> {
        let bound = self.bound_keys()?;
        if let (Some(_), Some((bound_reveal, run))) = (keys.pseudonym, &bound.reveal) {
            match keys.reveal {
                None => {
                    return Err(Error::Custody(format!(
                        "this warehouse escrows raw ids to reveal key {bound_reveal} (run {run}); pass it (--reveal-key FILE) so this ingest escrows too"
                    )));
                }
                Some(key) if &key.to_text() != bound_reveal => {
                    return Err(Error::Custody(format!(
                        "this warehouse escrows raw ids to reveal key {bound_reveal} (run {run}); this run's is {}. Use the warehouse's reveal key",
                        key.to_text()
                    )));
                }
                Some(_) => {}
            }
        }
        if let (Some(key), Some((fp, run))) = (keys.pseudonym, &bound.pseudonym) {
            let ours = pseudonym_fingerprint(key);
            if &ours != fp {
                return Err(Error::Custody(format!(
                    "this warehouse was pseudonymized with the key whose fingerprint is {fp} (run {run}); this run's key has fingerprint {ours}. \
                     Use the warehouse's key, or ingest into a new warehouse (a second key would give every account a second pseudonym)"
                )));
            }
        }
        if let Some((public, run)) = &bound.signer {
            match signer {
                None => {
                    return Err(Error::Custody(format!(
                        "this warehouse's runs are signed by {public} (last by run {run}); pass its signing key (--signing-key FILE or ${SIGNING_KEY_ENV})"
                    )));
                }
                Some(key) if &key.public().to_text() != public => {
                    return Err(Error::Custody(format!(
                        "this warehouse's runs are signed by {public} (last by run {run}); this run's signing key is {}. Use the warehouse's key",
                        key.public().to_text()
                    )));
                }
                Some(_) => {}
            }
        }
        Ok(())
    }

    /// Appends an entry for `record`, signed when `signer` is given, and syncs it. Returns the
    /// entry and the digest of its line (the new head).
    pub fn append(&self, record: Record, signer: Option<&SigningKey>) -> Result<(Entry, String)> {
        use std::os::unix::fs::OpenOptionsExt as _;
        let dir = self.path.parent().expect("ledger path has a parent");
        self.access.create_dirs(&self.root, dir, Area::Records)?;
        self.access.create_dirs(&self.root, &self.lock_dir, Area::Private)?;
        let lock_path = self.lock_dir.join("ledger.lock");
        let lock = File::options().mode(0o600).create(true).truncate(false).write(true).open(&lock_path).map_err(|e| Error::warehouse(&lock_path, e))?;
        lock.lock().map_err(|e| Error::warehouse(&lock_path, e))?;
        let mut file = File::options().mode(0o600).create(true).truncate(false).read(true).write(true).open(&self.path).map_err(|e| Error::warehouse(&self.path, e))?;
        if file.metadata().map_err(|e| Error::warehouse(&self.path, e))?.len() == 0 {
            self.access.apply_file(&self.path, Area::Records)?;
        }
        let (seq, prev, end) = last_entry(&mut file, &self.path)?;
        let mut entry = Entry { seq, prev, at: Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true), record, signer: None, signature: None };
        if let Some(key) = signer {
            entry.signer = Some(key.public().to_text());
            entry.signature = Some(key.sign(&entry.signed_message()?));
        }
        let mut line = serde_json::to_vec(&entry)?;
        let digest = blake3::hash(&line).to_hex().to_string();
        line.push(b'\n');
        // Drop a partial line left by an interrupted append before writing after it.
        file.set_len(end).map_err(|e| Error::warehouse(&self.path, e))?;
        file.seek(SeekFrom::Start(end)).map_err(|e| Error::warehouse(&self.path, e))?;
        file.write_all(&line).map_err(|e| Error::warehouse(&self.path, e))?;
        file.sync_all().map_err(|e| Error::warehouse(&self.path, e))?;
        drop(lock);
        Ok((entry, digest))
    }
}

/// The next sequence number, the digest of the last complete line, and where it ends. Reads
/// only the tail of the file.
fn last_entry(file: &mut File, path: &Path) -> Result<(u64, String, u64)> {
    let len = file.metadata().map_err(|e| Error::warehouse(path, e))?.len();
    if len == 0 {
        return Ok((0, GENESIS.to_owned(), 0));
    }
    let window = (2 * MAX_ENTRY_BYTES as u64 + 2).min(len);
    file.seek(SeekFrom::Start(len - window)).map_err(|e| Error::warehouse(path, e))?;
    let mut tail = vec![0u8; window as usize];
    file.read_exact(&mut tail).map_err(|e| Error::warehouse(path, e))?;
    // The last newline ends the last complete line; anything after it is a torn append.
    let Some(last_nl) = memchr::memrchr(b'\n', &tail) else {
        if len > window {
            return Err(Error::Custody(format!("{}: its last line is not a ledger entry (over {MAX_ENTRY_BYTES} bytes); run `vigil verify`", path.display())));
        }
        return Ok((0, GENESIS.to_owned(), 0));
    };
    let end = len - window + last_nl as u64 + 1;
    let start = memchr::memrchr(b'\n', &tail[..last_nl]).map_or(0, |i| i + 1);
    if start == 0 && len > window {
        return Err(Error::Custody(format!("{}: its last line is not a ledger entry (over {MAX_ENTRY_BYTES} bytes); run `vigil verify`", path.display())));
    }
    let bytes = &tail[start..last_nl];
    let entry: Entry = serde_json::from_slice(bytes)
        .map_err(|e| Error::Custody(format!("{}: its last entry does not parse ({e}); run `vigil verify`", path.display())))?;
    Ok((entry.seq + 1, blake3::hash(bytes).to_hex().to_string(), end))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_record(run: &str, manifest_blake3: &str) -> Record {
        Record::Run {
            event: RunEvent::Started,
            job: "nightly".into(),
            date: "2026-11-22".into(),
            run_id: run.into(),
            manifest: format!("_runs/nightly/2026-11-22/{run}.json"),
            manifest_blake3: manifest_blake3.into(),
            pseudonym_key: None,
            reveal_key: None,
        }
    }

    #[test]
    fn entries_chain_and_sign() {
        let dir = tempfile::tempdir().unwrap();
        let w = Warehouse::open(dir.path()).unwrap();
        let ledger = Ledger::of(&w);
        let key = SigningKey::from_bytes([7; 32]);
        let (first, head1) = ledger.append(run_record("r1", "aa"), Some(&key)).unwrap();
        let (second, head2) = ledger.append(run_record("r2", "bb"), None).unwrap();
        assert_eq!((first.seq, first.prev.as_str()), (0, GENESIS));
        assert_eq!((second.seq, second.prev.as_str()), (1, head1.as_str()));
        assert!(first.signature_valid());
        assert!(!second.signature_valid(), "unsigned");
        let lines = ledger.read().unwrap();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[1].digest, head2);
        assert_eq!(lines[0].entry.as_ref().unwrap(), &first);
        // Any edit to a signed entry breaks its signature.
        let mut forged = first.clone();
        forged.record = run_record("r1", "ab");
        assert!(!forged.signature_valid());
        let other = SigningKey::from_bytes([8; 32]);
        forged.signature = Some(other.sign(&first.signed_message().unwrap()));
        assert!(!forged.signature_valid(), "signed by a key other than the one it names");
    }

    #[test]
    fn a_torn_append_is_dropped_by_the_next_one() {
        let dir = tempfile::tempdir().unwrap();
        let w = Warehouse::open(dir.path()).unwrap();
        let ledger = Ledger::of(&w);
        let (_, head) = ledger.append(run_record("r1", "aa"), None).unwrap();
        let mut file = File::options().append(true).open(ledger.path()).unwrap();
        file.write_all(b"{\"seq\":1,\"prev\":").unwrap();
        assert!(ledger.read().unwrap()[1].entry.is_err(), "verify sees the partial line");
        let (next, _) = ledger.append(run_record("r2", "bb"), None).unwrap();
        assert_eq!((next.seq, next.prev.as_str()), (1, head.as_str()));
        assert!(ledger.read().unwrap().iter().all(|l| l.entry.is_ok()));
    }

    #[test]
    fn runs_with_another_key_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let w = Warehouse::open(dir.path()).unwrap();
        let ledger = Ledger::of(&w);
        let signing = SigningKey::from_bytes([7; 32]);
        let pseudonym = PseudonymKey::from_bytes([1; 32]);
        let (reveal, _) = crate::escrow::generate(2, 2).unwrap();
        let ingest = |p, r| RunKeys { pseudonym: Some(p), reveal: r };
        ledger.check_keys(ingest(&pseudonym, None), None).unwrap();
        let mut record = run_record("r1", "aa");
        if let Record::Run { pseudonym_key, reveal_key, .. } = &mut record {
            *pseudonym_key = Some(pseudonym_fingerprint(&pseudonym));
            *reveal_key = Some(reveal.to_text());
        }
        ledger.append(record, Some(&signing)).unwrap();
        ledger.check_keys(ingest(&pseudonym, Some(&reveal)), Some(&signing)).unwrap();
        let other = PseudonymKey::from_bytes([2; 32]);
        let refused = ledger.check_keys(ingest(&other, Some(&reveal)), Some(&signing)).unwrap_err().to_string();
        assert!(refused.contains(&pseudonym_fingerprint(&pseudonym)) && !refused.contains(&pseudonym.to_hex()), "{refused}");
        let unescrowed = ledger.check_keys(ingest(&pseudonym, None), Some(&signing)).unwrap_err().to_string();
        assert!(unescrowed.contains("--reveal-key") && unescrowed.contains(&reveal.to_text()), "{unescrowed}");
        let (other_reveal, _) = crate::escrow::generate(2, 2).unwrap();
        assert!(ledger.check_keys(ingest(&pseudonym, Some(&other_reveal)), Some(&signing)).is_err());
        // Runs that do not pseudonymize (nightly, weekly) need no reveal key.
        ledger.check_keys(RunKeys::default(), Some(&signing)).unwrap();
        assert!(ledger.check_keys(RunKeys::default(), None).unwrap_err().to_string().contains("--signing-key"));
        assert!(ledger.check_keys(RunKeys::default(), Some(&SigningKey::from_bytes([9; 32]))).is_err());
    }

    #[test]
    fn keys_round_trip_as_text() {
        let key = SigningKey::from_bytes([3; 32]);
        assert_eq!(SigningKey::from_hex(&key.to_hex()).unwrap().public(), key.public());
        let text = key.public().to_text();
        assert!(text.starts_with("ed25519:") && text.len() == 8 + 64);
        assert_eq!(PublicKey::from_text(&text).unwrap(), key.public());
        assert!(PublicKey::from_text("ed25519:zz").is_err());
        assert!(SigningKey::from_hex("abc").is_err());
        assert!(!format!("{key:?}").contains(&key.to_hex()), "Debug never shows the secret");
    }
}
