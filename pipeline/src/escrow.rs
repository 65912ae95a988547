//! Escrowed identities and the two-party reveal.
//!
//! Ingest replaces account and org ids with keyed pseudonyms nobody can invert, which is all
//! analysis needs. Enforcement sometimes needs the account behind a pseudonym, and that must
//! take two people. So:
//!
//! * `vigil keygen --reveal-shares N --threshold T` makes a reveal key pair (age, X25519),
//!   keeps the public part (`reveal.pub`) and splits the private part into N Shamir shares
//!   (any T rebuild it, fewer tell nothing), one file per key holder. The private key is never
//!   written whole.
//! * Ingest given the public part stores each raw id it pseudonymizes, encrypted, in the
//!   restricted `identities` table (one row per pseudonym, the first time the warehouse sees
//!   it). Envelope encryption: each run draws a random data key, seals it to the reveal key
//!   with age (`data_key` column), and encrypts each id under it with ChaCha20-Poly1305, the
//!   pseudonym as associated data (so a ciphertext moved to another row does not open). One
//!   X25519 agreement per run instead of one per id: escrow costs ~1 µs per new id. The
//!   ledger binds the warehouse to the reveal key like it binds the pseudonym key.
//! * [`reveal`] needs T shares from different holders, checks they rebuild exactly the key the
//!   warehouse escrows to, appends who (share ids), when, why and which pseudonyms to the
//!   ledger (signed), and only then returns the decrypted ids.
//!
//! age (a maintained, audited format and crate) seals the data keys, RustCrypto's
//! `chacha20poly1305` (the AEAD age itself uses) encrypts the ids, and blahaj (the maintained
//! fork of `sharks`) does the sharing; nothing here is a cipher of its own.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::path::Path;
use std::str::FromStr as _;
use std::sync::Arc;

use age::secrecy::ExposeSecret as _;
use arrow::array::{Array, AsArray, BinaryBuilder, RecordBatch, StringBuilder, TimestampMicrosecondBuilder};
use chrono::NaiveDate;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ProjectionMask;
use chacha20poly1305::aead::{Aead as _, KeyInit as _};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::ledger::{Ledger, Record};
use crate::pseudonym::IdKind;
use crate::schema::{self, table};
use crate::warehouse::{StagedWrite, Warehouse};

/// The `format` of a share file.
pub const SHARE_FORMAT: &str = "vigil reveal share v1";
/// Most pseudonyms one reveal may name (its ledger entry stays far below the entry limit).
pub const MAX_PSEUDONYMS: usize = 512;
/// Longest reason, in characters.
pub const MAX_REASON_CHARS: usize = 2000;
/// Longest case id, in characters.
pub const MAX_CASE_CHARS: usize = 200;
/// New identities held before they are encrypted and written, so memory stays bounded
/// whatever the number of accounts in a run.
const SEAL_BATCH: usize = 16_384;
/// Bytes of a ChaCha20-Poly1305 nonce; each ciphertext starts with its nonce.
const NONCE_BYTES: usize = 12;

/// The public reveal key (an age X25519 recipient, `age1…`): ingest encrypts raw ids to it.
#[derive(Clone)]
pub struct RevealKey(age::x25519::Recipient);

impl std::fmt::Debug for RevealKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_text())
    }
}

impl PartialEq for RevealKey {
    fn eq(&self, other: &Self) -> bool {
        self.to_text() == other.to_text()
    }
}

impl RevealKey {
    /// Parses `age1…`.
    pub fn from_text(text: &str) -> Result<Self> {
        age::x25519::Recipient::from_str(text.trim())
            .map(RevealKey)
            .map_err(|e| Error::Key(format!("not a reveal key (an age X25519 recipient, `age1…`): {e}")))
    }

    /// Reads a `reveal.pub` written by `vigil keygen --reveal-shares`, or takes the text itself.
    pub fn from_file_or_text(value: &str) -> Result<Self> {
        crate::key_text::file_or_text(value, "reveal key", Self::from_text)
    }

    /// `age1…`.
    pub fn to_text(&self) -> String {
        self.0.to_string()
    }

    /// Names the key set (this key and its shares) in share files and ledger entries: 128 bits
    /// of BLAKE3 over the public key, hex.
    pub fn key_set(&self) -> String {
        crate::hex::encode(&blake3::hash(self.to_text().as_bytes()).as_bytes()[..16])
    }

    /// Encrypts bytes (a run's data key) to this key.
    fn seal(&self, secret: &[u8]) -> Result<Vec<u8>> {
        age::encrypt(&self.0, secret).map_err(|e| Error::Custody(format!("escrow encryption failed: {e}")))
    }
}

/// One key holder's share of the private reveal key, as written to `share-K`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Share {
    /// [`SHARE_FORMAT`].
    pub format: String,
    /// [`RevealKey::key_set`] of the key it is a share of.
    pub key_set: String,
    /// The public key it is a share of (`age1…`).
    pub reveal_key: String,
    /// Shares needed to rebuild the key.
    pub threshold: u8,
    /// Shares made.
    pub shares: u8,
    /// This share's number, 1 to `shares`.
    pub index: u8,
    /// The share's bytes (blahaj's encoding: the x coordinate, then one y per secret byte), hex.
    pub share: String,
}

impl std::fmt::Debug for Share {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Share({}, <redacted>)", self.id())
    }
}

impl Share {
    /// `<key set>/<index>`: who brought it, as the ledger records it.
    pub fn id(&self) -> String {
        format!("{}/{}", self.key_set, self.index)
    }

    /// The share file's text (JSON, one object).
    pub fn to_text(&self) -> String {
        serde_json::to_string_pretty(self).expect("a share serialises") + "\n"
    }

    /// Reads and checks a share file.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = crate::key_text::read_small(path).map_err(|e| Error::Reveal(format!("cannot read share {}: {e}", path.display())))?;
        Self::from_text(&text).map_err(|e| Error::Reveal(format!("{}: {e}", path.display())))
    }

    /// Parses and checks a share's text.
    pub fn from_text(text: &str) -> std::result::Result<Self, String> {
        let share: Share = serde_json::from_str(text).map_err(|e| format!("not a reveal share: {e}"))?;
        if share.format != SHARE_FORMAT {
            return Err(format!("share format `{}` is not `{SHARE_FORMAT}`", share.format));
        }
        let key = RevealKey::from_text(&share.reveal_key).map_err(|e| e.to_string())?;
        if key.key_set() != share.key_set {
            return Err("its key set does not match its reveal key (the file was edited)".into());
        }
        if share.threshold < 2 || share.threshold > share.shares || share.index == 0 || share.index > share.shares {
            return Err(format!("share {} of {} with threshold {} is not a valid share", share.index, share.shares, share.threshold));
        }
        let bytes = share.bytes().ok_or("its share bytes are not hex")?;
        if bytes.len() < 2 || bytes[0] != share.index {
            return Err("its share bytes do not belong to its index (the file was edited)".into());
        }
        Ok(share)
    }

    fn bytes(&self) -> Option<Vec<u8>> {
        crate::hex::decode_vec(&self.share)
    }
}

/// Makes a reveal key pair and splits its private part into `shares` shares, any `threshold`
/// of which rebuild it.
pub fn generate(shares: u8, threshold: u8) -> Result<(RevealKey, Vec<Share>)> {
    if threshold < 2 || threshold > shares {
        return Err(Error::Config(format!(
            "a reveal key needs a threshold of at least 2 and at most the number of shares (got {threshold} of {shares})"
        )));
    }
    let identity = age::x25519::Identity::generate();
    let key = RevealKey(identity.to_public());
    let secret = identity.to_string();
    let dealer = blahaj::Sharks(threshold).dealer(secret.expose_secret().as_bytes());
    let shares = dealer
        .take(usize::from(shares))
        .map(|share| {
            let bytes = Vec::<u8>::from(&share);
            Share {
                format: SHARE_FORMAT.to_owned(),
                key_set: key.key_set(),
                reveal_key: key.to_text(),
                threshold,
                shares,
                index: bytes[0],
                share: crate::hex::encode(&bytes),
            }
        })
        .collect();
    Ok((key, shares))
}

/// The private reveal key, rebuilt from shares; exists only inside [`reveal`].
struct Unlocked {
    identity: age::x25519::Identity,
    key: RevealKey,
    share_ids: Vec<String>,
}

/// Rebuilds the private key from shares of different holders, refusing too few, repeated,
/// mixed or damaged shares with one line each.
impl std::fmt::Debug for Unlocked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Unlocked({:?}, <redacted>)", self.key)
    }
}

fn unlock(shares: &[Share]) -> Result<Unlocked> {
    let Some(first) = shares.first() else { return Err(Error::Reveal("no share given".into())) };
    if let Some(other) = shares.iter().find(|s| s.key_set != first.key_set || s.threshold != first.threshold) {
        return Err(Error::Reveal(format!(
            "share {} and share {} belong to different reveal keys; bring shares of the same key",
            first.id(),
            other.id()
        )));
    }
    let mut indices = BTreeSet::new();
    for share in shares {
        if !indices.insert(share.index) {
            return Err(Error::Reveal(format!(
                "share {} was given twice; a reveal needs shares from {} different key holders",
                share.id(),
                first.threshold
            )));
        }
    }
    if indices.len() < usize::from(first.threshold) {
        return Err(Error::Reveal(format!(
            "{} share given; this reveal key needs {} shares from different key holders",
            indices.len(),
            first.threshold
        )));
    }
    let parsed: Vec<blahaj::Share> = shares
        .iter()
        .map(|s| s.bytes().and_then(|b| blahaj::Share::try_from(b.as_slice()).ok()))
        .collect::<Option<_>>()
        .ok_or_else(|| Error::Reveal("a share's bytes are not a share".into()))?;
    let wrong = || Error::Reveal(format!("the shares do not rebuild reveal key {} (a share is damaged or forged)", first.reveal_key));
    let secret = blahaj::Sharks(first.threshold).recover(&parsed).map_err(|_| wrong())?;
    let secret = age::secrecy::SecretString::from(String::from_utf8(secret).map_err(|_| wrong())?);
    let identity = age::x25519::Identity::from_str(secret.expose_secret()).map_err(|_| wrong())?;
    let key = RevealKey(identity.to_public());
    if key.to_text() != first.reveal_key {
        return Err(wrong());
    }
    Ok(Unlocked { identity, key, share_ids: shares.iter().map(Share::id).collect() })
}

/// What a reveal asks for, and why.
#[derive(Debug, Clone)]
pub struct RevealRequest {
    /// Why (required; recorded in the ledger).
    pub reason: String,
    /// The case it serves, if any.
    pub case: Option<String>,
    /// Account (`acct_…`) or org (`org_…`) pseudonyms.
    pub pseudonyms: Vec<String>,
}

/// One revealed pseudonym.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revealed {
    /// The pseudonym asked for.
    pub pseudonym: String,
    /// `account` or `org`.
    pub kind: &'static str,
    /// The raw identifier, or `None` when the warehouse holds no escrow for it (ingested
    /// before escrow was on, or not a pseudonym of this warehouse).
    pub raw: Option<String>,
    /// When it was first escrowed (the `created_at` of its first record).
    pub first_seen: Option<i64>,
}

/// A reveal that happened: the answers and the ledger entry recording it.
#[derive(Debug, Clone)]
pub struct RevealOutcome {
    /// One per distinct pseudonym asked for, in the order asked.
    pub revealed: Vec<Revealed>,
    /// The ledger entry's sequence number.
    pub seq: u64,
    /// The ledger head after it.
    pub head: String,
}

/// Reveals the raw identifiers behind `request.pseudonyms`, given shares of the warehouse's
/// reveal key from enough different holders. The ledger entry is appended (and signed with
/// the warehouse's signing key) before anything is decrypted for the caller; a refusal
/// appends nothing.
pub fn reveal(warehouse: &Warehouse, shares: &[Share], request: &RevealRequest) -> Result<RevealOutcome> {
    let reason = request.reason.trim();
    if reason.is_empty() {
        return Err(Error::Reveal("a reveal needs a reason (--reason TEXT); it is recorded in the ledger".into()));
    }
    if reason.chars().count() > MAX_REASON_CHARS {
        return Err(Error::Reveal(format!("the reason is longer than {MAX_REASON_CHARS} characters")));
    }
    let case = request.case.as_deref().map(str::trim).filter(|c| !c.is_empty());
    if case.is_some_and(|c| c.chars().count() > MAX_CASE_CHARS) {
        return Err(Error::Reveal(format!("the case id is longer than {MAX_CASE_CHARS} characters")));
    }
    if request.pseudonyms.len() > MAX_PSEUDONYMS {
        return Err(Error::Reveal(format!("at most {MAX_PSEUDONYMS} pseudonyms per reveal (got {})", request.pseudonyms.len())));
    }
    let mut wanted: Vec<(String, IdKind)> = Vec::new();
    for p in &request.pseudonyms {
        let kind = pseudonym_kind(p).ok_or_else(|| {
            Error::Reveal(format!("`{}` is not an account or org pseudonym (acct_ or org_ and 32 hex digits)", crate::text::truncate_at_char(p, 60)))
        })?;
        if !wanted.iter().any(|(w, _)| w == p) {
            wanted.push((p.clone(), kind));
        }
    }
    if wanted.is_empty() {
        return Err(Error::Reveal("name at least one pseudonym to reveal".into()));
    }
    let unlocked = unlock(shares)?;
    let ledger = Ledger::of(warehouse);
    let bound = ledger.bound_keys()?;
    match &bound.reveal {
        None => return Err(Error::Reveal("this warehouse escrows no identities (no ingest ran with --reveal-key)".into())),
        Some((key, run)) if key != &unlocked.key.to_text() => {
            return Err(Error::Reveal(format!(
                "these shares rebuild reveal key {}, but this warehouse escrows to {key} (run {run}); bring shares of that key",
                unlocked.key.to_text()
            )));
        }
        Some(_) => {}
    }
    ledger.check_keys(crate::ledger::RunKeys::default(), warehouse.signer())?;
    let sealed = find_sealed(warehouse, &wanted)?;
    // Each run's data key is unsealed once, however many of its ids are asked for.
    let mut data_keys: BTreeMap<&[u8], chacha20poly1305::ChaCha20Poly1305> = BTreeMap::new();
    let mut revealed = Vec::with_capacity(wanted.len());
    for (pseudonym, kind) in &wanted {
        let (raw, first_seen) = match sealed.get(pseudonym) {
            Some(row) => {
                let damaged = |what: &str| Error::Reveal(format!("the escrow of {pseudonym} {what}; run `vigil verify`"));
                if !data_keys.contains_key(row.data_key.as_slice()) {
                    let key = age::decrypt(&unlocked.identity, &row.data_key).map_err(|_| damaged("has a data key this warehouse's reveal key does not open"))?;
                    let key = chacha20poly1305::Key::from_exact_iter(key).ok_or_else(|| damaged("has a malformed data key"))?;
                    data_keys.insert(&row.data_key, chacha20poly1305::ChaCha20Poly1305::new(&key));
                }
                let raw = open_id(&data_keys[row.data_key.as_slice()], pseudonym, &row.ciphertext).ok_or_else(|| damaged("does not open (edited, or moved from another row)"))?;
                (Some(raw), Some(row.first_seen))
            }
            None => (None, None),
        };
        revealed.push(Revealed { pseudonym: pseudonym.clone(), kind: kind_name(*kind), raw, first_seen });
    }
    let record = Record::Reveal {
        reveal_key: unlocked.key.to_text(),
        shares: unlocked.share_ids.clone(),
        reason: reason.to_owned(),
        case: case.map(str::to_owned),
        pseudonyms: wanted.iter().map(|(p, _)| p.clone()).collect(),
        found: revealed.iter().filter(|r| r.raw.is_some()).count(),
    };
    let (entry, head) = ledger.append(record, warehouse.signer())?;
    Ok(RevealOutcome { revealed, seq: entry.seq, head })
}

/// The kind of an account or org pseudonym, or `None` for anything else.
fn pseudonym_kind(text: &str) -> Option<IdKind> {
    let (kind, hex) = if let Some(h) = text.strip_prefix("acct_") {
        (IdKind::Account, h)
    } else {
        (IdKind::Org, text.strip_prefix("org_")?)
    };
    (hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))).then_some(kind)
}

fn kind_name(kind: IdKind) -> &'static str {
    match kind {
        IdKind::Org => "org",
        _ => "account",
    }
}

/// One escrowed id as stored: its run's sealed data key, its ciphertext, when first seen.
struct Sealed {
    data_key: Vec<u8>,
    ciphertext: Vec<u8>,
    first_seen: i64,
}

/// The escrow of each wanted pseudonym present in `identities`, reading the table in batches
/// (it holds one row per account ever escrowed).
fn find_sealed(warehouse: &Warehouse, wanted: &[(String, IdKind)]) -> Result<BTreeMap<String, Sealed>> {
    let wanted: BTreeSet<&str> = wanted.iter().map(|(p, _)| p.as_str()).collect();
    let mut found = BTreeMap::new();
    for path in warehouse.files(table::IDENTITIES, None)? {
        let file = File::open(&path).map_err(|e| Error::warehouse(&path, e))?;
        let builder = ParquetRecordBatchReaderBuilder::try_new(file)?;
        let columns = ["pseudonym", "ciphertext", "data_key", "first_seen"];
        let mut indices = Vec::with_capacity(columns.len());
        for name in columns {
            indices.push(builder.schema().index_of(name).map_err(|_| Error::warehouse(&path, format!("has no column `{name}`")))?);
        }
        let mask = ProjectionMask::roots(builder.parquet_schema(), indices);
        for batch in builder.with_projection(mask).build()? {
            let batch = batch?;
            let column = |name: &str| batch.column_by_name(name).ok_or_else(|| Error::warehouse(&path, format!("has no column `{name}`")));
            let pseudonyms = column("pseudonym")?.as_string_opt::<i32>().ok_or_else(|| Error::warehouse(&path, "`pseudonym` is not text"))?;
            let ciphertexts = column("ciphertext")?.as_binary_opt::<i32>().ok_or_else(|| Error::warehouse(&path, "`ciphertext` is not binary"))?;
            let data_keys = column("data_key")?.as_binary_opt::<i32>().ok_or_else(|| Error::warehouse(&path, "`data_key` is not binary"))?;
            let seen = column("first_seen")?
                .as_primitive_opt::<arrow::datatypes::TimestampMicrosecondType>()
                .ok_or_else(|| Error::warehouse(&path, "`first_seen` is not a timestamp"))?;
            for i in 0..batch.num_rows() {
                if pseudonyms.is_null(i) || ciphertexts.is_null(i) || data_keys.is_null(i) {
                    continue;
                }
                let p = pseudonyms.value(i);
                // The first escrow of a pseudonym wins (two ingests of different days may
                // both have escrowed a new account).
                if wanted.contains(p) && !found.contains_key(p) {
                    let sealed = Sealed { data_key: data_keys.value(i).to_vec(), ciphertext: ciphertexts.value(i).to_vec(), first_seen: seen.value(i) };
                    found.insert(p.to_owned(), sealed);
                }
            }
        }
    }
    Ok(found)
}

/// A raw identifier waiting to be escrowed, found by an ingest worker.
#[derive(Debug, Clone)]
pub(crate) struct Pending {
    pub kind: IdKind,
    /// [`pseudonym_bits`] of the pseudonym: what de-duplication compares.
    pub bits: (bool, u128),
    pub pseudonym: String,
    pub raw: String,
    /// `created_at` of the record that carried it (µs since the epoch, UTC).
    pub seen: i64,
}

/// Encrypts one id under a data key, bound to its pseudonym: nonce ‖ ciphertext ‖ tag.
fn seal_id(cipher: &chacha20poly1305::ChaCha20Poly1305, nonce: [u8; NONCE_BYTES], pseudonym: &str, raw: &str) -> Result<Vec<u8>> {
    let sealed = cipher
        .encrypt(chacha20poly1305::Nonce::from_slice(&nonce), chacha20poly1305::aead::Payload { msg: raw.as_bytes(), aad: pseudonym.as_bytes() })
        .map_err(|_| Error::Custody("escrow encryption failed".into()))?;
    let mut out = Vec::with_capacity(NONCE_BYTES + sealed.len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&sealed);
    Ok(out)
}

/// Opens what [`seal_id`] made for `pseudonym`; `None` when it does not authenticate.
fn open_id(cipher: &chacha20poly1305::ChaCha20Poly1305, pseudonym: &str, sealed: &[u8]) -> Option<String> {
    if sealed.len() < NONCE_BYTES {
        return None;
    }
    let (nonce, body) = sealed.split_at(NONCE_BYTES);
    let plain = cipher.decrypt(chacha20poly1305::Nonce::from_slice(nonce), chacha20poly1305::aead::Payload { msg: body, aad: pseudonym.as_bytes() }).ok()?;
    String::from_utf8(plain).ok()
}

/// The escrow side of one ingest run: which pseudonyms the warehouse already escrows, the
/// run's data key, and the new ids waiting to be encrypted and written (in input order).
pub(crate) struct EscrowWriter {
    known: rustc_hash::FxHashSet<(bool, u128)>,
    pending: Vec<Pending>,
    date: NaiveDate,
    /// The run's data key, and the same sealed to the reveal key (stored with every row).
    cipher: chacha20poly1305::ChaCha20Poly1305,
    sealed_key: Vec<u8>,
    /// Nonces count up from 0: a data key is never used by another run, so none repeats.
    next_nonce: u64,
    /// Identities escrowed by this run.
    pub written: u64,
}

impl EscrowWriter {
    /// Draws the run's data key and loads the pseudonyms `identities` already holds.
    pub fn new(warehouse: &Warehouse, key: &RevealKey, date: NaiveDate) -> Result<Self> {
        let mut known = rustc_hash::FxHashSet::default();
        let files = warehouse.files(table::IDENTITIES, None)?;
        for batch in crate::warehouse::read_columns(&files, &["pseudonym"])? {
            let column = batch.column(0).as_string_opt::<i32>().ok_or_else(|| Error::internal("reveal", "identities.pseudonym is not text, though its table was checked against the contract"))?;
            known.extend(column.iter().flatten().filter_map(pseudonym_bits));
        }
        let data_key = crate::random::os_bytes::<32>()?;
        let sealed_key = key.seal(&data_key)?;
        let cipher = chacha20poly1305::ChaCha20Poly1305::new(chacha20poly1305::Key::from_slice(&data_key));
        Ok(EscrowWriter { known, pending: Vec::new(), date, cipher, sealed_key, next_nonce: 0, written: 0 })
    }

    /// Queues the identities of a chunk that the warehouse does not escrow yet; encrypts and
    /// stages a batch when enough are waiting.
    pub fn add(&mut self, found: Vec<Pending>, staged: &mut StagedWrite) -> Result<()> {
        for item in found {
            if self.known.insert(item.bits) {
                self.pending.push(item);
            }
        }
        if self.pending.len() >= SEAL_BATCH {
            self.flush(staged)?;
        }
        Ok(())
    }

    /// Encrypts what is waiting and stages it.
    pub fn flush(&mut self, staged: &mut StagedWrite) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let rows = self.pending.len();
        let mut pseudonym = StringBuilder::with_capacity(rows, rows * 37);
        let mut kind = StringBuilder::with_capacity(rows, rows * 7);
        let mut ciphertext = BinaryBuilder::with_capacity(rows, rows * 64);
        let mut data_key = BinaryBuilder::with_capacity(rows, rows * self.sealed_key.len());
        let mut first_seen = TimestampMicrosecondBuilder::with_capacity(rows);
        for p in &self.pending {
            let mut nonce = [0u8; NONCE_BYTES];
            nonce[..8].copy_from_slice(&self.next_nonce.to_le_bytes());
            self.next_nonce += 1;
            pseudonym.append_value(&p.pseudonym);
            kind.append_value(kind_name(p.kind));
            ciphertext.append_value(seal_id(&self.cipher, nonce, &p.pseudonym, &p.raw)?);
            data_key.append_value(&self.sealed_key);
            first_seen.append_value(p.seen);
        }
        let batch = RecordBatch::try_new(
            schema::IDENTITIES.clone(),
            vec![
                Arc::new(pseudonym.finish()),
                Arc::new(kind.finish()),
                Arc::new(ciphertext.finish()),
                Arc::new(data_key.finish()),
                Arc::new(first_seen.finish().with_timezone("UTC")),
            ],
        )?;
        staged.write(table::IDENTITIES, self.date, &batch)?;
        self.written += rows as u64;
        self.pending.clear();
        Ok(())
    }
}

/// A pseudonym's kind and 128 bits: a compact set key (the bits are already a keyed hash).
pub(crate) fn pseudonym_bits(pseudonym: &str) -> Option<(bool, u128)> {
    let kind = pseudonym_kind(pseudonym)?;
    let hex = &pseudonym[pseudonym.len() - 32..];
    let bytes = crate::hex::decode::<16>(hex)?;
    Some((kind == IdKind::Org, u128::from_le_bytes(bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_shares_of_three_rebuild_the_key_and_nothing_less_does() {
        let (key, shares) = generate(3, 2).unwrap();
        assert_eq!(shares.len(), 3);
        assert!(shares.iter().all(|s| s.reveal_key == key.to_text() && s.key_set == key.key_set()));
        for pair in [[0, 1], [0, 2], [1, 2]] {
            let chosen: Vec<Share> = pair.iter().map(|&i| shares[i].clone()).collect();
            let unlocked = unlock(&chosen).unwrap();
            assert_eq!(unlocked.key, key);
            let sealed = key.seal(b"carol.private").unwrap();
            assert_eq!(age::decrypt(&unlocked.identity, &sealed).unwrap(), b"carol.private");
        }
        let one = unlock(&shares[..1]).unwrap_err().to_string();
        assert!(one.contains("needs 2 shares"), "{one}");
        let twice = unlock(&[shares[0].clone(), shares[0].clone()]).unwrap_err().to_string();
        assert!(twice.contains("given twice"), "{twice}");
        let (_, others) = generate(3, 2).unwrap();
        let mixed = unlock(&[shares[0].clone(), others[1].clone()]).unwrap_err().to_string();
        assert!(mixed.contains("different reveal keys"), "{mixed}");
        assert!(unlock(&[]).is_err());
    }

    #[test]
    fn a_damaged_or_lowered_share_is_refused() {
        let (_, shares) = generate(3, 2).unwrap();
        let mut damaged = shares[1].clone();
        let mut bytes = damaged.bytes().unwrap();
        bytes[5] ^= 1;
        damaged.share = crate::hex::encode(&bytes);
        let refused = unlock(&[shares[0].clone(), damaged]).unwrap_err().to_string();
        assert!(refused.contains("do not rebuild"), "{refused}");
        // One holder editing the threshold down cannot reveal alone.
        let mut lowered = shares[0].to_text().replace("\"threshold\": 2", "\"threshold\": 1");
        assert!(Share::from_text(&lowered).is_err());
        lowered = shares[0].to_text().replace(&format!("\"index\": {}", shares[0].index), "\"index\": 3");
        assert!(Share::from_text(&lowered).unwrap_err().contains("do not belong"));
        let round = Share::from_text(&shares[2].to_text()).unwrap();
        assert_eq!(round, shares[2]);
        assert!(!format!("{round:?}").contains(&round.share), "Debug never shows the share");
    }

    #[test]
    fn an_id_opens_only_under_its_own_pseudonym_and_key() {
        let cipher = chacha20poly1305::ChaCha20Poly1305::new(chacha20poly1305::Key::from_slice(&[7; 32]));
        let sealed = seal_id(&cipher, [1; NONCE_BYTES], "acct_a", "carol.private").unwrap();
        assert_eq!(open_id(&cipher, "acct_a", &sealed).as_deref(), Some("carol.private"));
        assert!(!sealed.windows(5).any(|w| w == b"carol"), "stored in the clear");
        assert_eq!(open_id(&cipher, "acct_b", &sealed), None, "moved to another row");
        let mut edited = sealed.clone();
        edited[NONCE_BYTES + 2] ^= 1;
        assert_eq!(open_id(&cipher, "acct_a", &edited), None);
        let other = chacha20poly1305::ChaCha20Poly1305::new(chacha20poly1305::Key::from_slice(&[8; 32]));
        assert_eq!(open_id(&other, "acct_a", &sealed), None);
        assert_eq!(open_id(&cipher, "acct_a", &sealed[..5]), None);
    }

    #[test]
    fn thresholds_are_checked() {
        assert!(generate(3, 1).is_err());
        assert!(generate(2, 3).is_err());
        let (_, shares) = generate(5, 3).unwrap();
        assert!(unlock(&shares[..2]).unwrap_err().to_string().contains("needs 3"));
        assert!(unlock(&shares[2..]).is_ok());
    }

    #[test]
    fn pseudonyms_are_recognised_by_form() {
        let acct = format!("acct_{}", "0a".repeat(16));
        assert_eq!(pseudonym_kind(&acct), Some(IdKind::Account));
        assert_eq!(pseudonym_kind(&format!("org_{}", "f".repeat(32))), Some(IdKind::Org));
        assert_eq!(pseudonym_kind(&format!("acct_{}", "F".repeat(32))), None);
        assert_eq!(pseudonym_kind("acct_1234"), None);
        assert_eq!(pseudonym_kind(&format!("net_{}", "0".repeat(32))), None);
        assert_ne!(pseudonym_bits(&acct), pseudonym_bits(&format!("org_{}", "0a".repeat(16))));
    }
}
