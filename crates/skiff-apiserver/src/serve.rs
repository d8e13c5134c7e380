//! The HTTPS listener: TLS with ALPN (HTTP/2 and HTTP/1.1), bearer-token
//! authentication, and the routes that are not resources (health, discovery,
//! OpenAPI).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use crate::codec::{json_response, MAX_BODY_BYTES};
use crate::status::ApiError;
use crate::{discovery, handler, openapi, ApiState, StartError};

/// A server that is listening.
pub struct RunningServer {
    pub addr: SocketAddr,
    state: Arc<ApiState>,
    task: tokio::task::JoinHandle<()>,
}

impl RunningServer {
    pub fn ca_cert_pem(&self) -> &str {
        &self.state.identity.ca_cert_pem
    }

    pub fn admin_token(&self) -> &str {
        &self.state.identity.admin_token
    }

    pub fn component_token(&self) -> &str {
        &self.state.identity.component_token
    }

    /// Serves until the listener fails or the task is aborted.
    pub async fn wait(self) {
        let _ = self.task.await;
    }
}

fn router(state: Arc<ApiState>) -> Router {
    let ok = || async { "ok" };
    let public = Router::new()
        .route("/healthz", get(ok))
        .route("/livez", get(ok))
        .route("/readyz", get(ok))
        .route(
            "/version",
            get(|| async { json_response(StatusCode::OK, &discovery::version()) }),
        );
    let private = Router::new()
        .route(
            "/api",
            get(|State(s): State<Arc<ApiState>>| async move {
                json_response(StatusCode::OK, &discovery::core_versions(&s.advertised))
            }),
        )
        .route(
            "/apis",
            get(|| async { json_response(StatusCode::OK, &discovery::group_list()) }),
        )
        .route(
            "/openapi/v3",
            get(|| async { json_response(StatusCode::OK, &openapi::index()) }),
        )
        .route("/openapi/v3/{*path}", get(openapi_document))
        .route("/openapi/v2", get(openapi_v2))
        .fallback(resources)
        .layer(middleware::from_fn_with_state(state.clone(), authenticate));
    public.merge(private).with_state(state)
}

async fn openapi_document(axum::extract::Path(path): axum::extract::Path<String>) -> Response {
    match openapi::document(&path) {
        Some(doc) => json_response(StatusCode::OK, &doc),
        None => ApiError::path_not_found().into_response(),
    }
}

/// The OpenAPI v2 document, which kubectl reads only where v3 has no answer (a
/// `kind: List`, whose items it then validates one by one). It holds no schemas:
/// kubectl skips client-side checks of kinds it finds no schema for, and the
/// server validates every item strictly when it is created.
async fn openapi_v2(headers: axum::http::HeaderMap) -> Response {
    let wants_protobuf = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("protobuf"));
    if wants_protobuf {
        let mut response = Response::new(Body::from(openapi::V2_PROTOBUF));
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            axum::http::HeaderValue::from_static(
                "application/com.github.proto-openapi.spec.v2.v1.0+protobuf",
            ),
        );
        return response;
    }
    json_response(StatusCode::OK, &openapi::v2_document())
}

/// Discovery of one group or group/version, and every resource request.
async fn resources(State(state): State<Arc<ApiState>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path().to_string();
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    if parts.method == Method::GET {
        let doc = match segments.as_slice() {
            ["api", version] => discovery::resource_list("", version),
            ["apis", group] => discovery::group(group),
            ["apis", group, version] => discovery::resource_list(group, version),
            _ => None,
        };
        if let Some(doc) = doc {
            return json_response(StatusCode::OK, &doc);
        }
    }
    let body = match read_body(body).await {
        Some(bytes) => bytes,
        None => return ApiError::too_large(MAX_BODY_BYTES).into_response(),
    };
    handler::handle(
        state,
        parts.method,
        &path,
        parts.uri.query(),
        parts.headers,
        body,
    )
    .await
}

/// The most of an oversized body the server reads (and throws away) so that the
/// client gets its 413 instead of a reset connection.
const MAX_DRAINED_BYTES: usize = 64 * 1024 * 1024;

/// Reads a request body, or `None` if it is larger than the API accepts.
async fn read_body(body: Body) -> Option<axum::body::Bytes> {
    use futures::StreamExt;
    let mut stream = body.into_data_stream();
    let mut kept = Vec::new();
    let mut seen = 0usize;
    while let Some(Ok(chunk)) = stream.next().await {
        seen += chunk.len();
        if seen <= MAX_BODY_BYTES {
            kept.extend_from_slice(&chunk);
        } else if seen > MAX_DRAINED_BYTES {
            break;
        }
    }
    (seen <= MAX_BODY_BYTES).then(|| kept.into())
}

/// Refuses requests without a valid bearer token with 401.
async fn authenticate(
    State(state): State<Arc<ApiState>>,
    request: Request,
    next: Next,
) -> Response {
    let token = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    match token {
        Some(token) if state.identity.accepts(token) => next.run(request).await,
        _ => ApiError::unauthorized().into_response(),
    }
}

pub async fn listen(addr: SocketAddr, state: Arc<ApiState>) -> Result<RunningServer, StartError> {
    let tls = tls_acceptor(&state)?;
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| StartError::Listen { addr, source })?;
    let addr = listener
        .local_addr()
        .map_err(|source| StartError::Listen { addr, source })?;
    let app = router(state.clone());
    let task = tokio::spawn(async move {
        loop {
            let (stream, _) = match listener.accept().await {
                Ok(connection) => connection,
                Err(error) => {
                    tracing::warn!(%error, "failed to accept a connection");
                    continue;
                }
            };
            let tls = tls.clone();
            let app = app.clone();
            tokio::spawn(async move {
                let Ok(stream) = tls.accept(stream).await else {
                    return;
                };
                let service = TowerToHyperService::new(
                    app.map_request(|r: Request<hyper::body::Incoming>| r.map(Body::new)),
                );
                let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                if let Err(error) = builder
                    .serve_connection_with_upgrades(TokioIo::new(stream), service)
                    .await
                {
                    tracing::debug!(%error, "connection ended with an error");
                }
            });
        }
    });
    Ok(RunningServer { addr, state, task })
}

fn tls_acceptor(state: &ApiState) -> Result<TlsAcceptor, StartError> {
    use rustls::pki_types::{pem::PemObject, CertificateDer, PrivateKeyDer};
    let tls_error = |e: &dyn std::fmt::Display| StartError::Tls(e.to_string());
    let certs = CertificateDer::pem_slice_iter(state.identity.serving_cert_pem.as_bytes())
        .chain(CertificateDer::pem_slice_iter(
            state.identity.ca_cert_pem.as_bytes(),
        ))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| tls_error(&e))?;
    let key = PrivateKeyDer::from_pem_slice(state.identity.serving_key_pem.as_bytes())
        .map_err(|e| tls_error(&e))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_error(&e))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| tls_error(&e))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}
