//! Content hash of JSON values, independent of object key order.

use super::StableHasher;

/// Hashes a JSON value canonically: object keys sorted, every item tagged and length-prefixed.
pub fn hash_json(value: &serde_json::Value) -> blake3::Hash {
    let mut h = StableHasher::new("stemma.json.v1");
    write(&mut h, value);
    h.finish()
}

fn write(h: &mut StableHasher, value: &serde_json::Value) {
    use serde_json::Value as J;
    match value {
        J::Null => {
            h.str("n");
        }
        J::Bool(b) => {
            h.str("b").bool(*b);
        }
        J::Number(n) => {
            h.str("#").str(&n.to_string());
        }
        J::String(s) => {
            h.str("s").str(s);
        }
        J::Array(items) => {
            h.str("[").u64(items.len() as u64);
            for item in items {
                write(h, item);
            }
        }
        J::Object(map) => {
            let mut entries: Vec<(&String, &serde_json::Value)> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
            h.str("{").u64(entries.len() as u64);
            for (k, v) in entries {
                h.str(k);
                write(h, v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn key_order_does_not_matter_but_content_does() {
        let a: serde_json::Value =
            serde_json::from_str(r#"{"x": 1, "y": {"p": [1, 2], "q": null}}"#).unwrap();
        let b: serde_json::Value =
            serde_json::from_str(r#"{"y": {"q": null, "p": [1, 2]}, "x": 1}"#).unwrap();
        assert_eq!(hash_json(&a), hash_json(&b));
        assert_ne!(hash_json(&json!([1, 2])), hash_json(&json!([2, 1])));
        assert_ne!(hash_json(&json!("1")), hash_json(&json!(1)));
        assert_ne!(
            hash_json(&json!({"a": "bc"})),
            hash_json(&json!({"ab": "c"}))
        );
    }
}
