//! Parsing one input line into a [`Record`], or a [`Reject`] saying why not.
//!
//! Strings are borrowed from the input line when they contain no escapes, so the common case
//! allocates only the message vector. Unknown top-level fields are kept (as raw JSON) for the
//! `metadata` column, never an error.

use std::borrow::Cow;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

/// Why a record was quarantined: a stable code for grouping plus a human-readable detail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject {
    /// Stable machine-readable code (`malformed_json`, `missing_field`, …).
    pub code: &'static str,
    /// What exactly was wrong.
    pub detail: String,
}

impl Reject {
    pub(crate) fn new(code: &'static str, detail: impl Into<String>) -> Self {
        Reject { code, detail: detail.into() }
    }
}

/// A string borrowed from the input when possible.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Str<'a>(pub Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Str<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Str<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Str(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Str(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Str(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V(std::marker::PhantomData))
    }
}

/// Role of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The person using the assistant.
    User,
    /// The assistant.
    Assistant,
    /// A system prompt.
    System,
}

impl Role {
    /// Lower-case name stored in the `role` column.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::System => "system",
        }
    }
}

/// One message of a conversation.
#[derive(Debug, Clone)]
pub(crate) struct Message<'a> {
    pub role: Role,
    pub content: Cow<'a, str>,
}

/// A parsed, validated conversation record (identifiers still raw: pseudonymized later).
#[derive(Debug)]
pub(crate) struct Record<'a> {
    pub conversation_id: Cow<'a, str>,
    pub account_id: Cow<'a, str>,
    pub created_at: DateTime<Utc>,
    pub messages: Vec<Message<'a>>,
    pub org_id: Option<Cow<'a, str>>,
    pub client: Option<Cow<'a, str>>,
    pub ip: Option<Cow<'a, str>>,
    pub user_agent: Option<Cow<'a, str>>,
    /// `metadata` object plus unknown top-level fields, as raw JSON pairs.
    pub extra: Vec<Extra<'a>>,
}

/// A top-level field outside the schema, or `metadata`, with its raw JSON value.
pub(crate) type Extra<'a> = (Cow<'a, str>, &'a RawValue);

/// Limits applied while parsing.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub max_message_bytes: usize,
    pub max_messages: usize,
}

const MAX_ID_CHARS: usize = 256;

/// Fields as they come off the wire, before validation.
#[derive(Default)]
struct Wire<'a> {
    conversation_id: Option<Str<'a>>,
    account_id: Option<Str<'a>>,
    created_at: Option<Str<'a>>,
    messages: Option<Vec<WireMessage<'a>>>,
    org_id: Option<Str<'a>>,
    client: Option<Str<'a>>,
    ip: Option<Str<'a>>,
    user_agent: Option<Str<'a>>,
    metadata: Option<&'a RawValue>,
    extra: Vec<Extra<'a>>,
}

struct WireMessage<'a> {
    role: Str<'a>,
    content: Cow<'a, str>,
}

/// Message content: a string, or a list of parts whose `text` fields are joined.
struct Content<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Content<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Content<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or a list of {\"type\": \"text\", \"text\": …} parts")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Content(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Content(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Content(Cow::Owned(v)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                #[derive(Deserialize)]
                struct Part<'a> {
                    #[serde(borrow)]
                    text: Option<Str<'a>>,
                }
                let mut joined = String::new();
                while let Some(part) = seq.next_element::<Part<'de>>()? {
                    if let Some(text) = part.text {
                        if !joined.is_empty() {
                            joined.push('\n');
                        }
                        joined.push_str(&text.0);
                    }
                }
                Ok(Content(Cow::Owned(joined)))
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for WireMessage<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = WireMessage<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a message object with `role` and `content`")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let (mut role, mut content) = (None, None);
                while let Some(key) = map.next_key::<Str<'de>>()? {
                    match key.0.as_ref() {
                        "role" => role = Some(map.next_value::<Str<'de>>().map_err(|e| de::Error::custom(format!("`role`: {e}")))?),
                        "content" => {
                            content = map
                                .next_value::<Option<Content<'de>>>()
                                .map_err(|e| de::Error::custom(format!("`content`: {e}")))?
                                .map(|c| c.0)
                        }
                        _ => {
                            map.next_value::<de::IgnoredAny>()?;
                        }
                    }
                }
                let role = role.ok_or_else(|| de::Error::custom("message without `role`"))?;
                let content = content.ok_or_else(|| de::Error::custom("message without `content`"))?;
                Ok(WireMessage { role, content })
            }
        }
        d.deserialize_map(V)
    }
}

impl<'de> Deserialize<'de> for Wire<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Wire<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a conversation object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut w = Wire::default();
                while let Some(key) = map.next_key::<Str<'de>>()? {
                    let key = key.0;
                    let field = |e: A::Error| de::Error::custom(format!("field `{key}`: {e}"));
                    match key.as_ref() {
                        "conversation_id" => w.conversation_id = map.next_value().map_err(field)?,
                        "account_id" => w.account_id = map.next_value().map_err(field)?,
                        "created_at" => w.created_at = map.next_value().map_err(field)?,
                        "messages" => w.messages = map.next_value().map_err(field)?,
                        "org_id" => w.org_id = map.next_value().map_err(field)?,
                        "client" => w.client = map.next_value().map_err(field)?,
                        "ip" => w.ip = map.next_value().map_err(field)?,
                        "user_agent" => w.user_agent = map.next_value().map_err(field)?,
                        "metadata" => {
                            let raw: &'de RawValue = map.next_value().map_err(field)?;
                            let text = raw.get();
                            if text != "null" {
                                if !text.starts_with('{') {
                                    return Err(de::Error::custom("field `metadata`: expected an object"));
                                }
                                w.metadata = Some(raw);
                            }
                        }
                        _ => {
                            let raw: &'de RawValue = map.next_value().map_err(field)?;
                            w.extra.push((key, raw));
                        }
                    }
                }
                Ok(w)
            }
        }
        d.deserialize_map(V)
    }
}

/// Classifies a parse failure. Errors raised inside our visitors lose serde's category (they
/// are "custom"), so on that rare path the line is re-checked for well-formedness.
fn json_reject(line: &str, e: &serde_json::Error) -> Reject {
    let malformed = e.is_syntax() || e.is_eof() || serde_json::from_str::<de::IgnoredAny>(line).is_err();
    Reject::new(if malformed { "malformed_json" } else { "wrong_type" }, error_without_values(e))
}

/// Names serde's messages may quote that are ours, not the input's: the contract's fields and
/// JSON punctuation. Anything else quoted is a value (or a key) from the input.
const QUOTABLE: &[&str] = &[
    "conversation_id", "account_id", "created_at", "messages", "org_id", "client", "ip", "user_agent", "metadata",
    "role", "content", "text", "chosen", ",", ":", "}", "]", "\"",
];

/// serde's error text with every quoted input value taken out (`invalid type: integer
/// `987654321012`, expected a string` → `invalid type: integer …, expected a string`), so a
/// quarantine reason never repeats an identifier the row's other columns pseudonymize.
pub(crate) fn error_without_values(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    while let Some(open) = rest.find(['`', '"']) {
        out.push_str(&rest[..open]);
        let quote = rest.as_bytes()[open];
        let body = &rest[open + 1..];
        // serde writes strings with Rust's escapes: a quote inside is preceded by a backslash.
        let mut close = None;
        let mut escaped = false;
        for (i, b) in body.bytes().enumerate() {
            if escaped {
                escaped = false;
            } else if b == b'\\' && quote == b'"' {
                escaped = true;
            } else if b == quote {
                close = Some(i);
                break;
            }
        }
        let Some(close) = close else {
            out.push('…');
            return out;
        };
        let quoted = &body[..close];
        if quote == b'`' && QUOTABLE.contains(&quoted) {
            out.push('`');
            out.push_str(quoted);
            out.push('`');
        } else {
            out.push('…');
        }
        rest = &body[close + 1..];
    }
    out.push_str(rest);
    out
}

fn bounded_id<'a>(name: &str, value: Option<Str<'a>>, required: bool) -> Result<Option<Cow<'a, str>>, Reject> {
    match value {
        None if required => Err(Reject::new("missing_field", format!("missing required field `{name}`"))),
        None => Ok(None),
        Some(Str(v)) => {
            let trimmed = v.trim();
            if trimmed.is_empty() {
                if required {
                    return Err(Reject::new("missing_field", format!("required field `{name}` is empty")));
                }
                return Ok(None);
            }
            // Bytes bound characters from above: count characters only when it could matter.
            if trimmed.len() > MAX_ID_CHARS && trimmed.chars().count() > MAX_ID_CHARS {
                return Err(Reject::new("bad_value", format!("field `{name}` is longer than {MAX_ID_CHARS} characters")));
            }
            Ok(Some(match v {
                Cow::Borrowed(b) => Cow::Borrowed(b.trim()),
                Cow::Owned(o) => Cow::Owned(o.trim().to_owned()),
            }))
        }
    }
}

/// Parses an RFC 3339 timestamp (a space for `T` and a missing offset meaning UTC are
/// accepted too) within 1970–2100.
pub(crate) fn parse_timestamp(text: &str) -> Result<DateTime<Utc>, Reject> {
    let text = text.trim();
    let parsed = DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .or_else(|_| chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f").map(|n| n.and_utc()))
        .or_else(|_| chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f").map(|n| n.and_utc()))
        .map_err(|_| Reject::new("bad_timestamp", "`created_at` is not an RFC 3339 timestamp (2026-11-20T13:45:12Z)"))?;
    let year = chrono::Datelike::year(&parsed);
    if !(1970..=2100).contains(&year) {
        return Err(Reject::new("bad_timestamp", format!("`created_at` year {year} is outside 1970–2100")));
    }
    Ok(parsed)
}

fn parse_role(role: &str) -> Result<Role, Reject> {
    match role {
        "user" | "User" | "USER" => Ok(Role::User),
        "assistant" | "Assistant" | "ASSISTANT" => Ok(Role::Assistant),
        "system" | "System" | "SYSTEM" => Ok(Role::System),
        _ => Err(Reject::new("bad_value", "unknown message role (expected user, assistant or system)")),
    }
}

/// Parses one native-format line.
pub(crate) fn parse_native<'a>(line: &'a str, limits: Limits) -> Result<Record<'a>, Reject> {
    let wire: Wire<'a> = serde_json::from_str(line).map_err(|e| json_reject(line, &e))?;
    let conversation_id = bounded_id("conversation_id", wire.conversation_id, true)?.expect("required");
    let account_id = bounded_id("account_id", wire.account_id, true)?.expect("required");
    let created_at = match wire.created_at {
        Some(t) => parse_timestamp(&t.0)?,
        None => return Err(Reject::new("missing_field", "missing required field `created_at`")),
    };
    let wire_messages = wire.messages.ok_or_else(|| Reject::new("missing_field", "missing required field `messages`"))?;
    if wire_messages.is_empty() {
        return Err(Reject::new("missing_field", "`messages` is empty"));
    }
    if wire_messages.len() > limits.max_messages {
        return Err(Reject::new("oversized", format!("{} messages (limit {})", wire_messages.len(), limits.max_messages)));
    }
    let mut messages = Vec::with_capacity(wire_messages.len());
    for (i, m) in wire_messages.into_iter().enumerate() {
        let role = parse_role(&m.role.0)?;
        if m.content.len() > limits.max_message_bytes {
            return Err(Reject::new(
                "oversized",
                format!("message {i} has {} bytes (limit {})", m.content.len(), limits.max_message_bytes),
            ));
        }
        messages.push(Message { role, content: m.content });
    }
    let ip = bounded_id("ip", wire.ip, false)?;
    if let Some(ip) = &ip
        && ip.parse::<std::net::IpAddr>().is_err() {
            return Err(Reject::new("bad_value", "field `ip` is not an IP address"));
        }
    let mut extra = wire.extra;
    if let Some(metadata) = wire.metadata {
        extra.insert(0, (Cow::Borrowed("metadata"), metadata));
    }
    Ok(Record {
        conversation_id,
        account_id,
        created_at,
        messages,
        org_id: bounded_id("org_id", wire.org_id, false)?,
        client: bounded_id("client", wire.client, false)?,
        ip,
        user_agent: wire.user_agent.map(|s| s.0).filter(|s| !s.trim().is_empty()),
        extra,
    })
}

/// Options for HH-RLHF transcripts, which carry neither account nor time.
#[derive(Debug, Clone)]
pub(crate) struct HhOptions {
    pub account: Option<String>,
    pub at: DateTime<Utc>,
}

/// Parses one HH-RLHF line (`{"chosen": "\n\nHuman: …\n\nAssistant: …", "rejected": …}`):
/// the `chosen` transcript becomes the conversation, its id a digest of that text.
pub(crate) fn parse_hh<'a>(line: &'a str, options: &HhOptions, limits: Limits) -> Result<Record<'a>, Reject> {
    #[derive(Deserialize)]
    struct Hh<'a> {
        #[serde(borrow)]
        chosen: Option<Str<'a>>,
    }
    let hh: Hh<'a> = serde_json::from_str(line).map_err(|e| json_reject(line, &e))?;
    let chosen = hh.chosen.ok_or_else(|| Reject::new("missing_field", "missing field `chosen`"))?.0;
    let digest = blake3::hash(chosen.as_bytes());
    let conversation_id = format!("hh_{}", &digest.to_hex()[..32]);
    let messages = split_transcript(chosen)?;
    if messages.len() > limits.max_messages {
        return Err(Reject::new("oversized", format!("{} messages (limit {})", messages.len(), limits.max_messages)));
    }
    if let Some((i, m)) = messages.iter().enumerate().find(|(_, m)| m.content.len() > limits.max_message_bytes) {
        return Err(Reject::new("oversized", format!("message {i} has {} bytes (limit {})", m.content.len(), limits.max_message_bytes)));
    }
    let account_id = options.account.clone().unwrap_or_else(|| conversation_id.clone());
    Ok(Record {
        conversation_id: Cow::Owned(conversation_id),
        account_id: Cow::Owned(account_id),
        created_at: options.at,
        messages,
        org_id: None,
        client: None,
        ip: None,
        user_agent: None,
        extra: Vec::new(),
    })
}

const HUMAN: &str = "\n\nHuman:";
const ASSISTANT: &str = "\n\nAssistant:";

fn split_transcript(text: Cow<'_, str>) -> Result<Vec<Message<'_>>, Reject> {
    // Markers at the very start may lack the leading blank line.
    let normalised: Cow<'_, str> = if text.starts_with("Human:") || text.starts_with("Assistant:") {
        Cow::Owned(format!("\n\n{text}"))
    } else {
        text
    };
    let mut marks: Vec<(usize, Role, usize)> = Vec::new();
    for (marker, role) in [(HUMAN, Role::User), (ASSISTANT, Role::Assistant)] {
        marks.extend(normalised.match_indices(marker).map(|(i, _)| (i, role, marker.len())));
    }
    marks.sort_unstable_by_key(|m| m.0);
    if marks.is_empty() {
        return Err(Reject::new("bad_value", "transcript has no `Human:` or `Assistant:` turns"));
    }
    let text_of = |from: usize, to: usize| normalised[from..to].trim().to_owned();
    let mut messages = Vec::with_capacity(marks.len());
    for (k, &(at, role, len)) in marks.iter().enumerate() {
        let end = marks.get(k + 1).map_or(normalised.len(), |m| m.0);
        messages.push(Message { role, content: Cow::Owned(text_of(at + len, end)) });
    }
    Ok(messages)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits { max_message_bytes: 1 << 20, max_messages: 1000 };

    #[test]
    fn parses_a_native_record_and_keeps_unknown_fields() {
        let line = r#"{"conversation_id":"c1","account_id":"a1","created_at":"2026-11-20T13:45:12Z","messages":[{"role":"user","content":"hi"},{"role":"assistant","content":[{"type":"text","text":"hello"}]}],"ip":"203.0.113.7","shoe_size":42,"metadata":{"k":"v"}}"#;
        let r = parse_native(line, LIMITS).unwrap();
        assert_eq!(r.conversation_id, "c1");
        assert_eq!(r.messages.len(), 2);
        assert_eq!(r.messages[1].content, "hello");
        assert!(matches!(r.conversation_id, Cow::Borrowed(_)));
        let keys: Vec<&str> = r.extra.iter().map(|(k, _)| k.as_ref()).collect();
        assert_eq!(keys, ["metadata", "shoe_size"]);
    }

    #[test]
    fn rejects_with_reasons() {
        let cases = [
            ("{not json", "malformed_json"),
            (r#"{"conversation_id":"c","account_id":"a","messages":[{"role":"us"#, "malformed_json"),
            (r#"{"account_id":"a","created_at":"2026-11-20T00:00:00Z","messages":[{"role":"user","content":"x"}]}"#, "missing_field"),
            (r#"{"conversation_id":5,"account_id":"a","created_at":"2026-11-20T00:00:00Z","messages":[]}"#, "wrong_type"),
            (r#"{"conversation_id":"c","account_id":"a","created_at":"yesterday","messages":[{"role":"user","content":"x"}]}"#, "bad_timestamp"),
            (r#"{"conversation_id":"c","account_id":"a","created_at":"2026-11-20T00:00:00Z","messages":[{"role":"robot","content":"x"}]}"#, "bad_value"),
            (r#"{"conversation_id":"c","account_id":"a","created_at":"2026-11-20T00:00:00Z","messages":[{"role":"user","content":"x"}],"ip":"999.1.1.1"}"#, "bad_value"),
            (r#"{"conversation_id":"c","account_id":"a","created_at":"2026-11-20T00:00:00Z","messages":[]}"#, "missing_field"),
            (r#"[1,2]"#, "wrong_type"),
        ];
        for (line, code) in cases {
            let err = parse_native(line, LIMITS).err().unwrap_or_else(|| panic!("accepted {line}"));
            assert_eq!(err.code, code, "{line}: {}", err.detail);
        }
    }

    /// Reasons say what was wrong, never with what: a value in the reason would undo the
    /// pseudonymization of the row's raw text.
    #[test]
    fn reasons_never_quote_values() {
        let base = r#""conversation_id":"c","created_at":"2026-11-20T00:00:00Z","messages":[{"role":"user","content":"x"}]"#;
        for (extra, secret) in [
            (r#""account_id":987654321012"#, "987654321012"),
            (r#""account_id":["carol.private.handle"]"#, "carol"),
            (r#""account_id":"a","user_agent":{"ua":"carol-laptop"}"#, "carol"),
            (r#""account_id":"a","ip":"carol.example""#, "carol"),
            (r#""account_id":"a","org_id":1.5e3"#, "1.5e3"),
            (r#""account_id":"a","carol@example.com":"#, "carol"),
        ] {
            let line = format!("{{{base},{extra}}}");
            let err = parse_native(&line, LIMITS).err().unwrap_or_else(|| panic!("accepted {line}"));
            assert!(!err.detail.contains(secret), "{line}: {}", err.detail);
            assert!(!err.detail.is_empty());
        }
        let line = format!(r#"{{{base},"account_id":"a","messages":[{{"role":"carol","content":"x"}}]}}"#);
        assert!(!parse_native(&line, LIMITS).unwrap_err().detail.contains("carol"));
        // Field names of the contract stay, so the reason still says where.
        let err = parse_native(&format!("{{{base},\"account_id\":5}}"), LIMITS).unwrap_err();
        assert!(err.detail.contains("`account_id`"), "{}", err.detail);
    }

    #[test]
    fn timestamps() {
        assert!(parse_timestamp("2026-11-20T13:45:12+02:00").is_ok());
        assert!(parse_timestamp("2026-11-20 13:45:12").is_ok());
        assert_eq!(parse_timestamp("1800-01-01T00:00:00Z").unwrap_err().code, "bad_timestamp");
    }

    #[test]
    fn hh_transcripts_split_into_turns() {
        let line = r#"{"chosen":"\n\nHuman: what is 2+2?\n\nAssistant: 4\n\nHuman: thanks","rejected":"x"}"#;
        let opts = HhOptions { account: None, at: Utc::now() };
        let r = parse_hh(line, &opts, LIMITS).unwrap();
        assert_eq!(r.messages.len(), 3);
        assert_eq!(r.messages[0].role, Role::User);
        assert_eq!(r.messages[1].content, "4");
        assert!(r.conversation_id.starts_with("hh_"));
        assert_eq!(r.account_id, r.conversation_id);
        let again = parse_hh(line, &opts, LIMITS).unwrap();
        assert_eq!(again.conversation_id, r.conversation_id);
    }
}
