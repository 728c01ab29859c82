//! Whole numbers and percentages in the config, range-checked, with the error at their
//! YAML path.

use crate::errors::Errors;
use crate::raw::RawPercent;

/// A whole number within `lo..=hi`, or `default` when absent.
pub(crate) fn count(
    errors: &mut Errors<'_>,
    at: String,
    raw: Option<i64>,
    default: u32,
    lo: u32,
    hi: u32,
) -> u32 {
    let Some(raw) = raw else { return default };
    match u32::try_from(raw).ok().filter(|n| (lo..=hi).contains(n)) {
        Some(n) => n,
        None => {
            errors.push(at, format!("{raw} is out of range ({lo} to {hi})"));
            default
        }
    }
}

/// `20%` or `20`, a whole percentage within `lo..=hi`.
pub(crate) fn percent(errors: &mut Errors<'_>, at: String, raw: &RawPercent, lo: u8, hi: u8) -> u8 {
    let value = match raw {
        RawPercent::Number(n) => Some(*n),
        RawPercent::Text(t) => t.trim().trim_end_matches('%').trim().parse::<f64>().ok(),
    };
    let shown = match raw {
        RawPercent::Number(n) => n.to_string(),
        RawPercent::Text(t) => t.clone(),
    };
    match value {
        Some(v) if v.fract() == 0.0 && v >= f64::from(lo) && v <= f64::from(hi) => {
            // In range 0..=100 and whole, so the cast is exact.
            v as u8
        }
        _ => {
            errors.push(
                at,
                format!("invalid percentage \"{shown}\" (expected a whole number {lo}% to {hi}%)"),
            );
            lo
        }
    }
}
