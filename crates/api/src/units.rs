//! Parsers for the two string formats the API carries: Kubernetes quantities and Go durations.

use std::sync::LazyLock;

use regex::Regex;

/// The serialized form of a Kubernetes `resource.Quantity`, as `resource.ParseQuantity` reads it:
/// the published pattern, except that the exponent is an integer (`1e1.5` matches the published
/// pattern but `ParseQuantity`, and so the API server, rejects it).
static QUANTITY: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(
        r"^[+-]?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE][+-]?[0-9]+))?$",
    )
    .ok()
});

/// Whether `s` is a valid Kubernetes quantity such as `500m`, `1Gi` or `1e3`.
pub fn is_quantity(s: &str) -> bool {
    QUANTITY.as_ref().is_some_and(|re| re.is_match(s)) && exponent_fits(s)
}

/// `ParseQuantity` reads a decimal exponent (`e3`, `E-2`; not the `E` or `Ei` suffix) as a
/// 32-bit integer.
fn exponent_fits(s: &str) -> bool {
    match s.find(['e', 'E']) {
        Some(i) if s.len() > i + 1 && !s[i + 1..].starts_with('i') => {
            s[i + 1..].parse::<i32>().is_ok()
        }
        _ => true,
    }
}

/// The sign of a quantity (`Less` for a negative one, `Equal` for any form of zero), or `None`
/// when `s` is not a quantity. Read from the digits, so it is exact where [`quantity_value`]
/// would round (`-1e-400` is negative).
pub fn quantity_sign(s: &str) -> Option<std::cmp::Ordering> {
    if !is_quantity(s) {
        return None;
    }
    let mantissa_end = s.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(s.len());
    let mantissa = &s[..mantissa_end];
    if !mantissa.bytes().any(|b| (b'1'..=b'9').contains(&b)) {
        return Some(std::cmp::Ordering::Equal);
    }
    Some(if mantissa.starts_with('-') {
        std::cmp::Ordering::Less
    } else {
        std::cmp::Ordering::Greater
    })
}

/// Parse a quantity into bytes (or cores); `None` when it is not a valid quantity.
pub fn quantity_value(s: &str) -> Option<f64> {
    if !is_quantity(s) {
        return None;
    }
    let split = s.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(s.len());
    let (number, suffix) = s.split_at(split);
    let number: f64 = number.parse().ok()?;
    let factor = match suffix {
        "" => 1.0,
        "n" => 1e-9,
        "u" => 1e-6,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024.0,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        exp => 10f64.powf(exp[1..].parse().ok()?),
    };
    Some(number * factor)
}

/// Why a Go duration string was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// Not of the form `1h30m`, `10m`, `1.5h`, ...
    #[error("invalid duration {0:?}: expected a Go duration such as 30m, 1h or 1h30m")]
    Invalid(String),
}

/// Parse a Go `time.Duration` string (`300ms`, `1.5h`, `2h45m`, `-1m`, `0`) into seconds.
pub fn parse_go_duration(input: &str) -> Result<f64, DurationError> {
    let invalid = || DurationError::Invalid(input.to_string());
    let (negative, mut rest) = match input.as_bytes().first() {
        Some(b'-') => (true, &input[1..]),
        Some(b'+') => (false, &input[1..]),
        _ => (false, input),
    };
    if rest == "0" {
        return Ok(0.0);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total = 0.0;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(invalid)?;
        if digits == 0 {
            return Err(invalid());
        }
        let number = &rest[..digits];
        if number == "." || number.matches('.').count() > 1 {
            return Err(invalid());
        }
        let value: f64 = number.parse().map_err(|_| invalid())?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(invalid()),
        };
        total += value * scale;
        rest = &rest[unit_len..];
    }
    Ok(if negative { -total } else { total })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities() {
        for ok in [
            "1",
            "500m",
            "1Gi",
            "10Gi",
            "1.5",
            ".5",
            "1e3",
            "2E-2",
            "+1",
            "1E",
            "1Ei",
            "2e+5",
            "128974848",
            "4096M",
        ] {
            assert!(is_quantity(ok), "{ok}");
        }
        for bad in [
            "",
            "abc",
            "1GB",
            "1 Gi",
            "Gi",
            "1.2.3",
            "--1",
            "1ii",
            "1e1.5",
            "1e99999999999",
        ] {
            assert!(!is_quantity(bad), "{bad}");
        }
        assert_eq!(quantity_value("1Ki"), Some(1024.0));
        assert_eq!(quantity_value("500m"), Some(0.5));
        assert_eq!(quantity_value("1e3"), Some(1000.0));
    }

    #[test]
    fn signs() {
        use std::cmp::Ordering::*;
        for (q, sign) in [
            ("-10Gi", Some(Less)),
            ("-1", Some(Less)),
            ("-1e-400", Some(Less)),
            ("-0", Some(Equal)),
            ("0.000", Some(Equal)),
            ("-.0e5", Some(Equal)),
            ("+0Gi", Some(Equal)),
            ("1Gi", Some(Greater)),
            ("+.5", Some(Greater)),
            ("1e-3", Some(Greater)),
            ("x", None),
        ] {
            assert_eq!(quantity_sign(q), sign, "{q}");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_go_duration("24h"), Ok(86400.0));
        assert_eq!(parse_go_duration("1h30m"), Ok(5400.0));
        assert_eq!(parse_go_duration("1.5h"), Ok(5400.0));
        assert_eq!(parse_go_duration("300ms"), Ok(0.3));
        assert_eq!(parse_go_duration("0"), Ok(0.0));
        assert_eq!(parse_go_duration("-2m"), Ok(-120.0));
        for bad in ["", "1", "h", "1d", "1h30", "abc", "1..5h", ".h", "-"] {
            assert!(parse_go_duration(bad).is_err(), "{bad}");
        }
    }
}
