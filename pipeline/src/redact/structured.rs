//! Structured kinds: links by a hand-written scan, every other kind by one multi-pattern
//! automaton whose candidates are then confirmed one by one, then a digit-run scan for cards,
//! SSN/ITIN and phone numbers.
//!
//! # Linear time on hostile text
//!
//! A rejected candidate can hide another that starts inside it, so after a rejection the
//! automaton searches again one byte later. That is linear only while every candidate is
//! short: a search reads up to the leftmost candidate and then at most the longest candidate
//! past it (a leftmost-first automaton keeps reading while a higher-priority pattern that
//! started at the same byte is still alive). Every pattern therefore has a maximum length
//! ([`MAX_CANDIDATE_BYTES`], checked by a test from the patterns' syntax), and the two kinds
//! that cannot be bounded are found outside the automaton: a private key's body (found by a
//! bounded search from its header) and links (a link runs to the first space or quote, however
//! long; [`find_links`] scans each run of link bytes once). Before these bounds, 200 KB of
//! `1.2.3.4.` took 20 s (an unbounded e-mail local part kept the automaton reading to the end
//! of the text for every rejected IPv4 candidate) and `http://a.co/x` followed by 200k `)`
//! more than a minute (brackets recounted per stripped character).

use std::net::Ipv6Addr;

use regex_automata::meta::Regex;
use regex_automata::{Input, MatchKind};

use super::validate::{self, TaxId};
use super::{Entity, PiiKind};
use crate::error::{Error, Result};
use crate::text::swar;

/// Candidate patterns in priority order: when two start at the same byte, the earlier wins.
///
/// Patterns whose confirmation rejects a word character before the match start with an
/// ASCII word boundary `(?-u:\b)` (the lazy DFA handles it; a Unicode `\b` would make it
/// give up). Without it every `M`, `1` or hex digit inside a word opens another counting
/// thread (`[13LMD][…]{25,34}`, `[MNO][…]{23,25}`, `(?:AC|SK)[0-9a-f]{32}`), the DFA's states
/// multiply past any cache, and it re-determinizes forever: on 448k fixture messages the
/// automaton needed ~49 MiB of states and ran at 0.36 s in a 16 MiB cache; with the
/// boundaries it fits in 10 MiB and runs at 0.15 s. Candidates it drops were rejected anyway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Candidate {
    PrivateKey,
    Email,
    ObfuscatedEmail,
    Jwt,
    VendorToken,
    KeyValue,
    Iban,
    Mac,
    Ipv6,
    Ipv4,
    Eth,
    Bech32,
    Base58,
    Street,
}

/// The longest match any pattern in [`PATTERNS`] can have, in bytes (a test checks each
/// pattern against it). It bounds how far past a candidate's start one search reads.
const MAX_CANDIDATE_BYTES: usize = 2048;

/// The longest private key body looked at after its header: a 4096-bit RSA key in PEM is
/// about 3.3 KB.
const MAX_PRIVATE_KEY_BYTES: usize = 16 << 10;

const PATTERNS: &[(Candidate, &str)] = &[
    // The header only; the body is found by `confirm_private_key`, within a bound.
    (Candidate::PrivateKey, r"-----BEGIN (?:[A-Z0-9]{1,16} ){0,4}PRIVATE KEY(?: BLOCK)?-----"),
    // Bounded as the standard bounds them: a local part of at most 64 characters, labels of
    // at most 63, at most 8 labels before the top-level domain. Local parts and domains may
    // hold Latin, Greek and Cyrillic letters ("josé@example.com", "user@exämple.de").
    (
        Candidate::Email,
        concat!(
            r"[A-Za-z0-9\x{C0}-\x{D6}\x{D8}-\x{F6}\x{F8}-\x{24F}\x{370}-\x{4FF}][A-Za-z0-9._%+\-\x{C0}-\x{D6}\x{D8}-\x{F6}\x{F8}-\x{24F}\x{370}-\x{4FF}]{0,63}@",
            r"(?:[A-Za-z0-9\x{C0}-\x{D6}\x{D8}-\x{F6}\x{F8}-\x{24F}\x{370}-\x{4FF}](?:[A-Za-z0-9\-\x{C0}-\x{D6}\x{D8}-\x{F6}\x{F8}-\x{24F}\x{370}-\x{4FF}]{0,61}[A-Za-z0-9\x{C0}-\x{D6}\x{D8}-\x{F6}\x{F8}-\x{24F}\x{370}-\x{4FF}])?\.){1,8}",
            r"(?:xn--[A-Za-z0-9\-]{1,59}|[A-Za-z]{2,63}|[\x{370}-\x{4FF}]{2,63})",
        ),
    ),
    // Written out to dodge scrapers: "john [at] example [dot] com", "jane(at)mail.org",
    // "bob@example[.]com". At least one bracketed part (checked), else it is an e-mail above.
    (
        Candidate::ObfuscatedEmail,
        concat!(
            r"[A-Za-z0-9][A-Za-z0-9._%+\-]{0,63} ?(?:[\[({<] ?(?i-u:at|@) ?[\])}>]|@) ?",
            r"(?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?(?:\.| ?[\[({<] ?(?i-u:dot|\.) ?[\])}>] ?)){1,8}[A-Za-z]{2,63}",
        ),
    ),
    (Candidate::Jwt, r"eyJ[A-Za-z0-9_\-]{8,300}\.eyJ[A-Za-z0-9_\-]{8,400}\.[A-Za-z0-9_\-]{8,300}"),
    (
        Candidate::VendorToken,
        concat!(
            r"(?-u:\b)(?:(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA)[0-9A-Z]{16}",
            r"|gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{50,255}",
            r"|glpat-[A-Za-z0-9_\-]{20,64}|xox[abposr]-[A-Za-z0-9\-]{10,255}|xapp-[A-Za-z0-9\-]{20,255}",
            r"|(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{20,255}|whsec_[A-Za-z0-9]{20,128}",
            r"|sk-ant-[A-Za-z0-9_\-]{20,255}|sk-proj-[A-Za-z0-9_\-]{20,255}|sk-[A-Za-z0-9]{32,128}",
            r"|AIza[0-9A-Za-z_\-]{35}|ya29\.[0-9A-Za-z_\-]{20,255}|hf_[A-Za-z0-9]{30,64}",
            r"|npm_[A-Za-z0-9]{36}|pypi-[A-Za-z0-9_\-]{50,255}|SG\.[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43}",
            r"|gsk_[A-Za-z0-9]{40,64}|xai-[A-Za-z0-9]{40,128}|dop_v1_[a-f0-9]{64}|shp(?:at|ss|ca)_[a-fA-F0-9]{32}",
            r"|(?:AC|SK)[0-9a-f]{32}|[0-9]{8,10}:AA[A-Za-z0-9_\-]{33}",
            r"|[MNO][A-Za-z0-9]{23,25}\.[A-Za-z0-9_\-]{6}\.[A-Za-z0-9_\-]{27,38}",
            r"|AccountKey=[A-Za-z0-9+/=]{40,128})",
        ),
    ),
    (
        Candidate::KeyValue,
        concat!(
            // ASCII case-insensitivity (`-u`): Unicode folding would add the Kelvin sign and
            // long s to every `k` and `s`, for nothing.
            r"(?:(?i-u:api[_\-]?key|apikey|api[_\-]?secret|secret[_\-]?key|client[_\-]?secret|access[_\-]?key",
            r"|secret|auth[_\-]?token|access[_\-]?token|refresh[_\-]?token|bearer|token|password|passwd",
            r"|passphrase|pwd|private[_\-]?key|mot de passe|passwort|senha)|(?i-u:contrase)[ñÑ](?i-u:a))",
            r#"[A-Za-z0-9_\-]{0,32}["']?(?:[ \t]{0,8}(?::=|=>|:|=)[ \t]{0,8}|[ \t]{1,8}(?:(?i-u:is|was|es|est|ist)[ \t]{1,8}|é[ \t]{1,8})?)["']?"#,
            r#"[^\s"'<>,;`]{6,200}"#,
        ),
    ),
    // Any case, grouped by spaces, dashes or dots: "de89 3704 …", "DE89.3704.…". The
    // checksum decides.
    (Candidate::Iban, r"(?-u:\b)[A-Za-z]{2}[0-9]{2}[ \-.]?[A-Za-z0-9]{4}"),
    (
        Candidate::Mac,
        r"[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5}|[0-9A-Fa-f]{2}(?:-[0-9A-Fa-f]{2}){5}|[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}",
    ),
    (
        Candidate::Ipv6,
        r"(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9]{1,3}(?:\.[0-9]{1,3}){3}|[0-9A-Fa-f]{1,4})?(?:%[A-Za-z0-9]{1,16})?(?:/[0-9]{1,8})?",
    ),
    (Candidate::Ipv4, r"(?-u:\b)[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}(?:/[0-9]{1,8})?"),
    (Candidate::Eth, r"(?-u:\b)0x[0-9A-Fa-f]{40}"),
    (Candidate::Bech32, r"(?-u:\b)(?i:bc1|tb1|ltc1)[A-Za-z0-9]{8,87}"),
    (Candidate::Base58, r"(?-u:\b)[13LMD][1-9A-HJ-NP-Za-km-z]{25,34}"),
    (
        Candidate::Street,
        concat!(
            // English: "221B Baker Street", "1600 Pennsylvania Ave NW, Apt 4, Springfield, IL 62704"
            // and in capitals, "123 MAIN STREET, SPRINGFIELD".
            r"(?-u:\b)[0-9]{1,5}[A-Za-z]? (?:(?:[0-9]{1,3}(?:st|nd|rd|th)|[A-Z][a-z]{1,24}|[A-Z]{2,24}|[NSEW]\.?) ){1,3}",
            r"(?i-u:Street|Str|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|Place|Pl",
            r"|Terrace|Ter|Circle|Cir|Parkway|Pkwy|Highway|Hwy|Square|Sq|Trail|Crescent|Close|Row",
            // The same order elsewhere: "136 Filadelfeos Str.", "12 Kossuth Lajos utca".
            r"|Strasse|Utca|Odos|Leoforos)(?-u:\b)\.?",
            r"(?: (?:NW|NE|SW|SE|N|S|E|W)(?-u:\b))?",
            r"(?:,? (?:(?i-u:Apt|Apartment|Suite|Ste|Unit|Flat)|#)\.? ?[A-Za-z0-9\-]{1,8})?",
            r"(?:, (?:[A-Z][a-z]{1,24}|[A-Z]{3,24})(?: (?:[A-Z][a-z]{1,24}|[A-Z]{3,24}))?(?:, [A-Z]{2})?(?: [0-9]{5}(?:-[0-9]{4})?)?)?",
            // German: "Hauptstraße 5, 10115 Berlin"
            r"|[A-ZÄÖÜ][a-zäöüß]{1,30}(?:straße|strasse|str\.|weg|gasse|platz|allee|damm) [0-9]{1,4}[a-z]?",
            r"(?:, [0-9]{5} [A-ZÄÖÜ][a-zäöüß]{1,24})?",
            // French: "12 rue de la Paix, 75002 Paris"
            r"|(?-u:\b)[0-9]{1,4}(?: bis| ter)?,? (?:rue|avenue|boulevard|bd|place|chemin|allée|impasse|quai) ",
            r"(?:de la |de l'|du |des |de )?[A-ZÉÈ][A-Za-zéèêàâçôîû'\-]{1,24}(?: [A-ZÉÈ][A-Za-zéèêàâçôîû'\-]{1,24}){0,2}",
            r"(?:, [0-9]{5} [A-ZÉ][a-zéèêàâçôîû\-]{1,24})?",
            // Spanish / Portuguese: "Calle Mayor 12", "Rua Augusta, 45"
            r"|(?-u:\b)(?:Calle|C/|Avenida|Avda\.|Plaza|Paseo|Rua|Travessa) (?:de (?:la |los |las )?|da |do |dos )?",
            r"[A-ZÁÉÍÓÚ][a-záéíóúñãõç]{1,24}(?: [A-ZÁÉÍÓÚ][a-záéíóúñãõç]{1,24}){0,2},? (?:n[º°o]\.? ?)?[0-9]{1,4}",
            // Elsewhere in Europe, a street type before the name and the number after it:
            // "ul. Północna 73", "Via Roma 10", "Odos Ermou 5", "ул. Ленина, 5"; or the type glued
            // to the name: "Puruntie 82", "Storgatan 3", "Nørregade 7", "Keizersgracht 12".
            // A building number before it ("3037 ul. Północna 73") and a unit, postal code
            // and city after it (on the same line or the next) are part of the address.
            // (The ASCII-initial forms start at a word boundary; the others cannot use the
            // DFA's ASCII boundary, and the confirmation rejects a letter before them.)
            r"|(?:(?-u:\b)(?:[0-9]{1,5}[A-Za-z]?,? )?(?:(?:Via|Viale|Vicolo|Piazza|Piazzale|Corso|Largo|Carrer|Avinguda|Praça|Odos|Strada",
            r"|Bulevardul|Calea|Aleea|Ulitsa|Ulica|Ulice|Náměstí|Rruga|Cesta|Trg|ul\.|ulica|aleja|os\.|pl\.|Str\.|str\.|nám\.|Av\.)",
            r" (?:(?:de|del|della|di|da|do|dos|la|le|von|der) )?[A-Z\x{C0}-\x{D6}\x{D8}-\x{DE}\x{100}-\x{17F}\x{391}-\x{3A9}\x{410}-\x{42F}][a-z\x{DF}-\x{F6}\x{F8}-\x{17F}\x{3AC}-\x{3CE}\x{430}-\x{44F}'\-]{1,24}",
            // The type as a word of its own after the name: "Kossuth Lajos utca 12", "Berliner Straße 5".
            r"|[A-Z][a-z\x{DF}-\x{F6}\x{F8}-\x{17F}]{1,24}(?: [A-Z\x{C0}-\x{D6}\x{D8}-\x{DE}\x{100}-\x{17F}][a-z\x{DF}-\x{F6}\x{F8}-\x{17F}]{1,24}){0,2}",
            r" (?:utca|út|tér|körút|Straße|Strasse|Str\.|Allee|Weg|Gasse|Platz|Damm)",
            r"|[A-Z][a-z\x{DF}-\x{F6}\x{F8}-\x{17F}]{1,30}(?:straße|strasse|str\.|weg|gasse|platz|allee|damm|ufer|straat|laan|plein|gracht|kade|singel|gatan|vägen|väg|gränd|gata|veien|vegen|gade|vej|katu|tie|kuja|polku|väylä|tänav|iela|gatve))",
            r"|(?:Οδός|ул\.|улица|пр\.|проспект|пер\.|вул\.|вулиця) [A-Z\x{C0}-\x{D6}\x{D8}-\x{DE}\x{100}-\x{17F}\x{391}-\x{3A9}\x{410}-\x{42F}][a-z\x{DF}-\x{F6}\x{F8}-\x{17F}\x{3AC}-\x{3CE}\x{430}-\x{44F}'\-]{1,24}|[\x{C0}-\x{D6}\x{D8}-\x{DE}\x{100}-\x{17F}][a-z\x{DF}-\x{F6}\x{F8}-\x{17F}]{1,30}(?:straße|strasse|str\.|weg|gasse|platz|allee|damm|ufer|straat|laan|plein|gracht|kade|singel|gatan|vägen|väg|gränd|gata|veien|vegen|gade|vej|katu|tie|kuja|polku|väylä|tänav|iela|gatve))",
            r"(?: [A-Z\x{C0}-\x{D6}\x{D8}-\x{DE}\x{100}-\x{17F}\x{391}-\x{3A9}\x{410}-\x{42F}][a-z\x{DF}-\x{F6}\x{F8}-\x{17F}\x{3AC}-\x{3CE}\x{430}-\x{44F}'\-]{1,24}){0,2}",
            r",? (?:n[º°o]\.? ?|д\. ?)?[0-9]{1,4}[A-Za-z]?(?:[/\-][0-9]{1,4})?",
            // A unit, and the city straight after it ("Apt. 946 Suwałki").
            r"(?:,? (?i-u:apt|apartment|suite|ste|unit|flat|wohnung|whg|top|lok|kv|piso|app|appt|int|bte|bus|m)\.? ?[0-9A-Za-z]{1,6}",
            r"(?: [A-Z\x{C0}-\x{D6}\x{D8}-\x{DE}\x{100}-\x{17F}][a-z\x{DF}-\x{F6}\x{F8}-\x{17F}]{2,24}(?-u:\b))?)?",
            r"(?:(?:, |,?\n)(?:[A-Z]{1,2}-)?[0-9]{2}[0-9]{0,3}(?:[ \-][0-9]{2,3})?(?: [A-Z]{2})? ",
            r"[A-Z\x{C0}-\x{D6}\x{D8}-\x{DE}\x{100}-\x{17F}\x{391}-\x{3A9}\x{410}-\x{42F}][A-Za-z\x{C0}-\x{17F}\x{391}-\x{3CE}\x{410}-\x{44F}\-]{1,24}",
            r"|,? [A-Z\x{C0}-\x{D6}\x{D8}-\x{DE}\x{100}-\x{17F}]{3,24}(?-u:\b))?",
            // Post-office boxes: "P.O. Box 123", "Postfach 10 20 30", "Apartado 45".
            r"|(?-u:\b)(?:P\. ?O\. ?Box|PO Box|Post Office Box|Postfach|Boîte postale|B\.P\.|Apartado(?: de correos)?|Casilla(?: de correo)?",
            r"|Skrytka pocztowa|Postbus|Postboks) [0-9]{1,6}(?: [0-9]{2,3}){0,2}",
        ),
    ),
];

pub(super) struct StructuredFinder {
    regex: Regex,
    /// Identifies this compiled regex, so a thread's cached search state is never used with
    /// another one.
    id: u64,
}

static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

thread_local! {
    /// Search state per thread. The regex's internal pool serves only its first thread
    /// without a lock; every other thread took a mutex per search, which showed up in
    /// profiles at millions of messages.
    static CACHE: std::cell::RefCell<Option<(u64, regex_automata::meta::Cache)>> = const { std::cell::RefCell::new(None) };
}

impl StructuredFinder {
    pub(super) fn new() -> Result<Self> {
        let patterns: Vec<&str> = PATTERNS.iter().map(|(_, p)| *p).collect();
        let regex = Regex::builder()
            // The default 2 MiB lazy-DFA cache thrashes with this many patterns on chat text
            // (profiles showed ~9% of ingest re-determinizing); 16 MiB per thread holds it.
            .configure(Regex::config().match_kind(MatchKind::LeftmostFirst).hybrid_cache_capacity(16 << 20))
            .build_many(&patterns)
            .map_err(|e| Error::Pattern(e.to_string()))?;
        Ok(StructuredFinder { regex, id: NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed) })
    }

    /// Appends the structured entities of `text` to `out`, adding what it read to `work`.
    pub(super) fn find_counting(&self, text: &str, out: &mut Vec<Entity>, work: &mut Work) {
        CACHE.with(|cell| {
            let mut slot = cell.borrow_mut();
            if slot.as_ref().is_none_or(|(id, _)| *id != self.id) {
                *slot = Some((self.id, self.regex.create_cache()));
            }
            let (_, cache) = slot.as_mut().expect("set above");
            self.find_with(cache, text, out, work);
        });
    }

    fn find_with(&self, cache: &mut regex_automata::meta::Cache, text: &str, out: &mut Vec<Entity>, work: &mut Work) {
        let first = out.len();
        find_links(text, out, work);
        let mut pos = 0;
        while pos < text.len() {
            let Some(m) = self.regex.search_with(cache, &Input::new(text).span(pos..text.len())) else {
                work.bytes += (text.len() - pos) as u64;
                break;
            };
            // Up to the candidate, then at most the longest pattern past its start.
            work.bytes += (m.start() - pos + MAX_CANDIDATE_BYTES) as u64;
            let candidate = PATTERNS[m.pattern().as_usize()].0;
            match confirm(text, candidate, m.start(), m.end(), work) {
                Some(entity) => {
                    pos = entity.end.max(m.start() + 1);
                    out.push(entity);
                }
                None => pos = m.start() + 1,
            }
            while !text.is_char_boundary(pos) {
                pos += 1;
            }
        }
        // Links were found first; the digit-run scan wants everything in order.
        super::sort_entities(&mut out[first..]);
        scan_digit_runs(text, first, out);
    }
}

/// What finding did on one text, counted rather than timed, so a test can show that it grows
/// linearly with hostile input.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Work {
    /// Bytes read, or for an automaton search an upper bound on them: the bytes up to the
    /// candidate plus [`MAX_CANDIDATE_BYTES`], the most any pattern can read past its start.
    pub bytes: u64,
}

fn prev_char(text: &str, at: usize) -> Option<char> {
    text[..at].chars().next_back()
}

fn next_char(text: &str, at: usize) -> Option<char> {
    text[at..].chars().next()
}

fn is_word(c: Option<char>) -> bool {
    c.is_some_and(|c| c.is_alphanumeric() || c == '_')
}

fn entity(kind: PiiKind, start: usize, end: usize) -> Option<Entity> {
    Some(Entity { kind, start, end })
}

fn confirm(text: &str, candidate: Candidate, start: usize, end: usize, work: &mut Work) -> Option<Entity> {
    let s = &text[start..end];
    match candidate {
        Candidate::PrivateKey => confirm_private_key(text, start, end, work),
        Candidate::Jwt => entity(PiiKind::Secret, start, end),
        Candidate::Email => entity(PiiKind::Email, start, end),
        Candidate::ObfuscatedEmail => {
            (s.contains(['[', '(', '{', '<']) && !is_word(next_char(text, end))).then_some(()).and(entity(PiiKind::Email, start, end))
        }
        Candidate::VendorToken => {
            (!is_word(prev_char(text, start)) && !is_word(next_char(text, end)))
                .then_some(())
                .and(entity(PiiKind::Secret, start, end))
        }
        Candidate::KeyValue => confirm_key_value(text, start, end),
        Candidate::Iban => confirm_iban(text, start),
        Candidate::Mac => {
            let boundary = |c: Option<char>| c.is_some_and(|c| c.is_ascii_hexdigit() || matches!(c, ':' | '-' | '.'));
            if boundary(prev_char(text, start)) || boundary(next_char(text, end)) {
                return None;
            }
            let hex: Vec<u8> = s.bytes().filter(u8::is_ascii_hexdigit).map(|b| b.to_ascii_lowercase()).collect();
            if hex.iter().all(|&b| b == b'f') || hex.iter().all(|&b| b == b'0') {
                return None;
            }
            entity(PiiKind::MacAddress, start, end)
        }
        Candidate::Ipv6 => confirm_ipv6(text, start, end),
        Candidate::Ipv4 => confirm_ipv4(text, start, end),
        Candidate::Eth => {
            (!is_word(prev_char(text, start)) && !is_word(next_char(text, end)) && validate::eth_address_valid(s))
                .then_some(())
                .and(entity(PiiKind::Crypto, start, end))
        }
        Candidate::Bech32 => {
            (!is_word(prev_char(text, start)) && !is_word(next_char(text, end)) && validate::bech32_address_valid(s))
                .then_some(())
                .and(entity(PiiKind::Crypto, start, end))
        }
        Candidate::Base58 => {
            (!is_word(prev_char(text, start)) && !is_word(next_char(text, end)) && validate::base58_address_valid(s))
                .then_some(())
                .and(entity(PiiKind::Crypto, start, end))
        }
        Candidate::Street => {
            if is_word(prev_char(text, start)) {
                return None;
            }
            let trimmed = s.trim_end_matches([' ', ',']);
            entity(PiiKind::StreetAddress, start, start + trimmed.len())
        }
    }
}

/// A private key from its header to its END line, or, when the END line is missing (a key
/// pasted in part), through the run of base64 after the header. Either within
/// [`MAX_PRIVATE_KEY_BYTES`].
fn confirm_private_key(text: &str, start: usize, header_end: usize, work: &mut Work) -> Option<Entity> {
    let bytes = text.as_bytes();
    let limit = (header_end + MAX_PRIVATE_KEY_BYTES).min(bytes.len());
    let body = &bytes[header_end..limit];
    // A PEM body holds no "-----": the first one is the END line or the next block, so no
    // byte is read twice however many headers the text repeats.
    let dashes = memchr::memmem::find(body, b"-----");
    work.bytes += dashes.unwrap_or(body.len()) as u64;
    if let Some(i) = dashes {
        let line = &body[i..];
        if let Some(label) = line.strip_prefix(b"-----END ") {
            let label = &label[..label.len().min(96)];
            if let Some(close) = memchr::memmem::find(label, b"-----") {
                let name = &label[..close];
                let well_formed = name.iter().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || *b == b' ');
                if well_formed && (name.ends_with(b"PRIVATE KEY") || name.ends_with(b"PRIVATE KEY BLOCK")) {
                    let end = header_end + i + b"-----END ".len() + close + b"-----".len();
                    return entity(PiiKind::Secret, start, end);
                }
            }
        }
    }
    let base64 = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b'\r' | b'\n' | b' ' | b'\t' | b'\\');
    let run = body.iter().take_while(|b| base64(b)).count();
    (run >= 16).then_some(()).and(entity(PiiKind::Secret, start, header_end + run))
}

/// Bytes a link holds after its scheme: printable ASCII but quotes, angle brackets, the
/// backtick and the space, or any byte of a non-ASCII character.
fn is_link_byte(b: u8) -> bool {
    b >= 0x80 || matches!(b, b'!' | b'#'..=b'&' | b'('..=b';' | b'=' | b'?'..=b'_' | b'a'..=b'~')
}

/// Schemes a link may start with (any case). No one is a suffix of another, so a `://` has
/// at most one.
const LINK_SCHEMES: [&[u8]; 5] = [b"https", b"http", b"wss", b"ftp", b"ws"];

/// Rejected link starts tried inside one run of link bytes before the rest of the run is
/// skipped. Each try reads the rest of the run, so the bound keeps the scan linear; a run
/// holding a link after four rejected ones ("http://x/http://x/…") is not a real link.
const MAX_LINK_TRIES_PER_RUN: usize = 4;

/// The next occurrence of a needle at or after a position; the text is searched forward only,
/// so a scan that moves forward reads it once.
struct NextOccurrence {
    needle: &'static [u8],
    /// Where it was last found (`usize::MAX`: nowhere after the last search's start).
    at: usize,
    searched: bool,
}

impl NextOccurrence {
    fn new(needle: &'static [u8]) -> Self {
        NextOccurrence { needle, at: 0, searched: false }
    }

    fn at_or_after(&mut self, bytes: &[u8], from: usize, work: &mut Work) -> Option<usize> {
        let stale = !self.searched || (self.at != usize::MAX && self.at < from);
        if stale && from <= bytes.len() {
            let hit = memchr::memmem::find(&bytes[from..], self.needle);
            work.bytes += hit.map_or(bytes.len() - from, |i| i + self.needle.len()) as u64;
            self.at = hit.map_or(usize::MAX, |i| from + i);
            self.searched = true;
        }
        (self.at != usize::MAX).then_some(self.at)
    }
}

/// Links: a scheme and `://`, or `www.`, then link bytes up to the first byte a link cannot
/// hold. A link is never cut short, however long, so it cannot be a bounded pattern of the
/// automaton; this scan reads every run of link bytes a bounded number of times instead.
fn find_links(text: &str, out: &mut Vec<Entity>, work: &mut Work) {
    let bytes = text.as_bytes();
    let mut scheme_sep = NextOccurrence::new(b"://");
    let mut www = NextOccurrence::new(b"www.");
    let mut from = 0;
    // The run of link bytes the last start was in: its end and the starts tried in it.
    let (mut run_end, mut tries) = (0, 0);
    loop {
        // The next scheme start at or after `from`.
        let mut scheme = None;
        let mut look = from;
        while let Some(p) = scheme_sep.at_or_after(bytes, look, work) {
            let start = LINK_SCHEMES.iter().find(|s| p >= s.len() && bytes[p - s.len()..p].eq_ignore_ascii_case(s)).map(|s| p - s.len());
            match start {
                Some(start) if start >= from => {
                    scheme = Some((start, p + 3));
                    break;
                }
                _ => look = p + 1,
            }
        }
        let www = www.at_or_after(bytes, from, work).map(|w| (w, w + 4));
        let Some((start, body)) = [scheme, www].into_iter().flatten().min() else { break };
        if body >= bytes.len() || !is_link_byte(bytes[body]) {
            from = start + 1;
            continue;
        }
        if start >= run_end {
            let scanned = bytes[body..].iter().take_while(|&&b| is_link_byte(b)).count();
            work.bytes += scanned as u64;
            (run_end, tries) = (body + scanned, 0);
        }
        work.bytes += (run_end - start) as u64;
        match confirm_url(text, start, run_end) {
            Some(link) => {
                out.push(link);
                from = run_end;
            }
            None => {
                tries += 1;
                from = if tries >= MAX_LINK_TRIES_PER_RUN { run_end } else { start + 1 };
            }
        }
    }
}

/// Which bracket pair a character belongs to, and +1 for an opening one, -1 for a closing one.
fn bracket(c: char) -> Option<(usize, i64)> {
    match c {
        '(' => Some((0, 1)),
        ')' => Some((0, -1)),
        '[' => Some((1, 1)),
        ']' => Some((1, -1)),
        '{' => Some((2, 1)),
        '}' => Some((2, -1)),
        _ => None,
    }
}

fn confirm_url(text: &str, start: usize, end: usize) -> Option<Entity> {
    let mut s = &text[start..end];
    // Trailing sentence punctuation and unbalanced closing brackets are not part of a link.
    // Brackets are counted once and the counts kept as characters are stripped.
    let mut balance = [0i64; 3];
    for c in s.chars() {
        if let Some((pair, step)) = bracket(c) {
            balance[pair] += step;
        }
    }
    loop {
        let last = s.chars().next_back()?;
        let unbalanced = match bracket(last) {
            Some((pair, -1)) => balance[pair] < 0,
            Some(_) => false,
            None => matches!(last, '.' | ',' | ';' | ':' | '!' | '?'),
        };
        if !unbalanced {
            break;
        }
        if let Some((pair, step)) = bracket(last) {
            balance[pair] -= step;
        }
        s = &s[..s.len() - last.len_utf8()];
    }
    let rest = s.split_once("://").map_or(s, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority.rsplit('@').next().unwrap_or("");
    let host = host.split(':').next().unwrap_or("");
    let tld_ok = host
        .rsplit_once('.')
        .is_some_and(|(name, tld)| !name.is_empty() && tld.len() >= 2 && tld.chars().all(char::is_alphabetic));
    let ip_ok = host.parse::<std::net::Ipv4Addr>().is_ok();
    // "www.example" is not a link; "www.example.com" is.
    let www_ok = !s.starts_with("www.") || host.matches('.').count() >= 2;
    if !www_ok {
        return None;
    }
    if !(tld_ok || ip_ok || host == "localhost") {
        return None;
    }
    entity(PiiKind::Url, start, start + s.len())
}

/// Names whose values are secrets however plain they look.
fn password_like(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    ["password", "passwd", "passphrase", "pwd", "mot de passe", "contraseña", "passwort", "senha"]
        .iter()
        .any(|p| name.contains(p))
}

fn placeholder_value(v: &str) -> bool {
    let lower = v.to_ascii_lowercase();
    lower.starts_with("${")
        || lower.starts_with('<')
        || lower.starts_with('{')
        || lower.starts_with("process.env")
        || lower.starts_with("os.environ")
        || lower.starts_with("os.getenv")
        || lower.starts_with("env[")
        || lower.contains("your")
        || lower.contains("example")
        || lower.chars().all(|c| matches!(c, '*' | 'x' | '.' | '-' | '_'))
        || matches!(lower.as_str(), "none" | "null" | "undefined" | "true" | "false" | "required" | "optional" | "string")
}

fn confirm_key_value(text: &str, start: usize, end: usize) -> Option<Entity> {
    let s = &text[start..end];
    // Split name / separator / value: the value is the last run of non-separator characters.
    let value_start = s.rfind(|c: char| c.is_whitespace() || matches!(c, ':' | '=' | '>' | '"' | '\'')).map_or(0, |i| i + 1);
    let name_end = s.find(|c: char| !(c.is_alphanumeric() || matches!(c, '_' | '-' | ' '))).unwrap_or(s.len());
    let name = &s[..name_end.min(value_start)];
    let structured = s[..value_start].contains([':', '=']);
    let mut value = &s[value_start..];
    if !structured {
        value = value.trim_end_matches(['.', ',', '!', '?', ')']);
    }
    if value.chars().count() < 6 || placeholder_value(value) {
        return None;
    }
    let has_digit = value.bytes().any(|b| b.is_ascii_digit());
    let has_symbol = value.bytes().any(|b| b.is_ascii_punctuation());
    let mixed_case = value.bytes().any(|b| b.is_ascii_uppercase()) && value.bytes().any(|b| b.is_ascii_lowercase());
    // A long run of letters closing the sentence after "my password is" is the password
    // ("correcthorsebatterystaple"); a shorter one or one the sentence goes on from is a
    // word ("my password is expired", "is unbelievably weak").
    let passphrase = || {
        let after = text[start + value_start + value.len()..].trim_start_matches([' ', '\t']);
        // Said to be the password ("is", "was"), not a noun after the word ("password
        // vulnerabilities").
        let head = s[..value_start].trim_end_matches(|c: char| c.is_whitespace() || c == '"' || c == '\'');
        let connector = head.rsplit(char::is_whitespace).next().unwrap_or("");
        let said = ["is", "was", "es", "est", "ist", "é"].iter().any(|v| connector.eq_ignore_ascii_case(v));
        said && value.chars().count() >= 12
            && value.chars().all(char::is_alphabetic)
            && after.chars().next().is_none_or(|c| matches!(c, '.' | ',' | '!' | '?' | ';' | ')' | '\n' | '\r'))
    };
    let accept = if password_like(name) {
        structured || has_digit || has_symbol || mixed_case || passphrase()
    } else {
        let high_entropy = value.len() >= 12 && validate::entropy(value.as_bytes()) >= 3.0;
        high_entropy && (has_digit || mixed_case) && (structured || has_digit)
    };
    let value_start = start + value_start;
    accept.then_some(()).and(entity(PiiKind::Secret, value_start, value_start + value.len()))
}

fn confirm_iban(text: &str, start: usize) -> Option<Entity> {
    if is_word(prev_char(text, start)) {
        return None;
    }
    let bytes = text.as_bytes();
    let country = [bytes[start].to_ascii_uppercase(), bytes[start + 1].to_ascii_uppercase()];
    let expected = validate::iban_expected_length(&country)?;
    let mut compact = [0u8; 34];
    let (mut n, mut i) = (0, start);
    // Grouped IBANs are printed in fours with one separator throughout; holding to that keeps
    // a phrase that happens to start like one ("se24 hours of training…") from reaching the
    // checksum, which would pass one in 97.
    let mut separator = None;
    while n < expected && i < bytes.len() {
        let b = bytes[i];
        if b.is_ascii_alphanumeric() {
            compact[n] = b.to_ascii_uppercase();
            n += 1;
            i += 1;
        } else if matches!(b, b' ' | b'-' | b'.')
            && n % 4 == 0
            && *separator.get_or_insert(b) == b
            && i + 1 < bytes.len()
            && bytes[i + 1].is_ascii_alphanumeric()
        {
            i += 1;
        } else {
            return None;
        }
    }
    if n != expected || is_word(next_char(text, i)) {
        return None;
    }
    // Typed in one case or the other, not both ("LV80 bANK …" is not an IBAN someone wrote).
    let letters = || bytes[start..i].iter().filter(|b| b.is_ascii_alphabetic());
    if letters().any(u8::is_ascii_lowercase) && letters().any(u8::is_ascii_uppercase) {
        return None;
    }
    validate::iban_valid(&compact[..n]).then_some(()).and(entity(PiiKind::Iban, start, i))
}

/// Splits `addr[%zone][/bits]`; an out-of-range prefix length leaves the address alone
/// ("10.0.0.0/123" is the address 10.0.0.0 followed by junk).
fn split_cidr(s: &str, max_bits: u8) -> (&str, usize) {
    match s.split_once('/') {
        Some((addr, bits)) if bits.parse::<u8>().is_ok_and(|b| b <= max_bits) => (addr, s.len()),
        Some((addr, _)) => (addr, addr.len()),
        None => (s, s.len()),
    }
}

fn confirm_ipv6(text: &str, start: usize, end: usize) -> Option<Entity> {
    let p = prev_char(text, start);
    let after = &text[end..];
    if is_word(p) || matches!(p, Some(':' | '.')) || matches!(next_char(text, end), Some(c) if c.is_alphanumeric() || c == ':') {
        return None;
    }
    // "::ffff:192.168.1" is an incomplete mapped address, not "::ffff:192" and junk.
    if after.starts_with('.') && after[1..].starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let (with_zone, len) = split_cidr(&text[start..end], 128);
    let addr = with_zone.split('%').next().unwrap_or(with_zone);
    addr.parse::<Ipv6Addr>().ok().and(entity(PiiKind::IpAddress, start, start + len))
}

fn confirm_ipv4(text: &str, start: usize, end: usize) -> Option<Entity> {
    let p = prev_char(text, start);
    // A colon before is fine: "::ffff:192.0.2.1" glued to text still leaks the IPv4 part.
    if is_word(p) || p == Some('.') || is_word(next_char(text, end)) {
        return None;
    }
    let (addr, len) = split_cidr(&text[start..end], 32);
    let ok = addr.split('.').all(|o| o.parse::<u16>().is_ok_and(|v| v <= 255));
    ok.then_some(()).and(entity(PiiKind::IpAddress, start, start + len))
}

/// One group of digits inside a digit run: "(415)", "555", "+44".
#[derive(Debug, Clone, Copy, Default)]
struct Group {
    start: usize,
    end: usize,
    digits_start: usize,
    digits_end: usize,
    plus: bool,
    paren: bool,
    /// Separator before this group (`0` for none/first).
    sep: u8,
}

/// Most groups one run is cut into: enough for a card typed digit by digit
/// ("4 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1" plus a few more).
const MAX_GROUPS: usize = 24;

/// What touches a digit run on its left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RunContext {
    /// A space, punctuation that opens a value (`:`, `(`, quotes) or the start of the text.
    Free,
    /// A letter, or a comma or period right after a word: only kinds that carry their own
    /// evidence (checksum, dashes, '+') are taken.
    Glued,
}

/// The groups of one run, on the stack: a heap `Vec` here cost an allocation for every text
/// with a digit in it.
struct Groups {
    items: [Group; MAX_GROUPS],
    len: usize,
}

impl Groups {
    fn new() -> Self {
        Groups { items: [Group::default(); MAX_GROUPS], len: 0 }
    }

    fn clear(&mut self) {
        self.len = 0;
    }

    /// Adds a group and returns whether the run is now full.
    fn push(&mut self, group: Group) -> bool {
        self.items[self.len] = group;
        self.len += 1;
        self.len == MAX_GROUPS
    }

    fn as_slice(&self) -> &[Group] {
        &self.items[..self.len]
    }
}

const PHONE_CUES: &[&str] = &[
    "phone", "tel", "call", "number", "mobile", "cell", "whatsapp", "fax", "sms", "text me", "contact",
    "número", "numéro", "telefon", "téléphone", "teléfono", "handy", "celular", "portable",
];

/// Index of the first byte at or after `from` that may start a digit run (a digit, `+` or
/// `(`), or `bytes.len()`.
///
/// Eight bytes per step (SWAR): most text has no digit for dozens of bytes, and the byte loop
/// this replaces was 3% of ingest instructions. `memchr` only finds up to three exact bytes;
/// this needs a range.
fn next_run_start(bytes: &[u8], from: usize) -> usize {
    swar::position(
        bytes,
        from,
        |x| swar::in_range(x, b'0', b'9') | swar::eq(x, b'+') | swar::eq(x, b'('),
        |b| b.is_ascii_digit() || matches!(b, b'+' | b'('),
    )
}

fn scan_digit_runs(text: &str, first: usize, out: &mut Vec<Entity>) {
    let bytes = text.as_bytes();
    let structured_end = out.len();
    let mut covered = first;
    let mut run = Groups::new();
    let mut i = 0;
    while i < bytes.len() {
        i = next_run_start(bytes, i);
        if i == bytes.len() {
            break;
        }
        let b = bytes[i];
        let starts = b.is_ascii_digit()
            || (matches!(b, b'+' | b'(') && bytes.get(i + 1).is_some_and(|c| c.is_ascii_digit() || *c == b'+'));
        if !starts {
            i += 1;
            continue;
        }
        // Skip what the regex pass already claimed.
        while covered < structured_end && out[covered].end <= i {
            covered += 1;
        }
        if covered < structured_end && out[covered].start <= i {
            i = out[covered].end;
            continue;
        }
        let prev = prev_char(text, i);
        let run_end = collect_groups(bytes, i, &mut run);
        let groups = run.as_slice();
        // After a digit or '_' the run is the tail of a longer token; after "3." or "1," it
        // is a decimal or thousands group.
        let after_punct = matches!(prev, Some('.' | ','));
        let inside_token = prev.is_some_and(|c| c.is_ascii_digit() || c == '_')
            || (after_punct && prev_char(text, i - 1).is_some_and(|c| c.is_ascii_digit()));
        // A run glued to a letter or to a comma or period after a word ("Smith,4111…",
        // "card no.4111…", "cc4111…", "Tel.+44 …") may be a code or a list value, so only
        // self-evidencing kinds count there: a Luhn-valid card, a dashed SSN, a '+' phone.
        // A lower-case letter before a formatted number ("is415-555-0132") is a typo, not a
        // code, and is read as if it were a space.
        let glued_to_letter = prev.is_some_and(|c| c.is_alphabetic() && !c.is_lowercase()) || (prev.is_some_and(char::is_alphabetic) && groups.len() < 2);
        if !inside_token && !groups.is_empty() {
            let usable = trim_dirty_tail(text, groups);
            let context = if after_punct || glued_to_letter { RunContext::Glued } else { RunContext::Free };
            classify_run(text, &groups[..usable], context, out);
        }
        i = run_end.max(i + 1);
    }
}

/// Collects groups starting at `i`, returns the end of the run.
fn collect_groups(bytes: &[u8], mut i: usize, groups: &mut Groups) -> usize {
    groups.clear();
    let mut sep = 0u8;
    loop {
        let g_start = i;
        let paren = bytes.get(i) == Some(&b'(');
        if paren {
            i += 1;
        }
        let plus = bytes.get(i) == Some(&b'+');
        if plus {
            i += 1;
        }
        let d_start = i;
        while bytes.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        let d_end = i;
        if d_end == d_start || (plus && groups.len > 0) {
            return g_start;
        }
        if paren {
            if bytes.get(i) != Some(&b')') {
                return g_start;
            }
            i += 1;
        }
        if groups.push(Group { start: g_start, end: i, digits_start: d_start, digits_end: d_end, plus, paren, sep }) {
            return i;
        }
        match (bytes.get(i), bytes.get(i + 1)) {
            (Some(&s @ (b' ' | b'-' | b'.' | b'/')), Some(n)) if n.is_ascii_digit() || *n == b'(' => {
                sep = s;
                i += 1;
            }
            (Some(b'('), Some(n)) if n.is_ascii_digit() => sep = 0,
            (Some(n), _) if n.is_ascii_digit() => sep = 0,
            _ => return i,
        }
        if groups.as_slice().last().is_some_and(|g| !g.paren) && bytes.get(i) == Some(&b'(') && sep == 0 {
            return i;
        }
    }
}

/// Drops a last group glued to a letter ("555-0132x") and returns how many groups are usable.
fn trim_dirty_tail(text: &str, groups: &[Group]) -> usize {
    match groups.last() {
        Some(last) if is_word(next_char(text, last.end)) => groups.len() - 1,
        _ => groups.len(),
    }
}

fn classify_run(text: &str, groups: &[Group], context: RunContext, out: &mut Vec<Entity>) {
    let bytes = text.as_bytes();
    // A whole run shaped like a card ("4111 1111 1111 1112") that fails Luhn is a number,
    // not two phone numbers.
    let total: usize = groups.iter().map(|g| g.digits_end - g.digits_start).sum();
    let card_shaped = groups.len() >= 3
        && (13..=19).contains(&total)
        && groups.iter().all(|g| !g.plus && !g.paren && g.digits_end - g.digits_start >= 3)
        && groups[1..].iter().all(|g| g.sep == groups[1].sep && matches!(g.sep, b' ' | b'-'));
    if card_shaped {
        let digits: Vec<u8> = groups.iter().flat_map(|g| bytes[g.digits_start..g.digits_end].iter().copied()).collect();
        if !validate::card_valid(&digits) {
            return;
        }
    }
    let mut i = 0;
    while i < groups.len() {
        let mut best: Option<(usize, PiiKind)> = None;
        let mut digits = [0u8; 24];
        let mut n = 0;
        for j in i..groups.len() {
            let g = &groups[j];
            let len = g.digits_end - g.digits_start;
            if n + len > digits.len() {
                break;
            }
            digits[n..n + len].copy_from_slice(&bytes[g.digits_start..g.digits_end]);
            n += len;
            if n > 19 {
                break;
            }
            let kind = classify_window(text, &groups[i..=j], &digits[..n]);
            if let Some(kind) = kind.filter(|&k| context == RunContext::Free || self_evident(k, &groups[i..=j])) {
                best = Some((j, kind));
            }
        }
        match best {
            Some((j, kind)) => {
                out.push(Entity { kind, start: groups[i].start, end: groups[j].end });
                i = j + 1;
            }
            None => i += 1,
        }
    }
}

fn classify_window(text: &str, window: &[Group], digits: &[u8]) -> Option<PiiKind> {
    let n = digits.len();
    // On the stack: this runs for every window of every digit run.
    let (mut lens_buf, mut seps_buf) = ([0usize; MAX_GROUPS], [0u8; MAX_GROUPS]);
    for (k, g) in window.iter().enumerate() {
        lens_buf[k] = g.digits_end - g.digits_start;
        seps_buf[k] = g.sep;
    }
    let lens = &lens_buf[..window.len()];
    let seps = &seps_buf[1..window.len()];
    let plus = window[0].plus;
    let any_paren = window.iter().any(|g| g.paren);
    let uniform = |allowed: &[u8]| seps.windows(2).all(|w| w[0] == w[1]) && seps.iter().all(|s| allowed.contains(s));

    if n == 9 && !plus && !any_paren {
        let tax_shape = match lens {
            [9] => true,
            [3, 2, 4] => uniform(b"-. "),
            [3, 6] | [5, 4] => seps == [b'-'],
            _ => false,
        };
        if tax_shape {
            return match validate::us_tax_id(digits) {
                Some(TaxId::Ssn) => Some(PiiKind::UsSsn),
                Some(TaxId::Itin) => Some(PiiKind::UsItin),
                None => None,
            };
        }
    }
    // Typed digit by digit: "4 1 1 1 …".
    let one_by_one = lens.len() >= 7 && lens.iter().all(|&l| l == 1) && uniform(b" -.");
    let card_grouping = lens.len() == 1 || (uniform(b" -") && (lens.iter().all(|&l| l >= 3) || one_by_one));
    if (13..=19).contains(&n) && !plus && !any_paren && card_grouping && validate::card_valid(digits) {
        return Some(PiiKind::CreditCard);
    }
    if plus {
        let ok = (8..=15).contains(&n) && digits[0] != b'0' && seps.iter().all(|s| matches!(s, b' ' | b'-' | b'.' | 0));
        return ok.then_some(PiiKind::Phone);
    }
    if one_by_one {
        // Ten or eleven spaced digits are a phone number only where one is being given.
        let cue = (10..=11).contains(&n) && phone_cue_before(text, window[0].start);
        return cue.then_some(PiiKind::Phone);
    }
    if !(7..=12).contains(&n) || lens.iter().any(|&l| l < 2) {
        return None;
    }
    if lens.len() == 1 {
        let cn_mobile = n == 11 && digits[0] == b'1' && (b'3'..=b'9').contains(&digits[1]);
        let cue = (10..=11).contains(&n) && phone_cue_before(text, window[0].start);
        return (cn_mobile || cue).then_some(PiiKind::Phone);
    }
    if seps.contains(&b'/') && !(digits[0] == b'0' && n >= 9 && seps.len() == 1) {
        return None;
    }
    if looks_like_date_or_range(&lens, &seps, digits) {
        return None;
    }
    // "4111 1111 1111" is a card-shaped fragment (a card that failed Luhn), not a phone.
    if lens.len() >= 3 && lens.iter().all(|&l| l == 4) {
        return None;
    }
    // "1.234.567" is a number with thousands separators, not a phone.
    if seps.iter().all(|&s| s == b'.') && lens[0] <= 3 && lens[1..].iter().all(|&l| l == 3) {
        return None;
    }
    (lens.len() <= 4 || lens.iter().all(|&l| l == 2)).then_some(PiiKind::Phone)
}

/// Kinds that stand on their own wherever the run sits: a card (Luhn), an SSN or ITIN
/// written with dashes, a phone number written with '+'.
fn self_evident(kind: PiiKind, window: &[Group]) -> bool {
    match kind {
        PiiKind::CreditCard => true,
        PiiKind::UsSsn | PiiKind::UsItin => window.len() == 3 && window[1..].iter().all(|g| g.sep == b'-'),
        PiiKind::Phone => window[0].plus,
        _ => false,
    }
}

fn looks_like_date_or_range(lens: &[usize], seps: &[u8], digits: &[u8]) -> bool {
    let num = |r: std::ops::Range<usize>| digits[r].iter().fold(0u32, |a, &d| a * 10 + u32::from(d - b'0'));
    let year = |v: u32| (1900..=2100).contains(&v);
    match lens {
        [4, 2, 2] => year(num(0..4)) && (1..=12).contains(&num(4..6)),
        [2, 2, 4] => year(num(4..8)) && !seps.is_empty(),
        [4, 4] => year(num(0..4)) && year(num(4..8)),
        [4, 2] | [2, 4] => true,
        _ => false,
    }
}

fn phone_cue_before(text: &str, at: usize) -> bool {
    let mut from = at.saturating_sub(40);
    while !text.is_char_boundary(from) {
        from += 1;
    }
    let before = text[from..at].to_lowercase();
    PHONE_CUES.iter().any(|cue| before.contains(cue))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::{next_run_start, MAX_CANDIDATE_BYTES, PATTERNS};

    /// The bound the scan's linear time rests on: no pattern matches more than
    /// `MAX_CANDIDATE_BYTES`, so no search reads further than that past its candidate.
    #[test]
    fn every_pattern_has_a_bounded_match_length() {
        for (candidate, pattern) in PATTERNS {
            let hir = regex_automata::util::syntax::parse(pattern).expect("pattern parses");
            let max = hir.properties().maximum_len();
            assert!(max.is_some_and(|m| m <= MAX_CANDIDATE_BYTES), "{candidate:?}: longest match {max:?} bytes");
        }
    }

    fn naive(bytes: &[u8], from: usize) -> usize {
        (from..bytes.len()).find(|&i| bytes[i].is_ascii_digit() || matches!(bytes[i], b'+' | b'(')).unwrap_or(bytes.len())
    }

    #[test]
    fn run_start_finds_digits_plus_and_paren_only() {
        assert_eq!(next_run_start(b"no digits here, none at all", 0), 27);
        assert_eq!(next_run_start(b"call +44 now", 0), 5);
        assert_eq!(next_run_start(b"abcdefghij(12)", 0), 10);
        assert_eq!(next_run_start(b"abcdefghijklmnop9", 3), 16);
        // Neighbours of the range and high bytes never match.
        assert_eq!(next_run_start("/:*),'\u{b0}\u{e9}\u{b9}".as_bytes(), 0), "/:*),'\u{b0}\u{e9}\u{b9}".len());
    }

    proptest! {
        #[test]
        fn run_start_matches_a_byte_loop(bytes in proptest::collection::vec(any::<u8>(), 0..64), from in 0usize..64) {
            let from = from.min(bytes.len());
            prop_assert_eq!(next_run_start(&bytes, from), naive(&bytes, from));
        }

        #[test]
        fn run_start_matches_on_sparse_text(text in "[a-z ,.:/*)'\u{e9}]{0,40}[0-9+(]?[a-z ]{0,20}") {
            prop_assert_eq!(next_run_start(text.as_bytes(), 0), naive(text.as_bytes(), 0));
        }
    }
}
