//! One route's conditions.

use http::request::Parts;

use crate::request_host;

/// A host condition (lower case, no port).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HostPattern {
    /// Exactly this host.
    Exact(String),
    /// Any host ending in this suffix (which starts with a dot) with at least one
    /// character before it: `.example.com` matches `a.example.com`, not `example.com`.
    Suffix(String),
}

impl HostPattern {
    /// Whether `host` matches (ASCII case ignored).
    pub fn matches(&self, host: &str) -> bool {
        match self {
            HostPattern::Exact(h) => host.eq_ignore_ascii_case(h),
            HostPattern::Suffix(s) => {
                host.len() > s.len()
                    && host.is_char_boundary(host.len() - s.len())
                    && host[host.len() - s.len()..].eq_ignore_ascii_case(s)
            }
        }
    }
}

/// A path condition, on the path without the query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathPattern {
    /// Exactly this path.
    Exact(String),
    /// This path or one below it, segment-aware: `/v1` matches `/v1` and `/v1/x`,
    /// not `/v10`.
    Prefix(String),
}

impl PathPattern {
    fn matches(&self, path: &str) -> bool {
        match self {
            PathPattern::Exact(p) => path == p,
            PathPattern::Prefix(p) => match path.strip_prefix(p.as_str()) {
                None => false,
                Some(rest) => p.ends_with('/') || rest.is_empty() || rest.starts_with('/'),
            },
        }
    }
}

/// All conditions of one route; each given one must hold. The default matches everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Matcher {
    /// Host condition.
    pub host: Option<HostPattern>,
    /// Path condition.
    pub path: Option<PathPattern>,
    /// Allowed methods; empty means any.
    pub methods: Vec<http::Method>,
    /// Required headers: name and exact value (any of the header's values may match).
    pub headers: Vec<(http::HeaderName, String)>,
}

impl Matcher {
    /// Whether a request head satisfies every condition.
    pub fn matches(&self, head: &Parts) -> bool {
        if let Some(pattern) = &self.host {
            match request_host(head) {
                Some(host) if pattern.matches(host) => {}
                _ => return false,
            }
        }
        if let Some(pattern) = &self.path
            && !pattern.matches(head.uri.path())
        {
            return false;
        }
        if !self.methods.is_empty() && !self.methods.contains(&head.method) {
            return false;
        }
        self.headers.iter().all(|(name, value)| {
            head.headers
                .get_all(name)
                .iter()
                .any(|v| v.as_bytes() == value.as_bytes())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_is_segment_aware() {
        let p = PathPattern::Prefix("/v1".into());
        assert!(p.matches("/v1"));
        assert!(p.matches("/v1/x"));
        assert!(!p.matches("/v10"));
        assert!(!p.matches("/v"));
        let root = PathPattern::Prefix("/".into());
        assert!(root.matches("/anything/at/all"));
        let slash = PathPattern::Prefix("/v1/".into());
        assert!(slash.matches("/v1/x"));
        assert!(!slash.matches("/v1"));
    }

    #[test]
    fn hosts_exact_and_wildcard() {
        let exact = HostPattern::Exact("api.example.com".into());
        assert!(exact.matches("API.Example.com"));
        assert!(!exact.matches("www.example.com"));
        let wild = HostPattern::Suffix(".example.com".into());
        assert!(wild.matches("a.example.com"));
        assert!(wild.matches("a.b.EXAMPLE.com"));
        assert!(!wild.matches("example.com"));
        assert!(!wild.matches("badexample.com"));
    }
}
