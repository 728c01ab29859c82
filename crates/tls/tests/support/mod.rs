//! Shared by the tls crate's tests: certificates made by rcgen, pair files in a
//! temporary directory, a TLS echo server on 127.0.0.1 built on `ServerTls::accept`,
//! a tokio-rustls client that reports what it was served, and a poll with a deadline.
//! Every wait is bounded.

// Each test file uses its own part of this module.
#![allow(dead_code)]
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a panic is a failure report.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit};
use metrics_util::registry::{AtomicStorage, Registry};
use rustls::client::Resumption;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme, SupportedProtocolVersion};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use sluicegate_metrics::names;
use sluicegate_tls::{Alpn, MinVersion, PairSource, ServerParams, ServerTls};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsConnector;

/// Bound of every single network step in these tests (connect, handshake, one
/// read): far above what a loaded machine needs, so reaching it means a hang.
pub const STEP: Duration = Duration::from_secs(10);

/// How long a renewed certificate may take to be served (the watcher's promise).
pub const SWAP_WITHIN: Duration = Duration::from_secs(2);

/// A certificate and its key, as PEM, and the certificate's DER to recognise it.
#[derive(Clone)]
pub struct Pem {
    pub cert: String,
    pub key: String,
    pub der: CertificateDer<'static>,
}

/// A self-signed certificate for `names` (DNS SANs), its subject's common name the
/// first of them (so two certificates for different names have different issuers).
pub fn cert_for(names: &[&str]) -> Pem {
    let owned: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    let mut params = rcgen::CertificateParams::new(owned).expect("params");
    params.distinguished_name = rcgen::DistinguishedName::new();
    let cn = names.first().copied().unwrap_or("unnamed");
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, cn);
    signed(&params)
}

/// A self-signed certificate without SANs whose subject's common name is `cn`.
pub fn cert_with_cn_only(cn: &str) -> Pem {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, cn);
    signed(&params)
}

/// A self-signed certificate for `names` that expires on 1 January of `year`.
pub fn cert_expiring(names: &[&str], year: i32) -> Pem {
    let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    let mut params = rcgen::CertificateParams::new(names).expect("params");
    params.not_after = rcgen::date_time_ymd(year, 1, 1);
    signed(&params)
}

fn signed(params: &rcgen::CertificateParams) -> Pem {
    let key = rcgen::KeyPair::generate().expect("key");
    let cert = params.self_signed(&key).expect("self-signed");
    Pem {
        cert: cert.pem(),
        key: key.serialize_pem(),
        der: cert.der().clone(),
    }
}

/// Writes `pem` as `<name>.pem` and `<name>.key` in `dir`.
pub fn write_pair(dir: &Path, name: &str, pem: &Pem) -> PairSource {
    let source = PairSource {
        cert: dir.join(format!("{name}.pem")),
        key: dir.join(format!("{name}.key")),
    };
    std::fs::write(&source.cert, &pem.cert).expect("write cert");
    std::fs::write(&source.key, &pem.key).expect("write key");
    source
}

/// Server params of listener `listener` over `pairs`: TLS 1.2+, h2 then http/1.1.
pub fn params(listener: &str, pairs: Vec<PairSource>, default: usize) -> ServerParams {
    ServerParams {
        listener: listener.to_owned(),
        pairs,
        default,
        min_version: MinVersion::Tls12,
        alpn: vec![b"h2".to_vec(), b"http/1.1".to_vec()],
    }
}

/// One handshake as the server saw it: ALPN and SNI, or the error's text.
pub type Seen = Result<(Alpn, Option<String>), String>;

/// A TLS echo server on 127.0.0.1: each connection is handshaken by
/// `ServerTls::accept` (timeout `handshake`) on a task of its own, reported on `seen`,
/// then echoes what it reads. Stops when dropped.
pub struct EchoServer {
    pub addr: SocketAddr,
    pub seen: mpsc::UnboundedReceiver<Seen>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for EchoServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl EchoServer {
    pub async fn start(tls: Arc<ServerTls>, handshake: Duration) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (report, seen) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            while let Ok((tcp, _)) = listener.accept().await {
                let (tls, report) = (tls.clone(), report.clone());
                connections.spawn(async move {
                    match tls.accept(tcp, handshake).await {
                        Ok(done) => {
                            let _ = report.send(Ok((done.alpn, done.sni)));
                            echo(done.stream).await;
                        }
                        Err(error) => {
                            let _ = report.send(Err(format!("{error:?}")));
                        }
                    }
                });
            }
        });
        Self { addr, seen, task }
    }

    /// The next handshake the server reports.
    pub async fn next_seen(&mut self) -> Seen {
        tokio::time::timeout(STEP, self.seen.recv())
            .await
            .expect("the server reports a handshake in time")
            .expect("the server runs")
    }
}

async fn echo<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(mut stream: S) {
    let mut buf = [0u8; 1024];
    while let Ok(Ok(n @ 1..)) = tokio::time::timeout(STEP, stream.read(&mut buf)).await {
        if stream.write_all(&buf[..n]).await.is_err() || stream.flush().await.is_err() {
            return;
        }
    }
}

/// What a client was served.
pub struct Served {
    pub leaf: CertificateDer<'static>,
    pub alpn: Option<Vec<u8>>,
    pub stream: tokio_rustls::client::TlsStream<TcpStream>,
}

/// How the test client connects.
#[derive(Clone)]
pub struct Client {
    pub sni: Option<String>,
    pub alpn: Vec<Vec<u8>>,
    pub versions: Vec<&'static SupportedProtocolVersion>,
}

impl Client {
    /// A TLS 1.2/1.3 client sending `sni` (none for `None`) and no ALPN.
    pub fn sni(sni: Option<&str>) -> Self {
        Self {
            sni: sni.map(str::to_owned),
            alpn: Vec::new(),
            versions: rustls::DEFAULT_VERSIONS.to_vec(),
        }
    }

    /// Connects to `addr` and handshakes, with a fresh config (no session to resume,
    /// so the server sends its certificate every time), accepting any certificate.
    pub async fn connect(&self, addr: SocketAddr) -> io::Result<Served> {
        let config = self.config();
        let name = self
            .sni
            .clone()
            .unwrap_or_else(|| "unnamed.test".to_owned());
        let name = ServerName::try_from(name).map_err(io::Error::other)?;
        let handshake = async {
            let tcp = TcpStream::connect(addr).await?;
            TlsConnector::from(Arc::new(config))
                .connect(name, tcp)
                .await
        };
        let stream = tokio::time::timeout(STEP, handshake).await??;
        let (_, connection) = stream.get_ref();
        let leaf = connection
            .peer_certificates()
            .and_then(|chain| chain.first())
            .ok_or_else(|| io::Error::other("no certificate served"))?
            .clone()
            .into_owned();
        let alpn = connection.alpn_protocol().map(<[u8]>::to_vec);
        Ok(Served { leaf, alpn, stream })
    }

    fn config(&self) -> ClientConfig {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = Arc::new(AnyCertificate(provider.clone()));
        let mut config = ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&self.versions)
            .expect("versions")
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        config.alpn_protocols = self.alpn.clone();
        config.enable_sni = self.sni.is_some();
        config.resumption = Resumption::disabled();
        config
    }
}

/// The certificate a client sending `sni` is served by `addr`.
pub async fn served(addr: SocketAddr, sni: Option<&str>) -> CertificateDer<'static> {
    Client::sni(sni)
        .connect(addr)
        .await
        .expect("handshake")
        .leaf
}

/// Polls `probe` until it is true, for at most `within` (every 20 ms); whether it got
/// there.
pub async fn eventually<F, Fut>(within: Duration, mut probe: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    loop {
        if probe().await {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Writes `line` on `stream` and reads its echo back, within [`STEP`].
pub async fn round_trip<S>(stream: &mut S, line: &[u8]) -> Vec<u8>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let exchange = async {
        stream.write_all(line).await?;
        stream.flush().await?;
        let mut back = vec![0u8; line.len()];
        stream.read_exact(&mut back).await?;
        io::Result::Ok(back)
    };
    tokio::time::timeout(STEP, exchange)
        .await
        .expect("the echo comes back in time")
        .expect("the connection still works")
}

/// A temporary directory's path, kept alive by the returned guard.
pub fn temp_dir() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().to_path_buf();
    (dir, path)
}

/// A test client's verifier: any certificate (the tests look at which one was served).
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// A metrics recorder of a test's own that keeps every value (the debugging
/// recorder's snapshot resets them): a `ServerTls` loaded through it records its
/// series there, from any thread (the handles are registered at load).
pub struct Metrics {
    registry: Arc<Registry<Key, AtomicStorage>>,
}

impl Metrics {
    pub fn new() -> Self {
        Self {
            registry: Arc::new(Registry::atomic()),
        }
    }

    /// `ServerTls::load(params)` with this recorder.
    pub fn load(&self, params: ServerParams) -> Arc<ServerTls> {
        let recorder = Recording(self.registry.clone());
        metrics::with_local_recorder(&recorder, || ServerTls::load(params)).expect("load")
    }

    fn key(name: &'static str, labels: &[(&'static str, &str)]) -> Key {
        let labels = labels
            .iter()
            .map(|(k, v)| metrics::Label::new(*k, (*v).to_owned()));
        Key::from_parts(name, labels.collect::<Vec<_>>())
    }

    /// `sluicegate_tls_certificate_reloads_total{listener, result}`.
    pub fn reloads(&self, listener: &str, result: &str) -> u64 {
        let key = Self::key(
            names::TLS_CERTIFICATE_RELOADS_TOTAL,
            &[("listener", listener), ("result", result)],
        );
        let counter = self
            .registry
            .get_counter(&key)
            .expect("the reload counter is registered");
        counter.load(Ordering::SeqCst)
    }

    /// `sluicegate_tls_certificate_expiry_seconds{listener, certificate}`.
    pub fn expiry(&self, listener: &str, cert: &Path) -> f64 {
        let cert = cert.display().to_string();
        let labels = [("listener", listener), ("certificate", cert.as_str())];
        let key = Self::key(names::TLS_CERTIFICATE_EXPIRY_SECONDS, &labels);
        let gauge = self
            .registry
            .get_gauge(&key)
            .expect("the expiry gauge is registered");
        f64::from_bits(gauge.load(Ordering::SeqCst))
    }
}

struct Recording(Arc<Registry<Key, AtomicStorage>>);

impl Recorder for Recording {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        Counter::from_arc(self.0.get_or_create_counter(key, Arc::clone))
    }

    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::from_arc(self.0.get_or_create_gauge(key, Arc::clone))
    }

    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::from_arc(self.0.get_or_create_histogram(key, Arc::clone))
    }
}
