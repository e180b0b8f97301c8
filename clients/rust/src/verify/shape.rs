//! The shape rules every Lanyard verifier (Java, Go, Rust) applies before it trusts a parser with a
//! token: three canonical base64url parts, and a header and payload that are UTF-8 JSON objects with
//! no member named twice at any depth, no string holding U+FFFD or a lone surrogate, and at most
//! [`MAX_DEPTH`] levels of nesting. JSON parsers disagree on exactly these (serde_json's `Value`
//! keeps the last duplicate), so a token relying on them is refused, not read one way here and
//! another way in Java or Go.

use super::{reject, Failure, Rejected};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::de::{DeserializeSeed, Deserializer, Error as _, MapAccess, SeqAccess, Visitor};
use std::collections::HashSet;
use std::fmt;

/// How deeply a header or payload may nest (the top-level object is level 1).
pub const MAX_DEPTH: usize = 32;

/// The three parts of a compact JWS, each canonical unpadded base64url, decoded.
pub fn parts(token: &str) -> Result<[Vec<u8>; 3], Rejected> {
    let split: Vec<&str> = token.split('.').collect();
    if split.len() != 3 {
        return Err(reject(Failure::Malformed, "not a compact JWS (three base64url parts separated by dots)"));
    }
    let mut out: [Vec<u8>; 3] = Default::default();
    for (i, name) in ["header", "payload", "signature"].iter().enumerate() {
        // The engine refuses padding and non-zero trailing bits; the alphabet check is explicit anyway.
        let canonical = split[i].bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        out[i] = URL_SAFE_NO_PAD
            .decode(split[i])
            .ok()
            .filter(|_| canonical)
            .ok_or_else(|| reject(Failure::Malformed, format!("the {name} is not canonical unpadded base64url")))?;
    }
    Ok(out)
}

/// Refuses a header or payload (`part`) that breaks the shape rules.
pub fn check_json(bytes: &[u8], part: &str) -> Result<(), Rejected> {
    if std::str::from_utf8(bytes).is_err() {
        return Err(reject(Failure::Malformed, format!("the {part} is not UTF-8")));
    }
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(reject(Failure::Malformed, format!("the {part} is not a JSON object")));
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    Walk { depth: 1 }
        .deserialize(&mut de)
        .and_then(|()| de.end())
        .map_err(|e| reject(Failure::Malformed, format!("the {part} {}", describe(&e))))
}

/// The refusal, without quoting what the token holds (serde_json's own messages may).
fn describe(e: &serde_json::Error) -> String {
    let text = e.to_string();
    for known in ["names member", "nests deeper", "holds a lone surrogate"] {
        if let Some(at) = text.find(known) {
            return text[at..].split(" at line").next().unwrap_or_default().to_owned();
        }
    }
    "is not JSON".into()
}

/// Visits every value, refusing duplicates, U+FFFD and depth beyond [`MAX_DEPTH`].
struct Walk {
    depth: usize,
}

impl<'de> DeserializeSeed<'de> for Walk {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<(), D::Error> {
        de.deserialize_any(self)
    }
}

impl Walk {
    /// Only containers count: an object or array at a depth beyond the limit is refused.
    fn enter<E: serde::de::Error>(&self) -> Result<Walk, E> {
        if self.depth > MAX_DEPTH {
            return Err(E::custom(format!("nests deeper than {MAX_DEPTH} levels")));
        }
        Ok(Walk { depth: self.depth + 1 })
    }
}

fn text<E: serde::de::Error>(s: &str) -> Result<(), E> {
    if s.contains('\u{FFFD}') {
        return Err(E::custom("holds a lone surrogate or U+FFFD (a character that stood for bad bytes)"));
    }
    Ok(())
}

impl<'de> Visitor<'de> for Walk {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("JSON")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let child = self.enter()?;
        let mut names = HashSet::new();
        while let Some(name) = map.next_key::<String>()? {
            text(&name)?;
            if !names.insert(name.clone()) {
                let shown: String = name.chars().take(64).collect();
                return Err(A::Error::custom(format!("names member {shown:?} twice")));
            }
            map.next_value_seed(Walk { depth: child.depth })?;
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let child = self.enter()?;
        while seq.next_element_seed(Walk { depth: child.depth })?.is_some() {}
        Ok(())
    }

    fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<(), E> {
        text(s)
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(json: &str) -> String {
        match check_json(json.as_bytes(), "payload") {
            Ok(()) => "accepted".into(),
            Err(e) => {
                assert_eq!(e.failure, Failure::Malformed);
                e.reason
            }
        }
    }

    #[test]
    fn plain_objects_pass() {
        assert_eq!(refusal(r#"{"a":[1,{"b":null}],"c":"\u00e9\ud83d\ude00"}"#), "accepted");
        assert_eq!(refusal(r#"{"c":[{"x":1},{"x":1}]}"#), "accepted");
    }

    #[test]
    fn a_member_named_twice_at_any_depth_is_refused() {
        assert_eq!(refusal(r#"{"a":1,"a":2}"#), r#"the payload names member "a" twice"#);
        assert_eq!(refusal(r#"{"c":{"x":1,"x":1}}"#), r#"the payload names member "x" twice"#);
    }

    #[test]
    fn what_parsers_would_read_differently_is_refused() {
        let replaced = "the payload holds a lone surrogate or U+FFFD (a character that stood for bad bytes)";
        // serde_json itself refuses a lone surrogate escape while parsing.
        assert_eq!(refusal(r#"{"a":"\ud800"}"#), "the payload is not JSON");
        assert_eq!(refusal("{\"a\":\"\u{FFFD}\"}"), replaced);
        assert_eq!(check_json(b"{\"a\":\"\xff\"}", "payload").unwrap_err().reason, "the payload is not UTF-8");
        assert_eq!(refusal(r#"{"a":1} x"#), "the payload is not JSON");
        assert_eq!(refusal("[1]"), "the payload is not a JSON object");
        assert_eq!(refusal("{'a':1}"), "the payload is not JSON");
    }

    #[test]
    fn nesting_is_bounded_and_only_containers_count() {
        let nest = |n: usize, inner: &str| format!(r#"{{"a":{}{inner}{}}}"#, "[".repeat(n), "]".repeat(n));
        assert_eq!(refusal(&nest(31, "1")), "accepted");
        assert_eq!(refusal(&nest(32, "")), "the payload nests deeper than 32 levels");
        assert_eq!(refusal(&nest(100_000, "")), "the payload nests deeper than 32 levels");
    }

    #[test]
    fn parts_are_canonical_unpadded_base64url() {
        assert!(parts("e30.e30.AAAA").is_ok());
        for (token, want) in [
            ("e30.e30.AA==", "the signature is not canonical unpadded base64url"),
            ("e30.e30.AB", "the signature is not canonical unpadded base64url"),
            ("e30.e3+.AA", "the payload is not canonical unpadded base64url"),
            ("e30.e30.A", "the signature is not canonical unpadded base64url"),
            ("e30\n.e30.AAAA", "the header is not canonical unpadded base64url"),
            ("e30.e30", "not a compact JWS (three base64url parts separated by dots)"),
        ] {
            assert_eq!(parts(token).unwrap_err().reason, want, "{token:?}");
        }
    }
}
