//! End-to-end tests of the `skiff-demo` binary on loopback: the scenario endpoints, one
//! instance calling another by name (servera/serverb, k8s-combat), the `get` client, and
//! the graceful stop on SIGTERM.
//!
//! Every instance binds `127.0.0.1` on ports the kernel picks (`--listen 0`) and reports
//! them on stdout. Upstreams are pointed at loopback with `DEMO_SERVERA_URL` and
//! `DEMO_SERVICE_URL`, which stand in for the Service names a pod would use.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

const BINARY: &str = env!("CARGO_BIN_EXE_skiff-demo");
/// The longest any wait in these tests lasts; every loop is bounded by it.
const DEADLINE: Duration = Duration::from_secs(10);

/// A running `skiff-demo serve`, killed when dropped if it is still running.
struct Instance {
    child: Child,
    addresses: Vec<SocketAddr>,
    log: Arc<Mutex<Vec<String>>>,
}

impl Instance {
    /// Starts an instance answering as `name` on `ports` loopback ports, with extra env.
    fn start(name: &str, ports: usize, env: &[(&str, String)]) -> Instance {
        let listen = vec!["0"; ports].join(",");
        let mut command = Command::new(BINARY);
        command
            .args(["--bind", "127.0.0.1", "--listen", &listen])
            .env("DEMO_HOSTNAME", name)
            // Default upstreams name Services that don't exist here; keep failures local.
            .env("DEMO_SERVICE_URL", "http://127.0.0.1:9/ping")
            .env("DEMO_SERVERA_URL", "http://127.0.0.1:9/serverapi")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command.spawn().expect("failed to start skiff-demo");
        let stdout = child.stdout.take().expect("stdout is piped");
        let log = Arc::new(Mutex::new(Vec::new()));
        let sink = log.clone();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        let mut instance = Instance {
            child,
            addresses: Vec::new(),
            log,
        };
        let started = Instant::now();
        while instance.addresses.len() < ports {
            assert!(
                started.elapsed() < DEADLINE,
                "{name} did not report {ports} listeners; log: {:?}",
                instance.log_lines()
            );
            if let Some(status) = instance.child.try_wait().unwrap() {
                panic!("{name} exited early with {status}");
            }
            instance.addresses = instance
                .log_lines()
                .iter()
                .filter_map(|line| line.split("listening on ").nth(1))
                .map(|address| address.parse().expect("a socket address"))
                .collect();
            thread::sleep(Duration::from_millis(10));
        }
        instance
    }

    fn address(&self) -> SocketAddr {
        self.addresses[0]
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address())
    }

    fn log_lines(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    /// Waits until a log line equal to `line` appears.
    fn wait_for_log_line(&self, line: &str) {
        let started = Instant::now();
        while !self.log_lines().iter().any(|l| l == line) {
            assert!(
                started.elapsed() < DEADLINE,
                "no log line {line:?} in {:?}",
                self.log_lines()
            );
            thread::sleep(Duration::from_millis(10));
        }
    }

    fn terminate(&self) {
        // SAFETY: kill(2) with a pid we own and a valid signal number.
        let result = unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        assert_eq!(result, 0, "failed to send SIGTERM");
    }

    fn wait_for_exit(&mut self) -> ExitStatus {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(started.elapsed() < DEADLINE, "the instance did not exit");
            thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A response read with a hand-written HTTP/1.1 request, independent of the client under test.
#[derive(Debug)]
struct Answer {
    status: u16,
    body: String,
}

fn http_get(address: SocketAddr, path: &str) -> Answer {
    let mut stream = TcpStream::connect_timeout(&address, DEADLINE).expect("connect");
    stream.set_read_timeout(Some(DEADLINE)).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    read_answer(stream)
}

fn read_answer(mut stream: TcpStream) -> Answer {
    let mut raw = String::new();
    stream.read_to_string(&mut raw).expect("read the response");
    let (head, body) = raw.split_once("\r\n\r\n").expect("a complete response");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .expect("a status line");
    Answer {
        status,
        body: body.to_string(),
    }
}

/// Runs `skiff-demo get URL` and returns its exit code and stdout.
fn demo_get(url: &str) -> (Option<i32>, String) {
    let output = Command::new(BINARY)
        .args(["get", "--timeout-ms", "5000", url])
        .output()
        .expect("failed to run skiff-demo get");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

/// A loopback port nothing listens on: bound, then released.
fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn should_answer_ping_with_pong_and_log_the_hostname() {
    let callee = Instance::start("k8s-combat-service-1", 1, &[]);
    let answer = http_get(callee.address(), "/ping");
    assert_eq!((answer.status, answer.body.as_str()), (200, "pong"));
    callee.wait_for_log_line("k8s-combat-service-1 ping");
}

#[test]
fn should_call_the_callee_service_and_answer_its_status_line() {
    let callee = Instance::start("k8s-combat-service-1", 1, &[]);
    let caller = Instance::start(
        "k8s-combat-1",
        1,
        &[("DEMO_SERVICE_URL", callee.url("/ping"))],
    );
    let answer = http_get(caller.address(), "/service");
    assert_eq!((answer.status, answer.body.as_str()), (200, "200 OK"));
    callee.wait_for_log_line("k8s-combat-service-1 ping");
}

#[test]
fn should_answer_serverapi_and_clientapi_through_servera_by_name() {
    let servera = Instance::start("servera-1", 1, &[]);
    let serverapi = http_get(servera.address(), "/serverapi");
    assert_eq!(serverapi.status, 200);
    assert_eq!(
        serverapi.body,
        r#"{"iRet":0,"sMsg":"ok","data":"Hello from servera-1"}"#
    );

    // `localhost` goes through the system resolver, as `servera-svc` does in a pod; if it
    // resolves to ::1 first, the client falls through to 127.0.0.1.
    let upstream = format!("http://localhost:{}/serverapi", servera.address().port());
    let serverb = Instance::start("serverb-1", 1, &[("DEMO_SERVERA_URL", upstream)]);
    let clientapi = http_get(serverb.address(), "/clientapi");
    assert_eq!(clientapi.status, 200);
    assert_eq!(
        clientapi.body,
        format!("callapi succ, strlen: {}", serverapi.body.len())
    );
}

#[test]
fn should_report_a_failed_call_when_servera_is_down() {
    let upstream = format!("http://127.0.0.1:{}/serverapi", closed_port());
    let serverb = Instance::start("serverb-1", 1, &[("DEMO_SERVERA_URL", upstream)]);
    let answer = http_get(serverb.address(), "/clientapi");
    assert_eq!(answer.status, 502);
    assert!(
        answer
            .body
            .starts_with("callapi fail, error: failed to connect"),
        "{}",
        answer.body
    );

    // servera up, but answering something other than 200.
    let servera = Instance::start("servera-1", 1, &[]);
    let serverb = Instance::start(
        "serverb-2",
        1,
        &[("DEMO_SERVERA_URL", servera.url("/missing"))],
    );
    let answer = http_get(serverb.address(), "/clientapi");
    assert_eq!(
        (answer.status, answer.body.as_str()),
        (502, "callapi fail, code: 404")
    );
}

#[test]
fn should_serve_every_endpoint_on_every_port() {
    let instance = Instance::start("pod-a", 2, &[]);
    assert_ne!(instance.addresses[0], instance.addresses[1]);
    for &address in &instance.addresses {
        assert_eq!(http_get(address, "/echo").body, "pod-a\n");
        assert_eq!(http_get(address, "/").body, "pod-a\n");
        assert_eq!(http_get(address, "/healthz").body, "ok");
        assert_eq!(http_get(address, "/ping").body, "pong");
    }
    let env = http_get(instance.address(), "/env");
    assert!(env.body.lines().any(|line| line == "DEMO_HOSTNAME=pod-a"));
    let log = instance.log_lines();
    assert!(
        log.iter()
            .any(|line| line.starts_with("pod-a GET /echo 200")),
        "requests are not logged: {log:?}"
    );
}

#[test]
fn should_fetch_with_the_get_client_and_exit_by_status() {
    let instance = Instance::start("pod-a", 1, &[]);
    assert_eq!(
        demo_get(&instance.url("/echo")),
        (Some(0), "pod-a\n".into())
    );
    assert_eq!(
        demo_get(&instance.url("/nope")),
        (Some(1), "404 page not found\n".into())
    );
    let unreachable = format!("http://127.0.0.1:{}/", closed_port());
    assert_eq!(demo_get(&unreachable), (Some(3), String::new()));
}

#[test]
fn should_finish_requests_in_flight_and_exit_zero_on_sigterm() {
    let mut instance = Instance::start("pod-a", 1, &[]);
    let address = instance.address();
    let mut slow = TcpStream::connect_timeout(&address, DEADLINE).unwrap();
    slow.set_read_timeout(Some(DEADLINE)).unwrap();
    write!(
        slow,
        "GET /sleep?ms=1500 HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    // Let the server read the request before the signal (nothing shows that it has; a
    // request not yet read counts as idle and is dropped). The sleep outlasts this wait.
    thread::sleep(Duration::from_millis(400));
    instance.terminate();
    instance.wait_for_log_line(
        "pod-a received SIGTERM: no new connections, finishing requests in flight",
    );

    // No new connections once the signal is handled.
    let started = Instant::now();
    while TcpStream::connect_timeout(&address, Duration::from_secs(1)).is_ok() {
        assert!(
            started.elapsed() < DEADLINE,
            "still accepting after SIGTERM"
        );
        thread::sleep(Duration::from_millis(10));
    }

    let answer = read_answer(slow);
    assert_eq!(
        (answer.status, answer.body.as_str()),
        (200, "pod-a slept 1500 ms\n")
    );
    let status = instance.wait_for_exit();
    assert_eq!(status.code(), Some(0), "{status}");
}
