//! The name, label and annotation rules of `k8s.io/apimachinery/pkg/util/validation`, which the
//! API server applies to the objects the operator renders from an instance.
//!
//! Each check returns `Err` with a message in the words of apimachinery, so a user sees the
//! same explanation the API server would give later. `kube`'s CEL library has equivalent
//! format checks, but only reachable through a CEL program, and its subdomain check also limits
//! every dot-separated part to 63 characters, which the API server does not.

/// `DNS1123LabelMaxLength`.
pub const DNS1123_LABEL_MAX: usize = 63;
/// `DNS1123SubdomainMaxLength`.
pub const DNS1123_SUBDOMAIN_MAX: usize = 253;
/// `LabelValueMaxLength` (also the limit of the name part of a qualified name).
pub const LABEL_VALUE_MAX: usize = 63;
/// `TotalAnnotationSizeLimitB`: keys plus values of one object's annotations.
pub const TOTAL_ANNOTATION_SIZE: usize = 256 * 1024;

const SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com')";
const LABEL_MSG: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name', or '123-abc')";
const DNS1035_MSG: &str = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name', or 'abc-123')";
const QUALIFIED_MSG: &str = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName', or 'my.name', or '123-abc')";
const CONFIG_KEY_MSG: &str = "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name', or 'KEY_NAME', or 'key-name')";

fn too_long(max: usize) -> String {
    format!("must be no more than {max} characters")
}

fn lower_alnum(c: u8) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

/// `[a-z0-9]([-a-z0-9]*[a-z0-9])?` without a length limit.
fn is_label_shape(s: &str) -> bool {
    let b = s.as_bytes();
    match (b.first(), b.last()) {
        (Some(&f), Some(&l)) => {
            lower_alnum(f) && lower_alnum(l) && b.iter().all(|&c| lower_alnum(c) || c == b'-')
        }
        _ => false,
    }
}

/// `IsDNS1123Label`: at most 63 characters, `[a-z0-9]([-a-z0-9]*[a-z0-9])?`.
pub fn dns1123_label(s: &str) -> Result<(), String> {
    if s.len() > DNS1123_LABEL_MAX {
        return Err(too_long(DNS1123_LABEL_MAX));
    }
    if !is_label_shape(s) {
        return Err(LABEL_MSG.into());
    }
    Ok(())
}

/// `IsDNS1123Subdomain`: at most 253 characters, dot-separated RFC 1123 labels.
pub fn dns1123_subdomain(s: &str) -> Result<(), String> {
    if s.len() > DNS1123_SUBDOMAIN_MAX {
        return Err(too_long(DNS1123_SUBDOMAIN_MAX));
    }
    if !s.split('.').all(is_label_shape) {
        return Err(SUBDOMAIN_MSG.into());
    }
    Ok(())
}

/// `IsDNS1035Label` (Service names): at most 63 characters, `[a-z]([-a-z0-9]*[a-z0-9])?`.
pub fn dns1035_label(s: &str) -> Result<(), String> {
    if s.len() > DNS1123_LABEL_MAX {
        return Err(too_long(DNS1123_LABEL_MAX));
    }
    if !is_label_shape(s) || !s.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Err(DNS1035_MSG.into());
    }
    Ok(())
}

/// `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`, the shape of label values and of the name part
/// of qualified names.
fn is_qualified_part(s: &str) -> bool {
    let b = s.as_bytes();
    match (b.first(), b.last()) {
        (Some(f), Some(l)) => {
            f.is_ascii_alphanumeric()
                && l.is_ascii_alphanumeric()
                && b.iter()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
        }
        _ => false,
    }
}

/// `IsQualifiedName` (label keys; annotation keys after lowercasing): an optional DNS subdomain
/// prefix and `/`, then a name of at most 63 characters.
pub fn qualified_name(s: &str) -> Result<(), String> {
    let parts: Vec<&str> = s.split('/').collect();
    let name = match parts.as_slice() {
        [name] => *name,
        [prefix, name] => {
            if prefix.is_empty() {
                return Err("prefix part must be non-empty".into());
            }
            dns1123_subdomain(prefix).map_err(|e| format!("prefix part {e}"))?;
            *name
        }
        _ => {
            return Err(format!(
                "a qualified name {QUALIFIED_MSG} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
            ));
        }
    };
    if name.is_empty() {
        return Err("name part must be non-empty".into());
    }
    if name.len() > LABEL_VALUE_MAX {
        return Err(format!("name part {}", too_long(LABEL_VALUE_MAX)));
    }
    if !is_qualified_part(name) {
        return Err(format!("name part {QUALIFIED_MSG}"));
    }
    Ok(())
}

/// `IsValidLabelValue`: empty, or at most 63 characters of the qualified-name shape.
pub fn label_value(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Ok(());
    }
    if s.len() > LABEL_VALUE_MAX {
        return Err(too_long(LABEL_VALUE_MAX));
    }
    if !is_qualified_part(s) {
        return Err(format!("a valid label value {QUALIFIED_MSG}"));
    }
    Ok(())
}

/// An annotation key (`ValidateAnnotations`: the lowercased key is a qualified name).
pub fn annotation_key(s: &str) -> Result<(), String> {
    qualified_name(&s.to_ascii_lowercase())
}

/// `IsConfigMapKey` (keys of Secrets and ConfigMaps): `[-._a-zA-Z0-9]+`, at most 253
/// characters, not `.` or `..` and not starting with `..`.
pub fn config_map_key(s: &str) -> Result<(), String> {
    if s.len() > DNS1123_SUBDOMAIN_MAX {
        return Err(too_long(DNS1123_SUBDOMAIN_MAX));
    }
    if s.is_empty()
        || !s
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
    {
        return Err(CONFIG_KEY_MSG.into());
    }
    if s == "." || s == ".." || s.starts_with("..") {
        return Err("must not be '.' or '..' and must not start with '..'".into());
    }
    Ok(())
}

/// An Ingress host (`spec.rules[].host`, `spec.tls[].hosts[]`): a DNS subdomain, optionally
/// with a leading `*.` wildcard label, and not an IP address.
pub fn ingress_host(s: &str) -> Result<(), String> {
    if s.parse::<std::net::IpAddr>().is_ok() {
        return Err("must be a DNS name, not an IP address".into());
    }
    match s.strip_prefix("*.") {
        Some(rest) => dns1123_subdomain(rest).map_err(|e| {
            format!("a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain ({e})")
        }),
        None => dns1123_subdomain(s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_and_subdomains() {
        for ok in ["a", "my-name", "123-abc", &"a".repeat(63)] {
            assert!(dns1123_label(ok).is_ok(), "{ok}");
        }
        for bad in ["", "-a", "a-", "A", "a.b", "a_b", &"a".repeat(64)] {
            assert!(dns1123_label(bad).is_err(), "{bad}");
        }
        // A part longer than 63 characters is fine in a subdomain, as in apimachinery.
        for ok in [
            "a",
            "example.com",
            "a-b.c-d",
            &"a".repeat(70),
            &"a".repeat(253),
        ] {
            assert!(dns1123_subdomain(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "Bad_Name!",
            "a..b",
            ".a",
            "a.",
            "-a.b",
            &"a".repeat(254),
        ] {
            assert!(dns1123_subdomain(bad).is_err(), "{bad}");
        }
        assert!(dns1035_label("abc-1").is_ok());
        for bad in ["1abc", "a.b", "", "a-"] {
            assert!(dns1035_label(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn qualified_names_and_values() {
        for ok in [
            "app",
            "MyName",
            "my.name",
            "example.com/My_Name",
            "app.kubernetes.io/name",
        ] {
            assert!(qualified_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "/a",
            "a/",
            "a/b/c",
            "-a",
            "Example.com/a",
            "a b",
            &"a".repeat(64),
        ] {
            assert!(qualified_name(bad).is_err(), "{bad}");
        }
        assert!(annotation_key("Example.com/A").is_ok());
        for ok in ["", "v1", "my_value", "a.b-c"] {
            assert!(label_value(ok).is_ok(), "{ok}");
        }
        for bad in ["-a", "a b", "a/b", &"a".repeat(64)] {
            assert!(label_value(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn keys_and_hosts() {
        for ok in ["key.name", "KEY_NAME", "key-name", ".env"] {
            assert!(config_map_key(ok).is_ok(), "{ok}");
        }
        for bad in ["", ".", "..", "..a", "a/b", "a b"] {
            assert!(config_map_key(bad).is_err(), "{bad}");
        }
        for ok in ["example.com", "*.example.com"] {
            assert!(ingress_host(ok).is_ok(), "{ok}");
        }
        for bad in ["10.0.0.1", "*", "a.*.com", "Example.com", "::1"] {
            assert!(ingress_host(bad).is_err(), "{bad}");
        }
    }
}
