//! Identifiers outside the columns built for them: in quarantined raw lines (valid JSON or
//! not) and in the `metadata` column. An identifier is pseudonymized (or dropped) whatever its
//! JSON type and however its key is escaped; a key matches after JSON unescaping, and metadata
//! keys also after case and punctuation are ignored (`userId`, `user-id`, `USER_ID`).

use std::borrow::Cow;

use serde_json::Value;

use crate::pseudonym::{IdKind, PseudonymKey};

/// Metadata keys that hold identifiers unless configured otherwise. Matched ignoring case and
/// every character but letters and digits, so `user_id` also covers `userId` and `User-ID`.
pub const DEFAULT_IDENTIFIER_KEYS: &[&str] = &[
    "user_id", "uid", "user", "username", "user_name", "login", "handle", "screen_name", "nickname",
    "account", "account_name", "customer_id", "customer_name", "customer_email", "client_id_user",
    "email", "e_mail", "mail", "phone", "phone_number", "mobile", "msisdn", "telephone",
    "name", "full_name", "first_name", "last_name", "display_name",
    "device_id", "session_id", "imei", "idfa", "gaid", "advertising_id", "android_id", "mac_address",
    "ip_address", "client_ip", "remote_addr", "remote_ip", "x_forwarded_for", "address", "street",
];

/// What happens to a metadata value under an identifier key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IdentifierAction {
    /// Replaced by its keyed pseudonym (`id_…`): still joinable, no longer readable.
    #[default]
    Pseudonymize,
    /// Removed with its key.
    Drop,
}

/// Which keys hold identifiers and what to do with them.
#[derive(Debug, Clone)]
pub struct IdentifierPolicy {
    /// Normalised metadata key names ([`normalise_key`]).
    keys: Vec<String>,
    action: IdentifierAction,
}

impl Default for IdentifierPolicy {
    fn default() -> Self {
        IdentifierPolicy::new(DEFAULT_IDENTIFIER_KEYS.iter().copied(), IdentifierAction::default())
    }
}

/// A key name reduced to lower-case letters and digits.
fn normalise_key(name: &str) -> String {
    name.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect()
}

/// The contract's identifier fields, matched exactly (after unescaping).
fn schema_kind(name: &str) -> Option<IdKind> {
    match name {
        "account_id" => Some(IdKind::Account),
        "org_id" => Some(IdKind::Org),
        "ip" => Some(IdKind::NetPrefix),
        "user_agent" => Some(IdKind::UserAgent),
        _ => None,
    }
}

impl IdentifierPolicy {
    /// A policy for these metadata keys (names that normalise to nothing are ignored).
    pub fn new<S: AsRef<str>>(keys: impl IntoIterator<Item = S>, action: IdentifierAction) -> Self {
        let mut keys: Vec<String> = keys.into_iter().map(|k| normalise_key(k.as_ref())).filter(|k| !k.is_empty()).collect();
        keys.sort_unstable();
        keys.dedup();
        IdentifierPolicy { keys, action }
    }

    /// What an identifier under this key is, if it is one: a contract field, or a configured
    /// metadata key.
    fn kind_of(&self, name: &str) -> Option<IdKind> {
        schema_kind(name).or_else(|| self.keys.binary_search(&normalise_key(name)).is_ok().then_some(IdKind::Metadata))
    }

    /// The pseudonym text for a value of any JSON type: a string's text, else its JSON text.
    fn pseudonym(key: &PseudonymKey, kind: IdKind, value: &str) -> String {
        if kind == IdKind::NetPrefix {
            let mut out = String::new();
            return match key.net_prefix_pseudonym_into(value, &mut out) {
                Some(()) => out,
                None => "[IP_ADDRESS]".to_owned(),
            };
        }
        key.pseudonym(kind, value)
    }

    /// Replaces (or drops) identifier values anywhere in a parsed metadata object. The
    /// contract's own identifier names count too: a client that nests `account_id` in its
    /// metadata is not handing over a raw account.
    pub(crate) fn scrub_value(&self, key: &PseudonymKey, value: &mut Value) {
        match value {
            Value::Object(map) => {
                let found: Vec<(String, IdKind)> =
                    map.keys().filter_map(|k| self.kind_of(k).map(|kind| (k.clone(), kind))).collect();
                for (name, kind) in found {
                    if self.action == IdentifierAction::Drop && kind == IdKind::Metadata {
                        map.remove(&name);
                        continue;
                    }
                    if let Some(v) = map.get_mut(&name) {
                        let text = match &mut *v {
                            Value::String(s) => std::mem::take(s),
                            other => other.to_string(),
                        };
                        *v = Value::String(Self::pseudonym(key, kind, &text));
                    }
                }
                map.values_mut().for_each(|v| self.scrub_value(key, v));
            }
            Value::Array(items) => items.iter_mut().for_each(|v| self.scrub_value(key, v)),
            Value::String(_) | Value::Number(_) | Value::Bool(_) | Value::Null => {}
        }
    }

    /// Replaces identifier values in raw JSON text that may be malformed or cut off (a
    /// quarantined line): every `"key": value` whose unescaped key is an identifier gets its
    /// value, of whatever type, replaced by the pseudonym; a value cut off by the end of the
    /// text becomes `"[CUT]"`. One pass, each byte read a bounded number of times.
    pub(crate) fn scrub_raw<'t>(&self, key: &PseudonymKey, text: &'t str) -> Cow<'t, str> {
        let bytes = text.as_bytes();
        let mut out = String::new();
        let mut copied = 0;
        let mut i = 0;
        while let Some(q) = memchr::memchr(b'"', &bytes[i..]) {
            let start = i + q;
            let (end, closed) = string_end(bytes, start);
            i = end;
            if !closed {
                break;
            }
            let colon = skip_space(bytes, end);
            if bytes.get(colon) != Some(&b':') {
                continue;
            }
            let name = unescape(&text[start + 1..end - 1]);
            let Some(kind) = self.kind_of(&name) else { continue };
            let value_start = skip_space(bytes, colon + 1);
            let (value_end, complete) = value_end(bytes, value_start);
            let value = &text[value_start..value_end];
            let replacement = if !complete {
                "[CUT]".to_owned()
            } else if self.action == IdentifierAction::Drop && kind == IdKind::Metadata {
                "[DROPPED]".to_owned()
            } else if value.starts_with('"') {
                Self::pseudonym(key, kind, &unescape(&value[1..value.len() - 1]))
            } else {
                Self::pseudonym(key, kind, value)
            };
            out.push_str(&text[copied..start]);
            // The key is written out unescaped, so the row shows which identifier it was.
            out.push_str(&serde_json::to_string(name.as_ref()).unwrap_or_default());
            out.push(':');
            out.push('"');
            out.push_str(&replacement);
            out.push('"');
            copied = value_end;
            i = value_end;
            if !complete {
                break;
            }
        }
        if copied == 0 && out.is_empty() {
            return Cow::Borrowed(text);
        }
        out.push_str(&text[copied..]);
        Cow::Owned(out)
    }
}

fn skip_space(bytes: &[u8], mut i: usize) -> usize {
    while bytes.get(i).is_some_and(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n')) {
        i += 1;
    }
    i
}

/// The end (one past the closing quote) of the JSON string opening at `start`, and whether it
/// was closed before the text ended.
fn string_end(bytes: &[u8], start: usize) -> (usize, bool) {
    let mut i = start + 1;
    while let Some(off) = memchr::memchr2(b'"', b'\\', &bytes[i.min(bytes.len())..]) {
        let at = i + off;
        if bytes[at] == b'\\' {
            i = at + 2;
            if i > bytes.len() {
                return (bytes.len(), false);
            }
        } else {
            return (at + 1, true);
        }
    }
    (bytes.len(), false)
}

/// The end of the JSON value starting at `start` and whether it is complete: a string, an
/// array or object (brackets counted, strings skipped, no recursion), or a bare token.
fn value_end(bytes: &[u8], start: usize) -> (usize, bool) {
    match bytes.get(start) {
        None => (start, false),
        Some(b'"') => string_end(bytes, start),
        Some(b'{' | b'[') => {
            let mut depth = 0usize;
            let mut i = start;
            while i < bytes.len() {
                match bytes[i] {
                    b'"' => {
                        let (end, closed) = string_end(bytes, i);
                        if !closed {
                            return (bytes.len(), false);
                        }
                        i = end;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return (i + 1, true);
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
            (bytes.len(), false)
        }
        Some(_) => {
            let len = bytes[start..].iter().take_while(|b| !matches!(b, b',' | b'}' | b']' | b' ' | b'\t' | b'\r' | b'\n')).count();
            let end = start + len;
            (end, end < bytes.len())
        }
    }
}

/// The text of a JSON string body with its escapes resolved; a malformed escape is kept as
/// written.
fn unescape(body: &str) -> Cow<'_, str> {
    if !body.contains('\\') {
        return Cow::Borrowed(body);
    }
    match serde_json::from_str::<String>(&format!("\"{body}\"")) {
        Ok(s) => Cow::Owned(s),
        Err(_) => Cow::Borrowed(body),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn key() -> PseudonymKey {
        PseudonymKey::from_hex(&"ab".repeat(32)).unwrap()
    }

    #[test]
    fn raw_identifiers_go_whatever_their_type_or_escaping() {
        let policy = IdentifierPolicy::default();
        let raw = concat!(
            r#"{"conversation_id":"c","account_id":987654321012,"org_id":["carol.private.handle"],"#,
            r#""user_agent":{"raw":"Mozilla/5.0 carol-laptop"},"account\u005fid":"dave","ip":"203.0.113.9","#,
            r#""metadata":{"userId":"erin.handle","device_id":55512345,"login":{"name":"frank"}},"messages":[]}"#,
        );
        let out = policy.scrub_raw(&key(), raw);
        for secret in ["987654321012", "carol", "Mozilla", "dave", "203.0.113", "erin", "55512345", "frank"] {
            assert!(!out.contains(secret), "{secret} left in {out}");
        }
        assert!(out.contains(&key().pseudonym(IdKind::Account, "987654321012")), "{out}");
        assert!(out.contains(&key().pseudonym(IdKind::Account, "dave")), "{out}");
        assert!(out.contains(r#""conversation_id":"c""#), "{out}");
        // What is left still parses, with the keys named plainly.
        let parsed: Value = serde_json::from_str(&out).expect("still JSON");
        assert!(parsed["metadata"]["userId"].as_str().unwrap().starts_with("id_"));
    }

    #[test]
    fn cut_off_identifiers_are_marked_cut() {
        let policy = IdentifierPolicy::default();
        for raw in [r#"{"account_id":"alice@corp"#, r#"{"account_id":["alice","#, r#"{"account_id":12345"#, r#"{"org_id":"#] {
            let out = policy.scrub_raw(&key(), raw);
            assert!(!out.contains("alice") && !out.contains("12345"), "{out}");
            assert!(out.ends_with(r#":"[CUT]""#), "{raw} -> {out}");
        }
        // Text with no identifier is not copied.
        assert!(matches!(policy.scrub_raw(&key(), r#"{"a":"b"}"#), Cow::Borrowed(_)));
    }

    #[test]
    fn metadata_identifiers_pseudonymized_or_dropped() {
        let mut value: Value = serde_json::from_str(
            r#"{"User-ID":"u1","plan":"pro","nested":{"customer_name":"Ann Lee","sessionId":7},"list":[{"email":"a@b.co"}]}"#,
        )
        .unwrap();
        let mut dropped = value.clone();
        IdentifierPolicy::default().scrub_value(&key(), &mut value);
        assert_eq!(value["User-ID"], Value::String(key().pseudonym(IdKind::Metadata, "u1")));
        assert_eq!(value["nested"]["sessionId"], Value::String(key().pseudonym(IdKind::Metadata, "7")));
        assert_eq!(value["plan"], "pro");
        assert!(value["list"][0]["email"].as_str().unwrap().starts_with("id_"));

        IdentifierPolicy::new(["user_id", "customer_name", "email"], IdentifierAction::Drop).scrub_value(&key(), &mut dropped);
        assert_eq!(dropped, serde_json::json!({"list": [{}], "nested": {"sessionId": 7}, "plan": "pro"}));
    }

    proptest! {
        /// Any text, however broken: no panic, and text without quotes is returned as it was.
        #[test]
        fn scrubbing_never_panics(text in r#"[{}\[\]":,\\ a-z0-9_]{0,80}"#) {
            let policy = IdentifierPolicy::default();
            let out = policy.scrub_raw(&key(), &text);
            if !text.contains('"') {
                prop_assert_eq!(out.as_ref(), text.as_str());
            }
        }
    }
}
