//! Raw → validated: typed values, defaults, references; every error collected. Each
//! part of the file is validated in its own file (`listeners.rs`, `cluster.rs`,
//! `admin.rs`, …); this one puts them together.

use crate::error::ConfigErrors;
use crate::errors::Errors;
use crate::raw::RawConfig;
use crate::resolve::{Lookups, Resolver};
use crate::spec::{ClusterSpec, Config, defaults};
use crate::{admin, cluster, listeners};

/// Validates raw config; `text` is the source, used only to locate errors. Backend
/// host names are looked up with `resolver`, each distinct one once.
pub(crate) fn validate(
    raw: &RawConfig,
    text: &str,
    resolver: Resolver<'_>,
) -> Result<Config, ConfigErrors> {
    let mut errors = Errors::new(text);
    if raw.listeners.is_empty() {
        errors.push("listeners", "at least one listener is required");
    }
    let lookups = Lookups::of(crate::backends::names(raw), resolver);
    let clusters: Vec<ClusterSpec> = raw
        .clusters
        .iter()
        .filter_map(|(name, c)| cluster::cluster(&mut errors, name, c, &lookups))
        .collect();
    let listeners = listeners::listeners(&mut errors, raw, &raw.clusters);
    let drain_timeout = errors.duration(
        "drain_timeout".into(),
        raw.drain_timeout.as_deref(),
        defaults::DRAIN_TIMEOUT,
    );
    let reload_debounce = errors.duration(
        "reload.debounce".into(),
        raw.reload.as_ref().and_then(|r| r.debounce.as_deref()),
        defaults::RELOAD_DEBOUNCE,
    );
    let admin = admin::admin(&mut errors, raw.admin.as_ref());
    let max_connections = raw.max_connections.map(|n| {
        let (lo, hi) = (1, listeners::MAX_CONNECTIONS);
        crate::numbers::count(&mut errors, "max_connections".into(), Some(n), lo, lo, hi)
    });
    errors.finish()?;
    Ok(Config {
        listeners,
        clusters,
        drain_timeout,
        access_log: raw.access_log.unwrap_or(false),
        reload_debounce,
        admin,
        max_connections,
    })
}
