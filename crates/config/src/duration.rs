//! Durations written as `250ms`, `2s`, `1m`, `1h`, or compound as `1m30s`, `1h30m`,
//! `1s500ms`.

use std::time::Duration;

/// The units, largest first, with their length in milliseconds.
const UNITS: [(&str, f64); 4] = [
    ("h", 3_600_000.0),
    ("m", 60_000.0),
    ("s", 1_000.0),
    ("ms", 1.0),
];

/// Parses a duration such as `250ms`, `2s`, `1.5s`, `1m`, `1h`, or a compound one such
/// as `1m30s`, `1h30m` or `1s500ms` (as nginx and Go write them).
///
/// A unit is required: a bare number is ambiguous and is an error. In a compound
/// duration the units go from largest to smallest, each at most once, and only the
/// last part may have a fraction.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let invalid = |why: &str| format!("invalid duration \"{text}\": {why}");
    let mut rest = text;
    let mut millis = 0.0;
    let mut previous: Option<Part<'_>> = None;
    loop {
        let part = Part::split(rest).map_err(|why| invalid(&why))?;
        if let Some(p) = &previous {
            if part.rank <= p.rank {
                return Err(invalid(
                    "in a compound duration the units go from largest to smallest, each once \
                     (h, m, s, ms), e.g. 1m30s",
                ));
            }
            if p.number.contains('.') {
                return Err(invalid(
                    "only the last part may have a fraction, e.g. 1m30.5s",
                ));
            }
        }
        millis += part.value * UNITS[part.rank].1;
        rest = part.next;
        previous = Some(part);
        if rest.is_empty() {
            break;
        }
    }
    // One week is far beyond any sensible proxy timeout; it also keeps the float exact.
    if !millis.is_finite() || millis > 7.0 * 24.0 * 3_600_000.0 {
        return Err(invalid("too large"));
    }
    Ok(Duration::from_micros((millis * 1_000.0).round() as u64))
}

/// One `<number><unit>` part of a duration.
struct Part<'a> {
    number: &'a str,
    value: f64,
    /// Index into [`UNITS`].
    rank: usize,
    /// The text after this part.
    next: &'a str,
}

impl<'a> Part<'a> {
    /// Splits the first part off `text`, or says why it is not one.
    fn split(text: &'a str) -> Result<Self, String> {
        let digits = text
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or("missing unit (ms, s, m or h)")?;
        let (number, after) = text.split_at(digits);
        let value: f64 = number
            .parse()
            .map_err(|_| "expected a number then ms, s, m or h")?;
        let unit_len = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, next) = after.split_at(unit_len);
        let rank = UNITS
            .iter()
            .position(|(name, _)| *name == unit)
            .ok_or_else(|| format!("unknown unit \"{unit}\" (use ms, s, m or h)"))?;
        Ok(Part {
            number,
            value,
            rank,
            next,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("1m"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
    }

    #[test]
    fn parses_compound_durations() {
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("1s500ms"), Ok(Duration::from_millis(1500)));
        assert_eq!(
            parse_duration("1h2m3s4ms"),
            Ok(Duration::from_millis(3_723_004))
        );
        assert_eq!(parse_duration("1m0.5s"), Ok(Duration::from_millis(60_500)));
        assert_eq!(parse_duration(" 2m5s "), Ok(Duration::from_secs(125)));
    }

    #[test]
    fn rejects_bad_input() {
        assert!(parse_duration("5").unwrap_err().contains("missing unit"));
        assert!(parse_duration("5x").unwrap_err().contains("unknown unit"));
        assert!(parse_duration("s").is_err());
        assert!(parse_duration("1.2.3s").is_err());
        assert!(parse_duration("").is_err());
        assert!(parse_duration("100000h").unwrap_err().contains("too large"));
    }

    #[test]
    fn rejects_malformed_compound_durations() {
        let order = "in a compound duration the units go from largest to smallest";
        assert!(parse_duration("1m1m").unwrap_err().contains(order));
        assert!(parse_duration("1s1m").unwrap_err().contains(order));
        assert!(parse_duration("1ms1s").unwrap_err().contains(order));
        assert!(parse_duration("1m30").unwrap_err().contains("missing unit"));
        assert!(
            parse_duration("1m 30s")
                .unwrap_err()
                .contains("unknown unit \"m \"")
        );
        assert!(
            parse_duration("1.5m30s")
                .unwrap_err()
                .contains("only the last part")
        );
        assert!(
            parse_duration("1mm")
                .unwrap_err()
                .contains("unknown unit \"mm\"")
        );
        assert!(
            parse_duration("1h-5m")
                .unwrap_err()
                .contains("unknown unit \"h-\"")
        );
        assert_eq!(
            parse_duration("100h100h100h").unwrap_err(),
            format!(
                "invalid duration \"100h100h100h\": {order}, each once (h, m, s, ms), e.g. 1m30s"
            )
        );
    }
}
