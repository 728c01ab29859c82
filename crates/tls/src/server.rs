//! A terminating listener's TLS: its certificate pairs loaded and checked, the rustls
//! server config around the SNI resolver, and its metrics.

use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use rustls::ServerConfig;
use rustls::crypto::CryptoProvider;
use rustls::version::{TLS12, TLS13};
use sluicegate_metrics::TlsSeries;

use crate::cert_set::CertSet;
use crate::error::{Field, TlsError};
use crate::expiry;
use crate::loaded_pair::LoadedPair;
use crate::params::{MinVersion, ServerParams};
use crate::resolver::SniResolver;

/// A loaded terminating TLS config: the rustls server config with an SNI resolver whose
/// pairs can be swapped while connections are open ([`ServerTls::refresh`],
/// [`ServerTls::watch`]). Shared as `Arc<ServerTls>`.
pub struct ServerTls {
    pub(crate) params: ServerParams,
    pub(crate) config: Arc<ServerConfig>,
    pub(crate) resolver: Arc<SniResolver>,
    pub(crate) provider: Arc<CryptoProvider>,
    pub(crate) series: TlsSeries,
    /// Held while pairs are re-read, so two re-reads (a watcher's and a `refresh`)
    /// cannot both start from the same set and lose one's swap. Never taken by a
    /// handshake.
    pub(crate) rereading: Mutex<()>,
}

/// The params and the certificates served; not the rustls config (long, and nothing a
/// log needs).
impl fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerTls")
            .field("params", &self.params)
            .field("certificates", &self.certificates())
            .finish_non_exhaustive()
    }
}

/// One served certificate, for `/status`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertInfo {
    /// The certificate file, as configured.
    pub cert: PathBuf,
    /// The names it serves: its DNS SANs (or, without any, its subject's common names).
    pub names: Vec<String>,
    /// When it expires.
    pub not_after: SystemTime,
}

impl ServerTls {
    /// Reads and checks every pair of `params` (blocking file I/O: call it from the
    /// compile step, not from a runtime thread) and builds the server config. Every
    /// error of every pair is returned. A certificate that is expired or expires within
    /// 30 days is logged as a warning, not refused.
    pub fn load(params: ServerParams) -> Result<Arc<ServerTls>, Vec<TlsError>> {
        check_shape(&params)?;
        let provider = crate::provider::ring();
        let pairs = load_pairs(&params, &provider)?;
        let certs: Vec<String> = params
            .pairs
            .iter()
            .map(|p| p.cert.display().to_string())
            .collect();
        let series = TlsSeries::register(&params.listener, &certs);
        let now = SystemTime::now();
        for (index, (pair, source)) in pairs.iter().zip(&params.pairs).enumerate() {
            expiry::warn_if_near(&params.listener, &source.cert, &pair.facts, now);
            series.expires(index, expiry::unix_seconds(pair.facts.not_after));
        }
        let resolver = Arc::new(SniResolver::new(CertSet::new(pairs, params.default)));
        // Cannot fail with ring and TLS 1.2/1.3; if it did, it is the listener's error,
        // reported on its default pair.
        let config = server_config(&params, resolver.clone(), provider.clone()).map_err(|e| {
            let message = format!("cannot build the TLS server config: {e}");
            vec![TlsError::new(params.default, Field::Cert, message)]
        })?;
        Ok(Arc::new(ServerTls {
            params,
            config: Arc::new(config),
            resolver,
            provider,
            series,
            rereading: Mutex::new(()),
        }))
    }

    /// What this was loaded from.
    pub fn params(&self) -> &ServerParams {
        &self.params
    }

    /// The certificates served now, in the order of [`ServerParams::pairs`].
    pub fn certificates(&self) -> Vec<CertInfo> {
        let set = self.resolver.current();
        set.pairs
            .iter()
            .zip(&self.params.pairs)
            .map(|(pair, source)| CertInfo {
                cert: source.cert.clone(),
                names: pair.facts.names.clone(),
                not_after: pair.facts.not_after,
            })
            .collect()
    }

    /// Keeps this listener's TLS series alive through the next scrape (see the
    /// `sluicegate-metrics` crate docs): the binary calls it with the rest of the live
    /// config's series.
    pub fn touch_metrics(&self) {
        self.series.touch();
    }
}

/// Errors that concern the pair list itself, not a pair's files.
fn check_shape(params: &ServerParams) -> Result<(), Vec<TlsError>> {
    if params.pairs.is_empty() {
        let message = "no certificate configured".to_owned();
        return Err(vec![TlsError::new(0, Field::Cert, message)]);
    }
    if params.default >= params.pairs.len() {
        let message = format!(
            "the default certificate is number {} but only {} are configured",
            params.default,
            params.pairs.len()
        );
        return Err(vec![TlsError::new(params.default, Field::Cert, message)]);
    }
    Ok(())
}

/// Every pair, or the errors of all the pairs that failed.
fn load_pairs(
    params: &ServerParams,
    provider: &CryptoProvider,
) -> Result<Vec<Arc<LoadedPair>>, Vec<TlsError>> {
    let mut pairs = Vec::with_capacity(params.pairs.len());
    let mut errors = Vec::new();
    for (index, source) in params.pairs.iter().enumerate() {
        match LoadedPair::read(index, source, provider) {
            Ok(pair) => pairs.push(Arc::new(pair)),
            Err(found) => errors.extend(found),
        }
    }
    if errors.is_empty() {
        Ok(pairs)
    } else {
        Err(errors)
    }
}

/// TLS 1.2 and 1.3 (1.3 alone for [`MinVersion::Tls13`]), the provider's default cipher
/// suites, ALPN as given, session resumption as rustls's defaults, 0-RTT refused.
fn server_config(
    params: &ServerParams,
    resolver: Arc<SniResolver>,
    provider: Arc<CryptoProvider>,
) -> Result<ServerConfig, rustls::Error> {
    let versions: &[&rustls::SupportedProtocolVersion] = match params.min_version {
        MinVersion::Tls12 => &[&TLS13, &TLS12],
        MinVersion::Tls13 => &[&TLS13],
    };
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)?
        .with_no_client_auth()
        .with_cert_resolver(resolver);
    config.alpn_protocols = params.alpn.clone();
    // 0-RTT refused: early data can be replayed by anyone who saw it, and the proxy
    // cannot know which requests are safe to replay at the backend.
    config.max_early_data_size = 0;
    Ok(config)
}
