//! An ordered route table: first match wins.

use http::request::Parts;

use crate::Matcher;

/// One compiled route.
#[derive(Clone, Debug)]
pub struct Route {
    /// Its conditions.
    pub matcher: Matcher,
    /// Index of the target cluster in the snapshot.
    pub cluster: usize,
}

/// The routes of one listener, tried in order.
#[derive(Clone, Debug, Default)]
pub struct RouteTable {
    routes: Vec<Route>,
}

impl RouteTable {
    /// A table trying `routes` in this order.
    pub fn new(routes: Vec<Route>) -> Self {
        Self { routes }
    }

    /// Number of routes.
    pub fn len(&self) -> usize {
        self.routes.len()
    }

    /// Whether it has no route (every request gets 404).
    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }

    /// The cluster index of the first route that matches, or `None` (→ 404).
    pub fn route(&self, head: &Parts) -> Option<usize> {
        self.matched(head).map(|(_, cluster)| cluster)
    }

    /// The index of the first route that matches and its cluster index.
    pub fn matched(&self, head: &Parts) -> Option<(usize, usize)> {
        self.routes
            .iter()
            .enumerate()
            .find(|(_, r)| r.matcher.matches(head))
            .map(|(i, r)| (i, r.cluster))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{HostPattern, PathPattern};

    fn head(method: &str, uri: &str, headers: &[(&str, &str)]) -> Parts {
        let mut b = http::Request::builder().method(method).uri(uri);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(()).unwrap().into_parts().0
    }

    #[test]
    fn first_match_wins_and_no_match_is_none() {
        let api = Matcher {
            host: Some(HostPattern::Exact("api.example.com".into())),
            path: Some(PathPattern::Prefix("/v1".into())),
            ..Matcher::default()
        };
        let posts = Matcher {
            methods: vec![http::Method::POST],
            headers: vec![(http::HeaderName::from_static("x-team"), "blue".into())],
            ..Matcher::default()
        };
        let table = RouteTable::new(vec![
            Route {
                matcher: api,
                cluster: 0,
            },
            Route {
                matcher: posts,
                cluster: 1,
            },
            Route {
                matcher: Matcher {
                    path: Some(PathPattern::Exact("/health".into())),
                    ..Matcher::default()
                },
                cluster: 2,
            },
        ]);
        let h = [("host", "api.example.com")];
        assert_eq!(table.route(&head("GET", "/v1/users", &h)), Some(0));
        assert_eq!(table.route(&head("GET", "/v10", &h)), None);
        assert_eq!(
            table.route(&head("POST", "/x", &[("x-team", "blue")])),
            Some(1)
        );
        assert_eq!(table.route(&head("GET", "/x", &[("x-team", "blue")])), None);
        assert_eq!(table.route(&head("POST", "/x", &[("x-team", "red")])), None);
        assert_eq!(table.route(&head("GET", "/health?x=1", &[])), Some(2));
    }
}
