//! Byte sizes in the config: a whole number of bytes (`1048576`) or a number with a
//! binary unit (`512KiB`, `10MiB`, `1GiB`; also nginx's `k`, `m`, `g`, which mean the
//! same), range-checked, with the error at their YAML path.

use crate::errors::Errors;
use crate::raw::RawSize;

/// Units and their sizes, longest names first so `MiB` is not read as `M` + `iB`.
const UNITS: [(&str, u64); 10] = [
    ("KiB", 1 << 10),
    ("MiB", 1 << 20),
    ("GiB", 1 << 30),
    ("k", 1 << 10),
    ("K", 1 << 10),
    ("m", 1 << 20),
    ("M", 1 << 20),
    ("g", 1 << 30),
    ("G", 1 << 30),
    ("B", 1),
];

/// The size at `at`, within `lo..=hi` bytes; `None` (after pushing an error) when it
/// does not parse or is out of range.
pub(crate) fn size(
    errors: &mut Errors<'_>,
    at: String,
    raw: &RawSize,
    lo: u64,
    hi: u64,
) -> Option<u64> {
    let parsed = match raw {
        RawSize::Number(n) => u64::try_from(*n).map_err(|_| format!("{n} is not a size")),
        RawSize::Text(text) => parse(text.trim()),
    };
    match parsed {
        Ok(n) if (lo..=hi).contains(&n) => Some(n),
        Ok(n) => {
            errors.push(
                at,
                format!("{n} bytes is out of range ({lo} to {hi} bytes)"),
            );
            None
        }
        Err(message) => {
            errors.push(at, message);
            None
        }
    }
}

fn parse(text: &str) -> Result<u64, String> {
    let digits = text.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = text[digits.len()..].trim_start();
    let number: u64 = digits
        .trim()
        .parse()
        .map_err(|_| format!("invalid size \"{text}\": expected bytes, or a whole number with KiB, MiB or GiB, e.g. 10MiB"))?;
    let scale = match unit {
        "" => 1,
        unit => UNITS
            .iter()
            .find(|(name, _)| *name == unit)
            .map(|(_, scale)| *scale)
            .ok_or_else(|| {
                format!("invalid size \"{text}\": unknown unit \"{unit}\" (B, KiB, MiB or GiB)")
            })?,
    };
    number
        .checked_mul(scale)
        .ok_or_else(|| format!("invalid size \"{text}\": too large"))
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn sizes_parse_with_binary_units() {
        assert_eq!(parse("1048576"), Ok(1_048_576));
        assert_eq!(parse("512KiB"), Ok(512 * 1024));
        assert_eq!(parse("10 MiB"), Ok(10 << 20));
        assert_eq!(parse("1m"), Ok(1 << 20));
        assert_eq!(parse("2G"), Ok(2 << 30));
        assert_eq!(parse("64B"), Ok(64));
    }

    #[test]
    fn bad_sizes_say_why() {
        assert!(parse("10MB").unwrap_err().contains("unknown unit \"MB\""));
        assert!(parse("1.5MiB").unwrap_err().contains("expected bytes"));
        assert!(parse("MiB").unwrap_err().contains("expected bytes"));
        assert!(
            parse("99999999999999GiB")
                .unwrap_err()
                .contains("too large")
        );
    }
}
