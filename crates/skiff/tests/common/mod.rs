//! The end-to-end harness: a real `skiff server` process in a temporary data
//! directory on a free loopback port, driven by the real `kubectl` and `curl`.
//!
//! Beside it: [`nodes`] (nodes registered as KWOK does, with Leases),
//! [`pod_agent`] (a stand-in agent that makes pods Ready), [`manifests`],
//! [`access`] (the API from helper threads) and [`background`].

#![allow(dead_code)]

pub mod access;
pub mod background;
pub mod manifests;
pub mod nodes;
pub mod pod_agent;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// How long a server may take to answer `/readyz` before the test fails.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// A running `skiff server` that is killed when dropped.
pub struct Cluster {
    pub data_dir: tempfile::TempDir,
    pub port: u16,
    pub extra_args: Vec<String>,
    child: Option<Child>,
}

/// What a command printed and how it ended.
pub struct Run {
    pub ok: bool,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(output: Output) -> Self {
        Run {
            ok: output.status.success(),
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

impl Run {
    /// Panics with the command's output unless it succeeded.
    pub fn success(self) -> Self {
        assert!(
            self.ok,
            "command failed ({:?})\nstdout: {}\nstderr: {}",
            self.code, self.stdout, self.stderr
        );
        self
    }

    pub fn failure(self) -> Self {
        assert!(
            !self.ok,
            "command should have failed\nstdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        self
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl Cluster {
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    pub fn start_with(extra_args: &[&str]) -> Self {
        let mut cluster = Cluster {
            data_dir: tempfile::tempdir().expect("a temporary directory"),
            port: free_port(),
            extra_args: extra_args.iter().map(|s| s.to_string()).collect(),
            child: None,
        };
        cluster.launch();
        cluster
    }

    fn launch(&mut self) {
        let log =
            std::fs::File::create(self.data_dir.path().join("server.log")).expect("a log file");
        let child = Command::new(env!("CARGO_BIN_EXE_skiff"))
            .args(["server", "--data-dir"])
            .arg(self.data_dir.path())
            .args(["--port", &self.port.to_string(), "--write-kubeconfig"])
            .arg(self.kubeconfig())
            .args(&self.extra_args)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("skiff server starts");
        self.child = Some(child);
        self.wait_ready();
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + START_TIMEOUT;
        while Instant::now() < deadline {
            if self.kubeconfig().exists() && self.curl(&["/readyz"]).stdout.ends_with("200") {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("skiff server did not become ready; log:\n{}", self.log());
    }

    /// Kills the server with SIGKILL, as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same data directory and port.
    pub fn restart(&mut self) {
        self.kill();
        self.launch();
    }

    pub fn kubeconfig(&self) -> PathBuf {
        self.data_dir.path().join("kubeconfig.yaml")
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.data_dir.path().join("server.log")).unwrap_or_default()
    }

    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    pub fn token(&self) -> String {
        std::fs::read_to_string(self.data_dir.path().join("pki/admin.token"))
            .unwrap_or_default()
            .trim()
            .to_string()
    }

    pub fn ca_path(&self) -> PathBuf {
        self.data_dir.path().join("pki/ca.crt")
    }

    /// Runs kubectl against this cluster.
    pub fn kubectl(&self, args: &[&str]) -> Run {
        self.kubectl_in(args, None, &[])
    }

    /// Runs kubectl with `stdin` as its input (for `-f -`).
    pub fn kubectl_stdin(&self, args: &[&str], stdin: &str) -> Run {
        self.kubectl_in(args, Some(stdin), &[])
    }

    pub fn kubectl_in(&self, args: &[&str], stdin: Option<&str>, env: &[(&str, &str)]) -> Run {
        use std::io::Write;
        let mut command = Command::new("kubectl");
        command
            .arg("--kubeconfig")
            .arg(self.kubeconfig())
            .args(args)
            .envs(env.iter().copied());
        command.stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
        command.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = command.spawn().expect("kubectl runs");
        if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
            pipe.write_all(text.as_bytes())
                .expect("kubectl reads its input");
        }
        with_timeout(child, Duration::from_secs(60)).into()
    }

    /// `curl` against the API with the admin token; the last line of stdout is the
    /// HTTP status code. `args` are curl arguments, the first being the path.
    pub fn curl(&self, args: &[&str]) -> Run {
        self.curl_as(Some(&self.token()), args)
    }

    pub fn curl_as(&self, token: Option<&str>, args: &[&str]) -> Run {
        let (path, rest) = args.split_first().expect("a path");
        let mut command = Command::new("curl");
        command
            .args(["-sS", "--max-time", "30", "--cacert"])
            .arg(self.ca_path());
        if let Some(token) = token {
            command.args(["-H", &format!("Authorization: Bearer {token}")]);
        }
        command
            .args(["-w", "\n%{http_code}"])
            .args(rest)
            .arg(format!("{}{path}", self.url()));
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        with_timeout(command.spawn().expect("curl runs"), Duration::from_secs(40)).into()
    }

    /// `kubectl apply -f -` of `manifest` (YAML or JSON).
    pub fn apply_manifest(&self, manifest: &str) -> Run {
        self.kubectl_stdin(&["apply", "-f", "-"], manifest)
    }

    /// `kubectl <args> -o json`, which must succeed, parsed.
    pub fn get_json(&self, args: &[&str]) -> serde_json::Value {
        let mut all = args.to_vec();
        all.extend(["-o", "json"]);
        let run = self.kubectl(&all).success();
        serde_json::from_str(&run.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", run.stdout))
    }

    /// Applies a file from the shared scenarios.
    pub fn apply_file(&self, path: &Path) -> Run {
        self.kubectl(&["apply", "-f", path.to_str().expect("a UTF-8 path")])
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Waits for a child, killing it if it runs past `limit`.
pub fn with_timeout(mut child: Child, limit: Duration) -> Output {
    let deadline = Instant::now() + limit;
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = child.kill();
                break;
            }
        }
    }
    child.wait_with_output().expect("the child's output")
}

/// Splits curl output into (body, HTTP status).
pub fn body_and_status(run: &Run) -> (String, u16) {
    let (body, code) = run
        .stdout
        .rsplit_once('\n')
        .unwrap_or(("", run.stdout.as_str()));
    (body.to_string(), code.trim().parse().unwrap_or(0))
}

/// `shared/scenarios`, beside the repository.
pub fn scenarios_dir() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let candidates = [
        manifest.join("../../../shared/scenarios"),
        manifest.join("../../shared/scenarios"),
    ];
    candidates
        .into_iter()
        .find(|p| p.exists())
        .expect("shared/scenarios beside the repository")
}

/// Polls `check` every 100 ms until it holds or `limit` passes.
pub fn eventually(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if check() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The current UTC time in a `date` format, e.g. `+%Y-%m-%dT%H:%M:%SZ`.
pub fn now_as(format: &str) -> String {
    let out = Command::new("date")
        .args(["-u", format])
        .output()
        .expect("date runs");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The current time as a Kubernetes Time (RFC 3339, whole seconds).
pub fn now_rfc3339() -> String {
    now_as("+%Y-%m-%dT%H:%M:%SZ")
}

/// The current time as a Kubernetes MicroTime (a Lease's `renewTime`).
pub fn now_micro() -> String {
    now_as("+%Y-%m-%dT%H:%M:%S.%6NZ")
}
