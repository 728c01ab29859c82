//! Durations written as `250ms`, `2s`, `1m`, `1h`.

use std::time::Duration;

/// Parses a duration such as `250ms`, `2s`, `1.5s`, `1m` or `1h`.
///
/// A unit is required: a bare number is ambiguous and is an error.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(|| format!("invalid duration \"{text}\": missing unit (ms, s, m or h)"))?;
    let (number, unit) = text.split_at(split);
    let value: f64 = number.parse().map_err(|_| {
        format!("invalid duration \"{text}\": expected a number then ms, s, m or h")
    })?;
    let millis_per_unit = match unit {
        "ms" => 1.0,
        "s" => 1_000.0,
        "m" => 60_000.0,
        "h" => 3_600_000.0,
        _ => {
            return Err(format!(
                "invalid duration \"{text}\": unknown unit \"{unit}\" (use ms, s, m or h)"
            ));
        }
    };
    let millis = value * millis_per_unit;
    // One week is far beyond any sensible proxy timeout; it also keeps the float exact.
    if !millis.is_finite() || millis > 7.0 * 24.0 * 3_600_000.0 {
        return Err(format!("invalid duration \"{text}\": too large"));
    }
    Ok(Duration::from_micros((millis * 1_000.0).round() as u64))
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
    fn rejects_bad_input() {
        assert!(parse_duration("5").unwrap_err().contains("missing unit"));
        assert!(parse_duration("5x").unwrap_err().contains("unknown unit"));
        assert!(parse_duration("s").is_err());
        assert!(parse_duration("1.2.3s").is_err());
        assert!(parse_duration("").is_err());
        assert!(parse_duration("100000h").unwrap_err().contains("too large"));
    }
}
