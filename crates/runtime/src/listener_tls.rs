//! A listener's TLS termination, compiled from its `tls:` spec: the certificates read
//! and checked (`sluicegate_tls::ServerTls`), their files watched, the handshake
//! timeout. A listener whose `tls:` spec is unchanged across a reload keeps the same
//! [`ListenerTls`] (its watcher, its loaded pairs), re-read from disk at the reload.

use std::sync::Arc;
use std::time::Duration;

use sluicegate_config::{Alpn, ListenerSpec, ListenerTlsSpec, TlsVersion};
use sluicegate_tls::{CertWatch, Field, MinVersion, PairSource, ServerParams, ServerTls};

use crate::snapshot::Snapshot;

/// A listener's compiled TLS termination.
#[derive(Debug)]
pub struct ListenerTls {
    /// The certificates and the rustls config.
    pub server: Arc<ServerTls>,
    /// Time a client gets for its handshake.
    pub handshake_timeout: Duration,
    /// The spec it was built from (to be kept by a reload that does not change it).
    spec: ListenerTlsSpec,
    /// Re-reads changed certificate files; `None` when the watch could not start.
    _watch: Option<CertWatch>,
}

/// `(YAML path, message)` of each certificate that could not be loaded.
pub(crate) type TlsErrors = Vec<(String, String)>;

/// The TLS termination of listener `spec`, or `None` for a cleartext one: the one
/// of the same listener in `previous` when its spec is the same (its files re-read
/// now, so a reload also picks up certificates changed on disk), else loaded anew.
pub(crate) fn listener_tls(
    spec: &ListenerSpec,
    previous: Option<&Snapshot>,
) -> Result<Option<Arc<ListenerTls>>, TlsErrors> {
    let Some(tls) = &spec.tls else {
        return Ok(None);
    };
    let kept = previous
        .and_then(|p| p.listener(spec.name.as_str()))
        .and_then(|l| l.tls.as_ref())
        .filter(|t| t.spec == *tls);
    if let Some(kept) = kept {
        kept.server.refresh();
        return Ok(Some(kept.clone()));
    }
    let at = format!("listeners.{}.tls", spec.name);
    let server = ServerTls::load(params(spec.name.as_str(), tls)).map_err(|errors| {
        errors
            .into_iter()
            .map(|e| {
                let file = match e.field {
                    Field::Cert => "cert",
                    Field::Key => "key",
                };
                (format!("{at}.certificates[{}].{file}", e.index), e.message)
            })
            .collect::<TlsErrors>()
    })?;
    let watch = server
        .watch()
        .inspect_err(|e| {
            tracing::warn!("{at}: certificate files are not watched ({e}): a reload re-reads them")
        })
        .ok();
    Ok(Some(Arc::new(ListenerTls {
        server,
        handshake_timeout: tls.handshake_timeout,
        spec: tls.clone(),
        _watch: watch,
    })))
}

fn params(listener: &str, tls: &ListenerTlsSpec) -> ServerParams {
    ServerParams {
        listener: listener.to_owned(),
        pairs: tls
            .certificates
            .iter()
            .map(|c| PairSource {
                cert: c.cert.clone(),
                key: c.key.clone(),
            })
            .collect(),
        default: tls.default_certificate,
        min_version: match tls.min_version {
            TlsVersion::V1_2 => MinVersion::Tls12,
            TlsVersion::V1_3 => MinVersion::Tls13,
        },
        alpn: tls
            .alpn
            .iter()
            .map(|a| match a {
                Alpn::H2 => b"h2".to_vec(),
                Alpn::Http1 => b"http/1.1".to_vec(),
            })
            .collect(),
    }
}
