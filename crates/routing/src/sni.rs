//! The route table of a `tls_passthrough` listener: the ClientHello's server name to
//! a cluster. Exact names are tried before wildcards (the config sorts them so), in
//! file order within each, as HTTP hosts are; no name, or none that matches, goes to
//! the default cluster, if there is one.

use crate::matcher::HostPattern;

/// Server names to cluster indices, with the default.
#[derive(Clone, Debug, Default)]
pub struct SniTable {
    routes: Vec<(HostPattern, usize)>,
    default: Option<usize>,
}

impl SniTable {
    /// A table of `routes` (tried in this order) and `default` for the rest.
    pub fn new(routes: Vec<(HostPattern, usize)>, default: Option<usize>) -> Self {
        Self { routes, default }
    }

    /// The cluster for a ClientHello naming `sni` (`None`: it named no server), or
    /// `None` when no route takes it and there is no default.
    pub fn route(&self, sni: Option<&str>) -> Option<usize> {
        let named = sni.and_then(|name| {
            let name = name.strip_suffix('.').unwrap_or(name);
            self.routes.iter().find(|(p, _)| p.matches(name))
        });
        named.map(|(_, cluster)| *cluster).or(self.default)
    }

    /// Every cluster index it can route to, the default included.
    pub fn clusters(&self) -> impl Iterator<Item = usize> + '_ {
        self.routes.iter().map(|(_, c)| *c).chain(self.default)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> SniTable {
        SniTable::new(
            vec![
                (HostPattern::Exact("api.example.com".into()), 0),
                (HostPattern::Suffix(".example.com".into()), 1),
            ],
            Some(2),
        )
    }

    #[test]
    fn exact_beats_wildcard_and_the_rest_goes_to_the_default() {
        let t = table();
        assert_eq!(t.route(Some("api.example.com")), Some(0));
        assert_eq!(t.route(Some("API.Example.com")), Some(0));
        assert_eq!(t.route(Some("www.example.com")), Some(1));
        assert_eq!(t.route(Some("api.example.com.")), Some(0));
        // A wildcard needs a label before its suffix.
        assert_eq!(t.route(Some("example.com")), Some(2));
        assert_eq!(t.route(Some("other.org")), Some(2));
        assert_eq!(t.route(None), Some(2));
    }

    #[test]
    fn without_a_default_an_unmatched_name_has_no_cluster() {
        let t = SniTable::new(vec![(HostPattern::Exact("a.example".into()), 0)], None);
        assert_eq!(t.route(Some("b.example")), None);
        assert_eq!(t.route(None), None);
        assert_eq!(t.clusters().collect::<Vec<_>>(), [0]);
    }
}
