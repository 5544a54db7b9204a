//! Normalizing objects copied from the spec (sidecars, volumes, env, ...) into the form the API
//! server stores: it drops empty strings and empty lists of optional fields (Go `omitempty`),
//! so copying them verbatim would leave a desired object that never matches the stored one.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

fn strip(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|_, v| match v {
                Value::Null => false,
                Value::String(s) => !s.is_empty(),
                Value::Array(a) => !a.is_empty(),
                _ => true,
            });
            for v in map.values_mut() {
                strip(v);
            }
            // An element may have become empty only after its own children were stripped.
            map.retain(|_, v| !matches!(v, Value::Array(a) if a.is_empty()));
        }
        Value::Array(items) => items.iter_mut().for_each(strip),
        _ => {}
    }
}

/// `value` without empty optional strings and lists. Returns the value unchanged when the
/// stripped form no longer deserializes (a required field was empty: the API server rejects
/// the object either way, with a clearer message).
pub fn clean<T: Serialize + DeserializeOwned + Clone>(value: &T) -> T {
    let Ok(mut json) = serde_json::to_value(value) else {
        return value.clone();
    };
    strip(&mut json);
    serde_json::from_value(json).unwrap_or_else(|_| value.clone())
}

/// [`clean`] over a list.
pub fn clean_all<T: Serialize + DeserializeOwned + Clone>(values: &[T]) -> Vec<T> {
    values.iter().map(clean).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{EmptyDirVolumeSource, EnvVar, Volume};

    #[test]
    fn drops_empty_optionals_keeps_empty_objects() {
        let env = EnvVar {
            name: "A".into(),
            value: Some(String::new()),
            value_from: None,
        };
        assert_eq!(clean(&env).value, None);
        let vol = Volume {
            name: "scratch".into(),
            empty_dir: Some(EmptyDirVolumeSource::default()),
            ..Default::default()
        };
        assert_eq!(clean(&vol), vol);
        // A required field that is empty: left as written.
        let bad = EnvVar {
            name: String::new(),
            value: Some("x".into()),
            value_from: None,
        };
        assert_eq!(clean(&bad), bad);
    }
}
