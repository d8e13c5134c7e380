//! Request routing and the response texts, as pure functions of plain values.
//!
//! The texts are what the scenarios' users see (`../shared/scenarios/*/EXPECT.md`), so
//! they are kept byte for byte: k8s-combat answers `pong` and a status line such as
//! `200 OK`; servera/serverb answer `{"iRet":0,...}` and `callapi succ, strlen: N`.

use std::time::Duration;

use hyper::{Method, StatusCode};

/// The longest `/sleep` accepted. Bounded so that a typo cannot pin a connection for hours.
pub const MAX_SLEEP: Duration = Duration::from_secs(300);

/// What a request asks for, decided from its method, path and query alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `GET /` or `/echo`: the pod name, so callers see which replica answered.
    Echo,
    /// `GET /healthz`: `ok`, for probes.
    Healthz,
    /// `GET /env`: the process environment, for discovery tests.
    Env,
    /// `GET /sleep?ms=N`: answer after N milliseconds, for slow-replica tests.
    Sleep(Duration),
    /// k8s-combat `GET /ping`: log `<hostname> ping`, answer `pong`.
    Ping,
    /// k8s-combat `GET /service`: call the callee Service's `/ping`, answer its status line.
    Service,
    /// servera `GET /serverapi`: a JSON greeting naming the pod.
    ServerApi,
    /// serverb `GET /clientapi`: call servera's `/serverapi`, answer the body length.
    ClientApi,
    /// A known path with a method other than GET or HEAD.
    MethodNotAllowed,
    /// A known path with a query it cannot use; the text says why.
    BadRequest(String),
    /// Any other path.
    NotFound,
}

/// Picks the route for a request. Paths match exactly, as Go's `http.HandleFunc` does for
/// the original applications.
pub fn route(method: &Method, path: &str, query: Option<&str>) -> Route {
    let known = match path {
        "/" | "/echo" => Route::Echo,
        "/healthz" => Route::Healthz,
        "/env" => Route::Env,
        "/sleep" => match sleep_duration(query) {
            Ok(duration) => Route::Sleep(duration),
            Err(reason) => Route::BadRequest(reason),
        },
        "/ping" => Route::Ping,
        "/service" => Route::Service,
        "/serverapi" => Route::ServerApi,
        "/clientapi" => Route::ClientApi,
        _ => return Route::NotFound,
    };
    if method == Method::GET || method == Method::HEAD {
        known
    } else {
        Route::MethodNotAllowed
    }
}

/// Reads `ms=N` from a `/sleep` query.
fn sleep_duration(query: Option<&str>) -> Result<Duration, String> {
    let value = query
        .unwrap_or("")
        .split('&')
        .find_map(|pair| pair.strip_prefix("ms="))
        .ok_or_else(|| "sleep needs ?ms=N\n".to_string())?;
    let ms: u64 = value
        .parse()
        .map_err(|_| format!("sleep: ms={value} is not a number of milliseconds\n"))?;
    let duration = Duration::from_millis(ms);
    if duration > MAX_SLEEP {
        return Err(format!(
            "sleep: ms={ms} is longer than the {} ms limit\n",
            MAX_SLEEP.as_millis()
        ));
    }
    Ok(duration)
}

/// A response, before it becomes an HTTP message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The status code.
    pub status: StatusCode,
    /// The `Content-Type` header.
    pub content_type: &'static str,
    /// The body.
    pub body: String,
}

const TEXT: &str = "text/plain; charset=utf-8";
const JSON: &str = "application/json";

impl Reply {
    /// A plain-text reply.
    pub fn text(status: StatusCode, body: impl Into<String>) -> Self {
        Reply {
            status,
            content_type: TEXT,
            body: body.into(),
        }
    }
}

/// What an upstream call gave: its status and body length, or the error text.
pub type UpstreamOutcome = Result<UpstreamAnswer, String>;

/// The parts of an upstream response the callers report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpstreamAnswer {
    /// The upstream's status code.
    pub status: StatusCode,
    /// The upstream body's length in bytes.
    pub body_len: usize,
}

/// `/`, `/echo`: the pod name and a newline.
pub fn echo_reply(hostname: &str) -> Reply {
    Reply::text(StatusCode::OK, format!("{hostname}\n"))
}

/// `/healthz`.
pub fn healthz_reply() -> Reply {
    Reply::text(StatusCode::OK, "ok")
}

/// `/ping`: `pong`, without a newline, as the original answers.
pub fn ping_reply() -> Reply {
    Reply::text(StatusCode::OK, "pong")
}

/// The line `/ping` logs, which `kubectl logs` shows to prove a replica was reached.
pub fn ping_log_line(hostname: &str) -> String {
    format!("{hostname} ping")
}

/// `/env`: one `NAME=value` line per variable, sorted so that tests can compare them.
pub fn env_reply(mut vars: Vec<(String, String)>) -> Reply {
    vars.sort();
    let body = vars
        .iter()
        .map(|(name, value)| format!("{name}={value}\n"))
        .collect::<String>();
    Reply::text(StatusCode::OK, body)
}

/// `/sleep`: says who slept and for how long, once the time is up.
pub fn sleep_reply(hostname: &str, slept: Duration) -> Reply {
    Reply::text(
        StatusCode::OK,
        format!("{hostname} slept {} ms\n", slept.as_millis()),
    )
}

/// `/serverapi`: servera's JSON greeting.
pub fn server_api_reply(hostname: &str) -> Reply {
    Reply {
        status: StatusCode::OK,
        content_type: JSON,
        body: format!(
            r#"{{"iRet":0,"sMsg":"ok","data":"Hello from {}"}}"#,
            json_escape(hostname)
        ),
    }
}

/// `/service`: the callee's status line (`200 OK`), or `Get "URL": error` as Go's client
/// words a failed call.
///
/// The original always answers 200; this one answers 502 when the callee did not answer
/// 2xx, so that `skiff-demo get` and probes in tests see the failure. The body is the same.
pub fn service_reply(upstream_url: &str, outcome: &UpstreamOutcome) -> Reply {
    match outcome {
        Ok(answer) => Reply::text(
            gateway_status(answer.status.is_success()),
            status_line(answer.status),
        ),
        Err(error) => Reply::text(
            StatusCode::BAD_GATEWAY,
            format!("Get {upstream_url:?}: {error}"),
        ),
    }
}

/// `/clientapi`: `callapi succ, strlen: N` when servera answered 200, else the code or error.
///
/// As with [`service_reply`], failures answer 502 with the original's text.
pub fn client_api_reply(outcome: &UpstreamOutcome) -> Reply {
    match outcome {
        Ok(answer) if answer.status == StatusCode::OK => Reply::text(
            StatusCode::OK,
            format!("callapi succ, strlen: {}", answer.body_len),
        ),
        Ok(answer) => Reply::text(
            StatusCode::BAD_GATEWAY,
            format!("callapi fail, code: {}", answer.status.as_u16()),
        ),
        Err(error) => Reply::text(
            StatusCode::BAD_GATEWAY,
            format!("callapi fail, error: {error}"),
        ),
    }
}

/// An unknown path: Go's text, which the original applications answer.
pub fn not_found_reply() -> Reply {
    Reply::text(StatusCode::NOT_FOUND, "404 page not found\n")
}

/// A known path with a method other than GET or HEAD.
pub fn method_not_allowed_reply() -> Reply {
    Reply::text(
        StatusCode::METHOD_NOT_ALLOWED,
        "method not allowed: use GET\n",
    )
}

/// A known path with a query it cannot use.
pub fn bad_request_reply(reason: &str) -> Reply {
    Reply::text(StatusCode::BAD_REQUEST, reason)
}

/// `200 OK`, as Go's `resp.Status` prints it.
pub fn status_line(status: StatusCode) -> String {
    match status.canonical_reason() {
        Some(reason) => format!("{} {reason}", status.as_u16()),
        None => status.as_u16().to_string(),
    }
}

fn gateway_status(upstream_succeeded: bool) -> StatusCode {
    if upstream_succeeded {
        StatusCode::OK
    } else {
        StatusCode::BAD_GATEWAY
    }
}

/// Escapes a string for a JSON string literal. Hostnames never need it, but the name can
/// come from `DEMO_HOSTNAME`, and the body must stay valid JSON whatever it holds.
fn json_escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' => escaped.push_str("\\\""),
            '\\' => escaped.push_str("\\\\"),
            c if u32::from(c) < 0x20 => escaped.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => escaped.push(c),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(path: &str) -> Route {
        route(&Method::GET, path, None)
    }

    #[test]
    fn should_route_every_scenario_path() {
        assert_eq!(get("/"), Route::Echo);
        assert_eq!(get("/echo"), Route::Echo);
        assert_eq!(get("/healthz"), Route::Healthz);
        assert_eq!(get("/env"), Route::Env);
        assert_eq!(get("/ping"), Route::Ping);
        assert_eq!(get("/service"), Route::Service);
        assert_eq!(get("/serverapi"), Route::ServerApi);
        assert_eq!(get("/clientapi"), Route::ClientApi);
    }

    #[test]
    fn should_match_paths_exactly() {
        assert_eq!(get("/ping/"), Route::NotFound);
        assert_eq!(get("/PING"), Route::NotFound);
        assert_eq!(get("/myservers/clientapi"), Route::NotFound);
    }

    #[test]
    fn should_accept_head_and_refuse_other_methods_on_known_paths() {
        assert_eq!(route(&Method::HEAD, "/healthz", None), Route::Healthz);
        assert_eq!(route(&Method::POST, "/ping", None), Route::MethodNotAllowed);
        assert_eq!(route(&Method::POST, "/nope", None), Route::NotFound);
    }

    #[test]
    fn should_read_the_sleep_duration_from_the_query() {
        assert_eq!(
            route(&Method::GET, "/sleep", Some("ms=250")),
            Route::Sleep(Duration::from_millis(250))
        );
        assert_eq!(
            route(&Method::GET, "/sleep", Some("x=1&ms=0")),
            Route::Sleep(Duration::ZERO)
        );
    }

    #[test]
    fn should_refuse_a_missing_bad_or_too_long_sleep() {
        for query in [None, Some("ms="), Some("ms=abc"), Some("ms=300001")] {
            assert!(
                matches!(route(&Method::GET, "/sleep", query), Route::BadRequest(_)),
                "{query:?} was accepted"
            );
        }
    }

    #[test]
    fn should_answer_pong_and_log_the_hostname_for_ping() {
        assert_eq!(ping_reply().body, "pong");
        assert_eq!(
            ping_log_line("k8s-combat-service-7d9f-abcde"),
            "k8s-combat-service-7d9f-abcde ping"
        );
    }

    #[test]
    fn should_echo_the_pod_name() {
        assert_eq!(echo_reply("pod-a").body, "pod-a\n");
        assert_eq!(healthz_reply().body, "ok");
    }

    #[test]
    fn should_answer_serverapi_with_the_original_json() {
        let reply = server_api_reply("servera-5c6b-x2x9q");
        assert_eq!(
            reply.body,
            r#"{"iRet":0,"sMsg":"ok","data":"Hello from servera-5c6b-x2x9q"}"#
        );
        assert_eq!(reply.content_type, "application/json");
    }

    #[test]
    fn should_keep_serverapi_valid_json_whatever_the_name() {
        let reply = server_api_reply("a\"b\\c\n");
        assert_eq!(
            reply.body,
            r#"{"iRet":0,"sMsg":"ok","data":"Hello from a\"b\\c\u000a"}"#
        );
    }

    #[test]
    fn should_answer_service_with_the_callee_status_line() {
        let ok = Ok(UpstreamAnswer {
            status: StatusCode::OK,
            body_len: 4,
        });
        let reply = service_reply("http://k8s-combat-service:8081/ping", &ok);
        assert_eq!(
            (reply.status, reply.body.as_str()),
            (StatusCode::OK, "200 OK")
        );

        let unavailable = Ok(UpstreamAnswer {
            status: StatusCode::SERVICE_UNAVAILABLE,
            body_len: 0,
        });
        let reply = service_reply("http://x/ping", &unavailable);
        assert_eq!(
            (reply.status, reply.body.as_str()),
            (StatusCode::BAD_GATEWAY, "503 Service Unavailable")
        );
    }

    #[test]
    fn should_answer_service_with_the_error_text_when_the_call_fails() {
        let failed = Err("failed to resolve k8s-combat-service: no such host".to_string());
        let reply = service_reply("http://k8s-combat-service:8081/ping", &failed);
        assert_eq!(reply.status, StatusCode::BAD_GATEWAY);
        assert_eq!(
            reply.body,
            "Get \"http://k8s-combat-service:8081/ping\": failed to resolve k8s-combat-service: no such host"
        );
    }

    #[test]
    fn should_answer_clientapi_with_the_body_length_on_200() {
        let ok = Ok(UpstreamAnswer {
            status: StatusCode::OK,
            body_len: 58,
        });
        let reply = client_api_reply(&ok);
        assert_eq!(
            (reply.status, reply.body.as_str()),
            (StatusCode::OK, "callapi succ, strlen: 58")
        );
    }

    #[test]
    fn should_answer_clientapi_with_the_code_or_error_otherwise() {
        let not_found = Ok(UpstreamAnswer {
            status: StatusCode::NOT_FOUND,
            body_len: 19,
        });
        assert_eq!(client_api_reply(&not_found).body, "callapi fail, code: 404");
        // Only 200 counts, as in the original: another 2xx is a failure too.
        let no_content = Ok(UpstreamAnswer {
            status: StatusCode::NO_CONTENT,
            body_len: 0,
        });
        assert_eq!(
            client_api_reply(&no_content).body,
            "callapi fail, code: 204"
        );
        let failed = client_api_reply(&Err("timed out after 5000 ms".into()));
        assert_eq!(failed.status, StatusCode::BAD_GATEWAY);
        assert_eq!(failed.body, "callapi fail, error: timed out after 5000 ms");
    }

    #[test]
    fn should_list_the_environment_sorted() {
        let reply = env_reply(vec![
            ("SERVICE_A_SERVICE_PORT".into(), "80".into()),
            ("HOSTNAME".into(), "pod-a".into()),
        ]);
        assert_eq!(reply.body, "HOSTNAME=pod-a\nSERVICE_A_SERVICE_PORT=80\n");
    }

    #[test]
    fn should_say_who_slept_and_how_long() {
        assert_eq!(
            sleep_reply("pod-a", Duration::from_millis(20)).body,
            "pod-a slept 20 ms\n"
        );
    }

    #[test]
    fn should_answer_go_style_errors_for_unknown_paths_and_methods() {
        assert_eq!(not_found_reply().body, "404 page not found\n");
        assert_eq!(
            method_not_allowed_reply().status,
            StatusCode::METHOD_NOT_ALLOWED
        );
        assert_eq!(bad_request_reply("why\n").status, StatusCode::BAD_REQUEST);
    }

    #[test]
    fn should_print_status_lines_as_go_does() {
        assert_eq!(status_line(StatusCode::OK), "200 OK");
        assert_eq!(status_line(StatusCode::from_u16(599).unwrap()), "599");
    }
}
