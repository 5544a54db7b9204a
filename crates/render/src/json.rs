//! JSON output with sorted keys at every level, independent of how `serde_json::Map` orders
//! its keys (its `preserve_order` feature may be switched on by any crate in the build).

use serde_json::Value;

/// Pretty-printed with two-space indentation and a trailing newline.
pub fn pretty(value: &Value) -> String {
    let mut out = String::new();
    write(&mut out, value, Some(0));
    out.push('\n');
    out
}

/// Compact, for hashing.
pub fn compact(value: &Value) -> String {
    let mut out = String::new();
    write(&mut out, value, None);
    out
}

fn newline(out: &mut String, indent: Option<usize>) {
    if let Some(level) = indent {
        out.push('\n');
        for _ in 0..level {
            out.push_str("  ");
        }
    }
}

fn write(out: &mut String, value: &Value, indent: Option<usize>) {
    let inner = indent.map(|l| l + 1);
    match value {
        Value::Object(map) if !map.is_empty() => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, inner);
                out.push_str(&Value::from(key.as_str()).to_string());
                out.push_str(if indent.is_some() { ": " } else { ":" });
                write(out, item, inner);
            }
            newline(out, indent);
            out.push('}');
        }
        Value::Array(items) if !items.is_empty() => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, inner);
                write(out, item, inner);
            }
            newline(out, indent);
            out.push(']');
        }
        // Scalars, `{}` and `[]`: serde_json's compact form.
        other => out.push_str(&other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sorted_and_indented() {
        let v = json!({"b": [1, {"z": null, "a": "x<y"}], "a": {}, "c": []});
        assert_eq!(
            pretty(&v),
            "{\n  \"a\": {},\n  \"b\": [\n    1,\n    {\n      \"a\": \"x<y\",\n      \"z\": null\n    }\n  ],\n  \"c\": []\n}\n"
        );
        assert_eq!(
            compact(&v),
            r#"{"a":{},"b":[1,{"a":"x<y","z":null}],"c":[]}"#
        );
    }

    #[test]
    fn pretty_output_parses_back() {
        let v = json!({"k": "line\nbreak \u{2028} \"quoted\"", "n": 1.5e300, "i": -3});
        let back: Value = serde_json::from_str(&pretty(&v)).unwrap_or(Value::Null);
        assert_eq!(back, v);
    }
}
