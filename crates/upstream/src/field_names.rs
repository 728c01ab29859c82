//! Header field names remembered by position, one [`FieldNames`] per connection: a
//! peer writes the same names in the same order in head after head (a backend's
//! `Server`, `Date`, `Content-Type`, `Content-Length`; a load generator's or a
//! browser's `Host`, `User-Agent`, `Accept` …), so the name of field `i` is taken
//! from the last head when it is spelt byte for byte the same, and parsed only
//! otherwise. Equal bytes make an equal name, so the answer is always what
//! [`HeaderName::from_bytes`] gives.
//!
//! Why: `HeaderName::from_bytes` (a match over every standard name, then a lowercase
//! copy of any other) cost ~90 instructions a name under callgrind, ~800 a request
//! for its nine names in and out; comparing a short name with the one remembered
//! costs a fraction of that.

use http::HeaderName;
use http::header::InvalidHeaderName;

/// Fields remembered from the front of a head: past them names are parsed.
const REMEMBERED: usize = 16;
/// Longest name remembered (`content-length` is 14, `x-forwarded-for` 15): a longer
/// one is parsed each time, and the memory of one connection stays small.
const LONGEST: usize = 24;

/// The names of the last head's first fields, as they were spelt.
#[derive(Debug, Default)]
pub struct FieldNames {
    known: Vec<Known>,
}

#[derive(Debug)]
struct Known {
    spelt: [u8; LONGEST],
    len: u8,
    name: HeaderName,
}

impl Known {
    fn is(&self, raw: &[u8]) -> bool {
        self.spelt.get(..usize::from(self.len)) == Some(raw)
    }
}

impl FieldNames {
    /// The name of field `i` of a head, spelt `raw`: as [`HeaderName::from_bytes`].
    pub fn name(&mut self, i: usize, raw: &[u8]) -> Result<HeaderName, InvalidHeaderName> {
        if let Some(known) = self.known.get(i).filter(|k| k.is(raw)) {
            return Ok(known.name.clone());
        }
        let name = HeaderName::from_bytes(raw)?;
        self.remember(i, raw, &name);
        Ok(name)
    }

    fn remember(&mut self, i: usize, raw: &[u8], name: &HeaderName) {
        let (Some(len), true) = (u8::try_from(raw.len()).ok(), raw.len() <= LONGEST) else {
            return;
        };
        if i >= REMEMBERED || i > self.known.len() {
            return;
        }
        let mut spelt = [0; LONGEST];
        spelt[..raw.len()].copy_from_slice(raw);
        let known = Known {
            spelt,
            len,
            name: name.clone(),
        };
        match self.known.get_mut(i) {
            Some(slot) => *slot = known,
            None => self.known.push(known),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_name_is_what_from_bytes_gives_however_it_was_spelt_before() {
        let mut names = FieldNames::default();
        let heads: [&[&str]; 4] = [
            &["Host", "User-Agent", "X-Trace-Id"],
            &["Host", "User-Agent", "X-Trace-Id"],
            &[
                "host",
                "X-Trace-Id",
                "User-Agent",
                "an-unusually-long-field-name-here",
            ],
            &["HOST", "x-trace-id", "Bad Name"],
        ];
        for head in heads {
            for (i, raw) in head.iter().enumerate() {
                let got = names.name(i, raw.as_bytes());
                let want = HeaderName::from_bytes(raw.as_bytes());
                assert_eq!(got.is_ok(), want.is_ok(), "{raw}");
                if let (Ok(got), Ok(want)) = (got, want) {
                    assert_eq!(got, want, "{raw}");
                }
            }
        }
        // Only short names at the front are remembered.
        assert!(names.known.len() <= REMEMBERED);
        assert!(names.known.iter().all(|k| usize::from(k.len) <= LONGEST));
    }

    #[test]
    fn a_remembered_name_is_reused_only_when_spelt_the_same() {
        let mut names = FieldNames::default();
        names.name(0, b"Content-Type").unwrap();
        assert!(names.known[0].is(b"Content-Type"));
        assert!(!names.known[0].is(b"content-type"));
        assert!(!names.known[0].is(b"Content-Typ"));
        assert_eq!(names.name(0, b"content-type").unwrap(), "content-type");
        assert!(names.known[0].is(b"content-type"));
    }
}
