//! The application: answers a request by its route, calls upstreams where a route needs
//! them, and logs every request to stdout so that `kubectl logs` shows which replica answered.

use std::io::Write;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderValue, ALLOW, CONTENT_TYPE};
use hyper::{Request, Response, StatusCode, Uri};

use crate::client;
use crate::routes::{self, Reply, Route, UpstreamAnswer, UpstreamOutcome};

/// How long `/service` and `/clientapi` wait for their upstream; servera/serverb's
/// scenario specifies 5 s.
pub const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(5);

/// The application's state: who it is and whom it calls. Shared by every connection.
#[derive(Debug, Clone)]
pub struct App {
    hostname: String,
    service_ping_url: Uri,
    servera_url: Uri,
}

impl App {
    /// An application answering as `hostname`, calling the given upstreams.
    pub fn new(hostname: String, service_ping_url: Uri, servera_url: Uri) -> Self {
        App {
            hostname,
            service_ping_url,
            servera_url,
        }
    }

    /// The name the application answers with.
    pub fn hostname(&self) -> &str {
        &self.hostname
    }

    /// Answers one request and logs it.
    pub async fn handle<B>(
        &self,
        request: Request<B>,
        peer: SocketAddr,
        local_port: u16,
    ) -> Response<Full<Bytes>> {
        let started = Instant::now();
        let route = routes::route(
            request.method(),
            request.uri().path(),
            request.uri().query(),
        );
        let reply = self.reply(route).await;
        log_line(&format!(
            "{} {} {} {} {:.1} ms from {peer} on :{local_port}",
            self.hostname,
            request.method(),
            request.uri(),
            reply.status.as_u16(),
            started.elapsed().as_secs_f64() * 1000.0,
        ));
        into_response(reply)
    }

    /// The reply for a route; only `/service`, `/clientapi` and `/sleep` wait on anything.
    pub async fn reply(&self, route: Route) -> Reply {
        match route {
            Route::Echo => routes::echo_reply(&self.hostname),
            Route::Healthz => routes::healthz_reply(),
            Route::Env => routes::env_reply(
                std::env::vars_os()
                    .map(|(name, value)| {
                        (
                            name.to_string_lossy().into_owned(),
                            value.to_string_lossy().into_owned(),
                        )
                    })
                    .collect(),
            ),
            Route::Sleep(duration) => {
                tokio::time::sleep(duration).await;
                routes::sleep_reply(&self.hostname, duration)
            }
            Route::Ping => {
                log_line(&routes::ping_log_line(&self.hostname));
                routes::ping_reply()
            }
            Route::Service => {
                let outcome = call(&self.service_ping_url).await;
                routes::service_reply(&self.service_ping_url.to_string(), &outcome)
            }
            Route::ServerApi => routes::server_api_reply(&self.hostname),
            Route::ClientApi => routes::client_api_reply(&call(&self.servera_url).await),
            Route::MethodNotAllowed => routes::method_not_allowed_reply(),
            Route::BadRequest(reason) => routes::bad_request_reply(&reason),
            Route::NotFound => routes::not_found_reply(),
        }
    }
}

/// Calls an upstream and keeps what the replies report: status and body length, or the error.
async fn call(url: &Uri) -> UpstreamOutcome {
    client::get(url, UPSTREAM_TIMEOUT)
        .await
        .map(|fetched| UpstreamAnswer {
            status: fetched.status,
            body_len: fetched.body.len(),
        })
        .map_err(|error| error.to_string())
}

fn into_response(reply: Reply) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(reply.body)));
    *response.status_mut() = reply.status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(reply.content_type));
    if reply.status == StatusCode::METHOD_NOT_ALLOWED {
        headers.insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
    }
    response
}

/// Writes one line to stdout. A closed stdout must not take the server down, so write
/// errors are ignored (`println!` would panic).
pub fn log_line(line: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{line}");
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    fn app() -> App {
        // Upstreams on a port nothing listens on: the calls fail fast and locally.
        App::new(
            "pod-a".into(),
            "http://127.0.0.1:9/ping".parse().unwrap(),
            "http://127.0.0.1:9/serverapi".parse().unwrap(),
        )
    }

    async fn body_of(response: Response<Full<Bytes>>) -> String {
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    fn peer() -> SocketAddr {
        "127.0.0.1:40000".parse().unwrap()
    }

    #[tokio::test]
    async fn should_answer_requests_by_path_with_the_pod_name() {
        let request = Request::get("/echo").body(()).unwrap();
        let response = app().handle(request, peer(), 8080).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(body_of(response).await, "pod-a\n");

        let request = Request::get("/serverapi").body(()).unwrap();
        let response = app().handle(request, peer(), 9502).await;
        assert_eq!(
            response.headers()[CONTENT_TYPE],
            HeaderValue::from_static("application/json")
        );
        assert_eq!(
            body_of(response).await,
            r#"{"iRet":0,"sMsg":"ok","data":"Hello from pod-a"}"#
        );
    }

    #[tokio::test]
    async fn should_name_the_allowed_methods_when_refusing_one() {
        let request = Request::post("/ping").body(()).unwrap();
        let response = app().handle(request, peer(), 8081).await;
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(response.headers()[ALLOW], "GET, HEAD");
    }

    #[tokio::test]
    async fn should_report_an_unreachable_upstream_as_a_failed_call() {
        let reply = app().reply(Route::ClientApi).await;
        assert_eq!(reply.status, StatusCode::BAD_GATEWAY);
        assert!(
            reply
                .body
                .starts_with("callapi fail, error: failed to connect to 127.0.0.1:9"),
            "{}",
            reply.body
        );

        let reply = app().reply(Route::Service).await;
        assert!(
            reply
                .body
                .starts_with("Get \"http://127.0.0.1:9/ping\": failed to connect"),
            "{}",
            reply.body
        );
    }

    #[tokio::test(start_paused = true)]
    async fn should_answer_sleep_only_after_the_time_is_up() {
        let app = app();
        let started = tokio::time::Instant::now();
        let reply = app.reply(Route::Sleep(Duration::from_millis(1500))).await;
        assert_eq!(started.elapsed(), Duration::from_millis(1500));
        assert_eq!(reply.body, "pod-a slept 1500 ms\n");
    }
}
