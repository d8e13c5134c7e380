//! Reaching the API with curl from helper threads, which cannot borrow the
//! [`Cluster`](super::Cluster).

use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde_json::Value;

use super::Cluster;

/// The server's URL, the admin token and the CA, owned.
#[derive(Clone)]
pub struct Access {
    url: String,
    token: String,
    ca: PathBuf,
}

impl Access {
    pub fn of(cluster: &Cluster) -> Self {
        Access {
            url: cluster.url(),
            token: cluster.token(),
            ca: cluster.ca_path(),
        }
    }

    /// A curl command for `path` with the token and CA; stdin and stderr are closed.
    pub fn curl(&self, extra: &[&str], path: &str) -> Command {
        let mut command = Command::new("curl");
        command.args(["-sS", "--cacert"]).arg(&self.ca);
        command.args(["-H", &format!("Authorization: Bearer {}", self.token)]);
        command.args(extra).arg(format!("{}{path}", self.url));
        command.stdin(Stdio::null()).stderr(Stdio::null());
        command
    }

    /// GETs `path` as JSON; `Null` when that fails.
    pub fn get(&self, path: &str) -> Value {
        let output = self
            .curl(&["--max-time", "10"], path)
            .output()
            .expect("curl runs");
        serde_json::from_slice(&output.stdout).unwrap_or(Value::Null)
    }

    /// Sends `body` to `path`; whether the answer was a 2xx.
    pub fn send(&self, method: &str, content_type: &str, path: &str, body: &Value) -> bool {
        let body = body.to_string();
        let args = [
            "--max-time",
            "10",
            "-X",
            method,
            "-H",
            &format!("Content-Type: {content_type}"),
            "-d",
            &body,
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
        ];
        let output = self.curl(&args, path).output().expect("curl runs");
        String::from_utf8_lossy(&output.stdout).starts_with('2')
    }
}
