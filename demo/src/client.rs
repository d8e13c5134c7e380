//! A minimal HTTP/1.1 GET client: the upstream calls of `/service` and `/clientapi`, and the
//! `skiff-demo get` command.
//!
//! Names go through the system resolver (`getaddrinfo`, so the pod's `/etc/hosts` and
//! `/etc/resolv.conf` with its search list and `ndots`), as the original applications' do.
//! Every call opens a fresh connection on purpose: a Service balances connections, and the
//! k8s-combat scenario must show successive calls reaching different replicas.

use std::io;
use std::net::SocketAddr;
use std::pin::pin;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper::header::{CONNECTION, HOST, USER_AGENT};
use hyper::{Request, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// The largest body the client reads; larger ones fail rather than exhaust a pod's memory.
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// A complete response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    /// The status code.
    pub status: StatusCode,
    /// The whole body.
    pub body: Bytes,
}

/// Why a GET did not produce a response.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The URL is not `http://host...`; [`crate::config::parse_http_url`] refuses these first.
    #[error("failed to use URL {0}: only http://host[:port]/path is supported")]
    UnsupportedUrl(String),
    /// The system resolver failed for the host.
    #[error("failed to resolve {host}: {source}")]
    Resolve {
        /// The host name.
        host: String,
        /// The resolver's error.
        source: io::Error,
    },
    /// The resolver answered no address.
    #[error("failed to resolve {0}: no addresses")]
    NoAddresses(String),
    /// No resolved address accepted a connection; the error is the last attempt's.
    #[error("failed to connect to {address}: {source}")]
    Connect {
        /// The last address tried.
        address: SocketAddr,
        /// Why it failed.
        source: io::Error,
    },
    /// The request could not be sent or the response not read.
    #[error("failed to get a response: {0}")]
    Http(#[from] hyper::Error),
    /// The body could not be read, or was larger than [`MAX_BODY_BYTES`].
    #[error("failed to read the body: {0}")]
    Body(String),
    /// The connection closed before a response arrived.
    #[error("failed to get a response: the connection closed first")]
    ClosedEarly,
    /// The whole exchange took longer than allowed.
    #[error("timed out after {} ms", .0.as_millis())]
    Timeout(Duration),
}

/// GETs `url` and reads the whole response, all within `timeout`.
pub async fn get(url: &Uri, timeout: Duration) -> Result<Fetched, ClientError> {
    tokio::time::timeout(timeout, get_unbounded(url))
        .await
        .map_err(|_| ClientError::Timeout(timeout))?
}

async fn get_unbounded(url: &Uri) -> Result<Fetched, ClientError> {
    let unsupported = || ClientError::UnsupportedUrl(url.to_string());
    if url.scheme_str() != Some("http") {
        return Err(unsupported());
    }
    let authority = url.authority().ok_or_else(unsupported)?;
    // `Uri::host` keeps an IPv6 literal's brackets; the resolver wants the bare address.
    let host = authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']');
    let port = authority.port_u16().unwrap_or(80);

    let stream = connect(host, port).await?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;

    let path = url.path_and_query().map_or("/", |p| p.as_str());
    let request = Request::get(path)
        .header(HOST, authority.as_str())
        .header(
            USER_AGENT,
            concat!("skiff-demo/", env!("CARGO_PKG_VERSION")),
        )
        .header(CONNECTION, "close")
        .body(Empty::<Bytes>::new())
        .map_err(|e| ClientError::Body(e.to_string()))?;

    let mut exchange = pin!(async move {
        let response = sender.send_request(request).await?;
        let status = response.status();
        let body = Limited::new(response.into_body(), MAX_BODY_BYTES)
            .collect()
            .await
            .map_err(|e| ClientError::Body(e.to_string()))?
            .to_bytes();
        Ok::<_, ClientError>(Fetched { status, body })
    });
    // The connection future does the I/O; it has to be polled alongside the exchange
    // rather than spawned, so that a timeout drops both and leaves no task behind.
    let mut connection = pin!(connection);
    tokio::select! {
        biased;
        fetched = &mut exchange => return fetched,
        closed = &mut connection => closed?,
    }
    // The server closed the connection (we asked it to). Whatever it sent is now buffered
    // in the response body, so the exchange can finish without the connection.
    match exchange.await {
        Err(ClientError::Http(e)) if e.is_canceled() => Err(ClientError::ClosedEarly),
        other => other,
    }
}

/// Resolves `host` and connects to the first address that accepts, as Go's dialer does.
async fn connect(host: &str, port: u16) -> Result<TcpStream, ClientError> {
    let addresses = tokio::net::lookup_host((host, port))
        .await
        .map_err(|source| ClientError::Resolve {
            host: host.to_string(),
            source,
        })?;
    let mut last_error = None;
    for address in addresses {
        match TcpStream::connect(address).await {
            Ok(stream) => {
                // Small request, small answer: don't let Nagle delay either.
                let _ = stream.set_nodelay(true);
                return Ok(stream);
            }
            Err(source) => last_error = Some(ClientError::Connect { address, source }),
        }
    }
    Err(last_error.unwrap_or_else(|| ClientError::NoAddresses(host.to_string())))
}
