//! Kubernetes quantities in the canonical form the API server stores (`2000m` is stored as `2`,
//! `1024Mi` as `1Gi`, `1000` as `1k`), so a rendered object compares equal to the stored one.
//!
//! This follows `resource.Quantity`: values are rounded up to nano units and capped at
//! 2^63-1; the format (decimal SI, binary SI or decimal exponent) comes from the suffix; binary
//! values below 1024 or with a fraction print as decimal SI.

/// The canonical form of a quantity, or `None` when `s` is not a quantity.
pub fn canonical(s: &str) -> Option<String> {
    let q = parse(s)?;
    Some(format(q))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    DecimalSi,
    BinarySi,
    DecimalExponent,
}

/// `(-1)^negative * mantissa * 10^exp`, with the format its suffix implies.
#[derive(Clone, Copy, Debug)]
struct Quantity {
    negative: bool,
    mantissa: u128,
    exp: i32,
    format: Format,
}

const MAX: u128 = i64::MAX as u128;

fn pow10(n: u32) -> Option<u128> {
    10u128.checked_pow(n)
}

fn parse(s: &str) -> Option<Quantity> {
    let (negative, rest) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let number_len = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(rest.len());
    let (number, suffix) = rest.split_at(number_len);
    let (int_part, frac_part) = match number.split_once('.') {
        Some((i, f)) => (i, f),
        None => (number, ""),
    };
    if (int_part.is_empty() && frac_part.is_empty()) || frac_part.contains('.') {
        return None;
    }
    let (format, mut exp, binary_pow) = match suffix {
        "" => (Format::DecimalSi, 0, 0),
        "n" => (Format::DecimalSi, -9, 0),
        "u" => (Format::DecimalSi, -6, 0),
        "m" => (Format::DecimalSi, -3, 0),
        "k" => (Format::DecimalSi, 3, 0),
        "M" => (Format::DecimalSi, 6, 0),
        "G" => (Format::DecimalSi, 9, 0),
        "T" => (Format::DecimalSi, 12, 0),
        "P" => (Format::DecimalSi, 15, 0),
        "E" => (Format::DecimalSi, 18, 0),
        "Ki" => (Format::BinarySi, 0, 1),
        "Mi" => (Format::BinarySi, 0, 2),
        "Gi" => (Format::BinarySi, 0, 3),
        "Ti" => (Format::BinarySi, 0, 4),
        "Pi" => (Format::BinarySi, 0, 5),
        "Ei" => (Format::BinarySi, 0, 6),
        other => {
            let digits = other.strip_prefix(['e', 'E'])?;
            let unsigned = digits.strip_prefix(['+', '-']).unwrap_or(digits);
            if unsigned.is_empty() || !unsigned.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let e: i32 = digits.parse().ok()?;
            if !(-1000..=1000).contains(&e) {
                return None;
            }
            (Format::DecimalExponent, e, 0)
        }
    };

    // Significant digits only: leading zeros dropped, trailing zeros moved into the exponent.
    let digits: String = format!("{int_part}{frac_part}");
    let digits = digits.trim_start_matches('0');
    let trimmed = digits.trim_end_matches('0');
    let frac_len = i32::try_from(frac_part.len()).ok()?;
    let zeros = i32::try_from(digits.len() - trimmed.len()).ok()?;
    exp = exp.checked_sub(frac_len)?.checked_add(zeros)?;
    let mut q = Quantity {
        negative,
        mantissa: 0,
        exp,
        format,
    };
    if trimmed.is_empty() {
        q.exp = 0;
        return Some(q);
    }
    if trimmed.len() > 30 {
        // More precision than any int64 quantity can hold; treat as out of range.
        return None;
    }
    q.mantissa = trimmed.parse().ok()?;
    for _ in 0..binary_pow {
        q.mantissa = match q.mantissa.checked_mul(1024) {
            Some(m) => m,
            None => return Some(capped(q)),
        };
    }
    // Round the magnitude up to a whole number of nano units.
    if q.exp < -9 {
        let shift = u32::try_from(-9 - q.exp).ok()?;
        q.mantissa = match pow10(shift) {
            Some(d) => q.mantissa.div_ceil(d),
            None => 1,
        };
        q.exp = -9;
    }
    if exceeds_max(q.mantissa, q.exp) {
        return Some(capped(q));
    }
    if q.format == Format::BinarySi && is_below_one(q.mantissa, q.exp) {
        q.format = Format::DecimalSi;
    }
    Some(q)
}

fn capped(q: Quantity) -> Quantity {
    Quantity {
        mantissa: MAX,
        exp: 0,
        ..q
    }
}

/// `mantissa * 10^exp > 2^63-1`.
fn exceeds_max(mantissa: u128, exp: i32) -> bool {
    if exp >= 0 {
        match pow10(exp.unsigned_abs()).and_then(|p| mantissa.checked_mul(p)) {
            Some(v) => v > MAX,
            None => true,
        }
    } else {
        match pow10(exp.unsigned_abs()) {
            Some(p) => mantissa / p > MAX || (mantissa / p == MAX && !mantissa.is_multiple_of(p)),
            None => false,
        }
    }
}

/// `0 < mantissa * 10^exp < 1`.
fn is_below_one(mantissa: u128, exp: i32) -> bool {
    mantissa != 0 && exp < 0 && pow10(exp.unsigned_abs()).is_none_or(|p| mantissa < p)
}

/// The integer value when `mantissa * 10^exp` is whole.
fn as_integer(mantissa: u128, exp: i32) -> Option<u128> {
    if exp >= 0 {
        mantissa.checked_mul(pow10(exp.unsigned_abs())?)
    } else {
        let p = pow10(exp.unsigned_abs())?;
        mantissa.is_multiple_of(p).then_some(mantissa / p)
    }
}

fn format(q: Quantity) -> String {
    if q.mantissa == 0 {
        return "0".to_string();
    }
    let sign = if q.negative { "-" } else { "" };
    let mut format = q.format;
    let mut bytes = None;
    if format == Format::BinarySi {
        match as_integer(q.mantissa, q.exp) {
            Some(v) if v >= 1024 => bytes = Some(v),
            _ => format = Format::DecimalSi,
        }
    }
    if let Some(mut value) = bytes {
        let mut power = 0;
        while value.is_multiple_of(1024) && power < 6 {
            value /= 1024;
            power += 1;
        }
        let suffix = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"][power];
        return format!("{sign}{value}{suffix}");
    }

    let mut mantissa = q.mantissa;
    let mut exp = q.exp;
    while mantissa.is_multiple_of(10) {
        mantissa /= 10;
        exp += 1;
    }
    let r = exp.rem_euclid(3);
    mantissa *= 10u128.pow(r.unsigned_abs());
    exp -= r;
    let suffix = match format {
        Format::DecimalExponent => {
            if exp == 0 {
                String::new()
            } else {
                format!("e{exp}")
            }
        }
        _ => match exp {
            -9 => "n".to_string(),
            -6 => "u".to_string(),
            -3 => "m".to_string(),
            0 => String::new(),
            3 => "k".to_string(),
            6 => "M".to_string(),
            9 => "G".to_string(),
            12 => "T".to_string(),
            15 => "P".to_string(),
            18 => "E".to_string(),
            other => format!("e{other}"),
        },
    };
    format!("{sign}{mantissa}{suffix}")
}

#[cfg(test)]
mod tests {
    use super::canonical;

    #[test]
    fn canonical_forms_match_the_api_server() {
        let cases = [
            ("2000m", "2"),
            ("1000m", "1"),
            ("500m", "500m"),
            ("250m", "250m"),
            ("1500m", "1500m"),
            ("0.5", "500m"),
            ("0.1", "100m"),
            ("1.0", "1"),
            ("2", "2"),
            ("1000", "1k"),
            ("1100k", "1100k"),
            ("1000k", "1M"),
            ("100M", "100M"),
            ("1e3", "1e3"),
            ("1.5e3", "1500"),
            ("12e-1", "1200e-3"),
            ("0", "0"),
            ("0m", "0"),
            ("0Gi", "0"),
            ("1Gi", "1Gi"),
            ("4Gi", "4Gi"),
            ("10Gi", "10Gi"),
            ("64Mi", "64Mi"),
            ("16Mi", "16Mi"),
            ("1024Mi", "1Gi"),
            ("1.5Gi", "1536Mi"),
            ("0.5Gi", "512Mi"),
            ("1Ki", "1Ki"),
            ("1.5Ki", "1536"),
            ("0.5Ki", "512"),
            ("512", "512"),
            ("1n", "1n"),
            ("0.1n", "1n"),
            ("1.5n", "2n"),
            ("0.0001", "100u"),
            ("-1", "-1"),
            ("-2000m", "-2"),
            ("+1", "1"),
            (".5", "500m"),
            ("5.", "5"),
            ("0001", "1"),
            ("128974848", "128974848"),
            ("129e6", "129e6"),
            ("129M", "129M"),
            ("123Mi", "123Mi"),
            ("100000000000000000000", "9223372036854775807"),
            ("8Ei", "9223372036854775807"),
        ];
        for (input, want) in cases {
            assert_eq!(canonical(input).as_deref(), Some(want), "{input}");
        }
    }

    #[test]
    fn rejects_what_the_api_server_rejects() {
        for bad in [
            "", "abc", "1GB", "1 Gi", "Gi", "1.2.3", "--1", "1ii", "1e", "1e1.5", ".", "+", "1m1",
        ] {
            assert_eq!(canonical(bad), None, "{bad}");
        }
    }

    #[test]
    fn canonical_is_a_fixed_point() {
        for input in ["2000m", "1.5Gi", "1000", "12e-1", "0.1n", "1024Mi"] {
            let once = canonical(input);
            let twice = once.as_deref().and_then(canonical);
            assert_eq!(once, twice, "{input}");
        }
    }
}
