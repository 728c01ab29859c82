//! A connection to one etcd member, authenticated when the spec has credentials, and
//! the two calls a source makes: read a prefix (`Range`) and watch it (`Watch`), over
//! tonic's gRPC client on one HTTP/2 connection.
//!
//! The members are tried in the spec's order from a rotating start, each within the
//! spec's `timeout`, the first that answers serving the session; HTTP/2 PINGs find a
//! member that vanished without closing (a partition), so a watch never hangs on a
//! dead connection.

use std::time::Duration;

use sluicegate_config::EtcdSpec;
use tonic::client::Grpc;
use tonic::metadata::{AsciiMetadataValue, MetadataValue};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};
use tonic::{Request, Status, Streaming};
use tonic_prost::ProstCodec;

use crate::etcd::proto::{
    AUTHENTICATE, AuthenticateRequest, AuthenticateResponse, KeyValue, RANGE, RangeRequest,
    RangeResponse, WATCH, WatchCreateRequest, WatchProgressRequest, WatchRequest, WatchResponse,
    prefix_end,
};

/// Largest response accepted: a prefix of tens of thousands of registrations
/// (tonic's default, 4 MiB, is about 40,000 small values).
const MAX_RESPONSE: usize = 64 << 20;
/// HTTP/2 PING interval on the connection, and the wait for its answer.
const KEEPALIVE: (Duration, Duration) = (Duration::from_secs(10), Duration::from_secs(5));
/// How often a watch asks for a progress response: each one tells the source that
/// etcd still answers and its set is current (etcd's own notifications come every
/// 10 minutes).
const PROGRESS_EVERY: Duration = Duration::from_secs(30);

/// An open, authenticated connection to one member.
pub(crate) struct EtcdClient {
    grpc: Grpc<Channel>,
    token: Option<AsciiMetadataValue>,
    timeout: Duration,
    /// The member's URL, for messages.
    pub(crate) member: String,
}

/// A gRPC failure as a message: its text and code.
fn status(what: &str, member: &str, s: &Status) -> String {
    format!("{what} at {member}: {} ({:?})", s.message(), s.code())
}

impl EtcdClient {
    /// Connects to the first member that answers, trying them from `start` on.
    pub(crate) async fn connect(spec: &EtcdSpec, start: usize) -> Result<Self, String> {
        let tls = tls(spec).await?;
        let mut why = Vec::new();
        for i in 0..spec.endpoints.len() {
            let at = (start + i) % spec.endpoints.len();
            match Self::connect_to(spec, &spec.endpoints[at], tls.clone()).await {
                Ok(client) => return Ok(client),
                Err(e) => why.push((at, e)),
            }
        }
        // In the spec's order whatever member was tried first, so the same outage
        // reads the same (the reload side logs a failure again only when it changes).
        why.sort();
        let why: Vec<String> = why.into_iter().map(|(_, e)| e).collect();
        Err(why.join("; "))
    }

    async fn connect_to(
        spec: &EtcdSpec,
        member: &str,
        tls: Option<ClientTlsConfig>,
    ) -> Result<Self, String> {
        let invalid = |e: tonic::transport::Error| format!("{member}: {e}");
        let mut endpoint = Endpoint::from_shared(member.to_owned())
            .map_err(invalid)?
            .connect_timeout(spec.timeout)
            .tcp_nodelay(true)
            .http2_keep_alive_interval(KEEPALIVE.0)
            .keep_alive_timeout(KEEPALIVE.1)
            .keep_alive_while_idle(true);
        if let Some(tls) = tls {
            endpoint = endpoint.tls_config(tls).map_err(invalid)?;
        }
        let connect = tokio::time::timeout(spec.timeout, endpoint.connect());
        let channel = match connect.await {
            Ok(Ok(channel)) => channel,
            Ok(Err(e)) => return Err(format!("cannot connect to {member}: {}", source_of(&e))),
            Err(_) => {
                return Err(format!(
                    "cannot connect to {member}: no answer within {:?}",
                    spec.timeout
                ));
            }
        };
        let mut client = EtcdClient {
            grpc: Grpc::new(channel).max_decoding_message_size(MAX_RESPONSE),
            token: None,
            timeout: spec.timeout,
            member: member.to_owned(),
        };
        if let Some((name, password)) = &spec.credentials {
            client.authenticate(name, password).await?;
        }
        Ok(client)
    }

    async fn authenticate(&mut self, name: &str, password: &str) -> Result<(), String> {
        let request = AuthenticateRequest {
            name: name.to_owned(),
            password: password.to_owned(),
        };
        let response: AuthenticateResponse =
            self.unary(request, AUTHENTICATE, "authenticate").await?;
        let token = MetadataValue::try_from(response.token.as_str())
            .map_err(|_| format!("authenticate at {}: the token is not ASCII", self.member))?;
        self.token = Some(token);
        Ok(())
    }

    /// Every key under `prefix`, and the store's revision they were read at.
    pub(crate) async fn range(&mut self, prefix: &[u8]) -> Result<(i64, Vec<KeyValue>), String> {
        let request = RangeRequest {
            key: prefix.to_vec(),
            range_end: prefix_end(prefix),
        };
        let response: RangeResponse = self.unary(request, RANGE, "read the prefix").await?;
        let Some(header) = response.header else {
            return Err(format!(
                "read the prefix at {}: no revision in the answer",
                self.member
            ));
        };
        Ok((header.revision, response.kvs))
    }

    /// Watches every key under `prefix` from revision `start` on, asking for a
    /// progress response every [`PROGRESS_EVERY`]. The watch requires a leader
    /// (`hasleader`, etcd's `WithRequireLeader`): a member cut off from its cluster
    /// ends it rather than keeping it open and silent.
    pub(crate) async fn watch(
        &mut self,
        prefix: &[u8],
        start: i64,
    ) -> Result<Streaming<WatchResponse>, String> {
        let create = WatchRequest {
            create_request: Some(WatchCreateRequest {
                key: prefix.to_vec(),
                range_end: prefix_end(prefix),
                start_revision: start,
                progress_notify: true,
            }),
            progress_request: None,
        };
        // The request stream stays open: etcd ends a watch whose client half-closes.
        let progress = futures_util::stream::unfold((), |()| async {
            tokio::time::sleep(PROGRESS_EVERY).await;
            let ask = WatchRequest {
                create_request: None,
                progress_request: Some(WatchProgressRequest {}),
            };
            Some((ask, ()))
        });
        let requests = futures_util::stream::iter([create]).chain(progress);
        let mut request = self.request(requests);
        request
            .metadata_mut()
            .insert("hasleader", AsciiMetadataValue::from_static("true"));
        let member = self.member.clone();
        self.ready().await?;
        let call = self.grpc.streaming(request, WATCH, ProstCodec::default());
        match tokio::time::timeout(self.timeout, call).await {
            Ok(Ok(response)) => Ok(response.into_inner()),
            Ok(Err(s)) => Err(status("watch", &member, &s)),
            Err(_) => Err(format!(
                "watch at {member}: no answer within {:?}",
                self.timeout
            )),
        }
    }

    async fn unary<M, R>(
        &mut self,
        message: M,
        path: http::uri::PathAndQuery,
        what: &str,
    ) -> Result<R, String>
    where
        M: prost::Message + Send + Sync + 'static,
        R: prost::Message + Default + Send + Sync + 'static,
    {
        self.ready().await?;
        let request = self.request(message);
        let call = self.grpc.unary(request, path, ProstCodec::default());
        match tokio::time::timeout(self.timeout, call).await {
            Ok(Ok(response)) => Ok(response.into_inner()),
            Ok(Err(s)) => Err(status(what, &self.member, &s)),
            Err(_) => Err(format!(
                "{what} at {}: no answer within {:?}",
                self.member, self.timeout
            )),
        }
    }

    async fn ready(&mut self) -> Result<(), String> {
        let ready = tokio::time::timeout(self.timeout, self.grpc.ready());
        match ready.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(format!("{}: {e}", self.member)),
            Err(_) => Err(format!(
                "{}: not ready within {:?}",
                self.member, self.timeout
            )),
        }
    }

    /// `message` as a request carrying the session's token.
    fn request<T>(&self, message: T) -> Request<T> {
        let mut request = Request::new(message);
        if let Some(token) = &self.token {
            request.metadata_mut().insert("token", token.clone());
        }
        request
    }
}

use futures_util::StreamExt as _;

/// The TLS config of `https` endpoints: the spec's CA (or the system's) and client
/// certificate; `None` for `http`.
async fn tls(spec: &EtcdSpec) -> Result<Option<ClientTlsConfig>, String> {
    if !spec.endpoints.iter().any(|e| e.starts_with("https://")) {
        return Ok(None);
    }
    // A few KiB, read at each connect: too small to be worth the blocking pool.
    let read = |path: std::path::PathBuf| async move {
        std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))
    };
    let mut config = ClientTlsConfig::new();
    let files = spec.tls.clone().unwrap_or(sluicegate_config::EtcdTlsSpec {
        ca: None,
        identity: None,
    });
    config = match files.ca {
        Some(ca) => config.ca_certificate(Certificate::from_pem(read(ca).await?)),
        None => config.with_native_roots(),
    };
    if let Some((cert, key)) = files.identity {
        config = config.identity(Identity::from_pem(read(cert).await?, read(key).await?));
    }
    Ok(Some(config))
}

/// The innermost cause of a transport error (tonic's own text is "transport error").
fn source_of(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}
