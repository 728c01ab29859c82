//! Which certificate pair answers a server name: exact names, then one-label
//! wildcards, then the default.

use std::collections::HashMap;

/// Server name → pair index.
#[derive(Debug, Default)]
pub(crate) struct SniTable {
    /// Lowercase names without a wildcard.
    exact: HashMap<String, usize>,
    /// `*.example.com` as `example.com`: matches any one label before it.
    wildcard: HashMap<String, usize>,
    /// The pair for no SNI or an unknown name.
    default: usize,
}

impl SniTable {
    /// The table of `names` (pair index, the names of that pair's certificate) with
    /// `default` for everything else. A name held by two pairs goes to the first.
    /// Names with a `*` anywhere but a whole first label match nothing.
    pub fn build<'a>(
        names: impl IntoIterator<Item = (usize, &'a [String])>,
        default: usize,
    ) -> Self {
        let mut table = Self {
            default,
            ..Self::default()
        };
        for (index, list) in names {
            for name in list {
                let name = normalise(name);
                let (map, key) = match name.strip_prefix("*.") {
                    Some(rest) => (&mut table.wildcard, rest.to_owned()),
                    None => (&mut table.exact, name),
                };
                if !key.is_empty() && !key.contains('*') {
                    map.entry(key).or_insert(index);
                }
            }
        }
        table
    }

    /// The pair index for a client that sent `sni` (case-insensitive).
    pub fn pick(&self, sni: Option<&str>) -> usize {
        let Some(sni) = sni else {
            return self.default;
        };
        let sni = normalise(sni);
        if let Some(&index) = self.exact.get(&sni) {
            return index;
        }
        match sni.split_once('.') {
            Some((label, parent)) if !label.is_empty() => {
                self.wildcard.get(parent).copied().unwrap_or(self.default)
            }
            _ => self.default,
        }
    }
}

/// Lowercase, without a trailing dot (`Example.COM.` is `example.com`).
fn normalise(name: &str) -> String {
    name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> SniTable {
        let names = [
            vec!["fallback.test".to_owned()],
            vec!["*.example.com".to_owned()],
            vec!["api.example.com".to_owned(), "Other.TEST".to_owned()],
            vec!["*.example.com".to_owned(), "api.example.com".to_owned()],
            vec!["a*.bad.test".to_owned(), "*".to_owned(), "*.".to_owned()],
        ];
        SniTable::build(names.iter().enumerate().map(|(i, n)| (i, n.as_slice())), 0)
    }

    #[test]
    fn an_exact_name_beats_a_wildcard() {
        assert_eq!(table().pick(Some("api.example.com")), 2);
        assert_eq!(table().pick(Some("www.example.com")), 1);
    }

    #[test]
    fn a_wildcard_matches_exactly_one_label() {
        let table = table();
        assert_eq!(table.pick(Some("example.com")), 0);
        assert_eq!(table.pick(Some("a.b.example.com")), 0);
        assert_eq!(table.pick(Some(".example.com")), 0);
    }

    #[test]
    fn matching_ignores_case_and_a_trailing_dot() {
        let table = table();
        assert_eq!(table.pick(Some("API.Example.Com")), 2);
        assert_eq!(table.pick(Some("other.test.")), 2);
        assert_eq!(table.pick(Some("WWW.EXAMPLE.COM")), 1);
    }

    #[test]
    fn no_sni_or_an_unknown_name_gets_the_default() {
        let table = table();
        assert_eq!(table.pick(None), 0);
        assert_eq!(table.pick(Some("nowhere.test")), 0);
        assert_eq!(table.pick(Some("")), 0);
    }

    #[test]
    fn partial_wildcards_match_nothing() {
        let table = table();
        assert_eq!(table.pick(Some("ab.bad.test")), 0);
        assert_eq!(table.pick(Some("a*.bad.test")), 0);
        assert_eq!(table.pick(Some("anything")), 0);
    }

    #[test]
    fn the_first_pair_holding_a_name_gets_it() {
        let names = [vec!["x.test".to_owned()], vec!["x.test".to_owned()]];
        let table = SniTable::build(names.iter().enumerate().map(|(i, n)| (i, n.as_slice())), 1);
        assert_eq!(table.pick(Some("x.test")), 0);
    }
}
