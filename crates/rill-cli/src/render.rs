//! Replies as text: redis-cli's layout for people, JSON for programs.

use std::fmt::Write;

use rill_client::proto::value::Kind;
use rill_client::proto::Value;

/// redis-cli's layout: `"bulk"`, `(integer) 1`, `(nil)`, numbered nested lists, maps as
/// `key => value`.
pub fn human(value: &Value) -> String {
    let mut out = String::new();
    write_human(&mut out, value, 0);
    out
}

fn write_human(out: &mut String, value: &Value, indent: usize) {
    match &value.kind {
        None => out.push_str("(nil)"),
        Some(Kind::Status(text)) => out.push_str(text),
        Some(Kind::Error(text)) => {
            let _ = write!(out, "(error) {text}");
        }
        Some(Kind::Integer(n)) => {
            let _ = write!(out, "(integer) {n}");
        }
        Some(Kind::Bulk(bytes)) => quote(out, bytes),
        Some(Kind::Null(_)) => out.push_str("(nil)"),
        Some(Kind::Array(list)) if list.values.is_empty() => out.push_str("(empty array)"),
        Some(Kind::Array(list)) => {
            let width = list.values.len().to_string().len();
            for (i, item) in list.values.iter().enumerate() {
                if i > 0 {
                    out.push('\n');
                    out.push_str(&" ".repeat(indent));
                }
                let label = format!("{:>width$}) ", i + 1);
                out.push_str(&label);
                write_human(out, item, indent + label.len());
            }
        }
        Some(Kind::Map(list)) if list.values.is_empty() => out.push_str("(empty hash)"),
        Some(Kind::Map(list)) => {
            let pairs = list.values.chunks(2);
            let width = pairs.len().to_string().len();
            for (i, pair) in pairs.enumerate() {
                if i > 0 {
                    out.push('\n');
                    out.push_str(&" ".repeat(indent));
                }
                let label = format!("{:>width$}# ", i + 1);
                out.push_str(&label);
                let mut key = String::new();
                write_human(&mut key, &pair[0], 0);
                let _ = write!(out, "{key} => ");
                if let Some(value) = pair.get(1) {
                    write_human(out, value, indent + label.len() + key.len() + 4);
                }
            }
        }
    }
}

/// Bytes as redis-cli quotes them: printable ASCII as is, the rest escaped.
fn quote(out: &mut String, bytes: &[u8]) {
    out.push('"');
    for &b in bytes {
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x20..=0x7e => out.push(b as char),
            _ => {
                let _ = write!(out, "\\x{b:02x}");
            }
        }
    }
    out.push('"');
}

/// JSON: bulk and status strings as strings (bytes that are not UTF-8 as `\u00XX` per byte),
/// integers as numbers, nulls as `null`, arrays as arrays, maps as objects (keys rendered as
/// strings), an error inside a reply as `{"error": "..."}`.
pub fn json(value: &Value) -> String {
    let mut out = String::new();
    write_json(&mut out, value);
    out
}

fn write_json(out: &mut String, value: &Value) {
    match &value.kind {
        None | Some(Kind::Null(_)) => out.push_str("null"),
        Some(Kind::Status(text)) => json_string(out, text.as_bytes()),
        Some(Kind::Error(text)) => {
            out.push_str("{\"error\":");
            json_string(out, text.as_bytes());
            out.push('}');
        }
        Some(Kind::Integer(n)) => {
            let _ = write!(out, "{n}");
        }
        Some(Kind::Bulk(bytes)) => json_string(out, bytes),
        Some(Kind::Array(list)) => {
            out.push('[');
            for (i, item) in list.values.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(out, item);
            }
            out.push(']');
        }
        Some(Kind::Map(list)) => {
            out.push('{');
            for (i, pair) in list.values.chunks(2).enumerate() {
                if i > 0 {
                    out.push(',');
                }
                match &pair[0].kind {
                    Some(Kind::Bulk(bytes)) => json_string(out, bytes),
                    Some(Kind::Status(text)) => json_string(out, text.as_bytes()),
                    _ => json_string(out, human(&pair[0]).as_bytes()),
                }
                out.push(':');
                match pair.get(1) {
                    Some(value) => write_json(out, value),
                    None => out.push_str("null"),
                }
            }
            out.push('}');
        }
    }
}

pub fn json_string(out: &mut String, bytes: &[u8]) {
    out.push('"');
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                c if (c as u32) < 0x20 => {
                    let _ = write!(out, "\\u{:04x}", c as u32);
                }
                c => out.push(c),
            }
        }
        for &b in chunk.invalid() {
            let _ = write!(out, "\\u{b:04x}");
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use rill_client::proto::ValueList;

    fn bulk(text: &str) -> Value {
        Value {
            kind: Some(Kind::Bulk(text.as_bytes().to_vec())),
        }
    }

    fn array(values: Vec<Value>) -> Value {
        Value {
            kind: Some(Kind::Array(ValueList { values })),
        }
    }

    #[test]
    fn nested_arrays_render_like_redis_cli() {
        let entry = array(vec![bulk("1-0"), array(vec![bulk("sensor_id"), bulk("3")])]);
        let reply = array(vec![entry.clone(), entry]);
        assert_eq!(
            human(&reply),
            "1) 1) \"1-0\"\n   2) 1) \"sensor_id\"\n      2) \"3\"\n\
             2) 1) \"1-0\"\n   2) 1) \"sensor_id\"\n      2) \"3\""
        );
        assert_eq!(
            json(&reply),
            r#"[["1-0",["sensor_id","3"]],["1-0",["sensor_id","3"]]]"#
        );
    }

    #[test]
    fn maps_scalars_and_odd_bytes() {
        let map = Value {
            kind: Some(Kind::Map(ValueList {
                values: vec![
                    bulk("length"),
                    Value {
                        kind: Some(Kind::Integer(2)),
                    },
                    bulk("last"),
                    Value {
                        kind: Some(Kind::Null(true)),
                    },
                ],
            })),
        };
        assert_eq!(
            human(&map),
            "1# \"length\" => (integer) 2\n2# \"last\" => (nil)"
        );
        assert_eq!(json(&map), r#"{"length":2,"last":null}"#);
        let odd = Value {
            kind: Some(Kind::Bulk(b"a\"\n\xff".to_vec())),
        };
        assert_eq!(human(&odd), r#""a\"\n\xff""#);
        assert_eq!(json(&odd), r#""a\"\n\u00ff""#);
        assert_eq!(human(&array(Vec::new())), "(empty array)");
    }
}
