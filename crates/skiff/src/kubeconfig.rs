//! The admin kubeconfig `skiff server` writes: the server URL, the cluster CA and
//! the admin token, in the format kubectl reads.

use std::path::Path;

use base64::Engine;
use skiff_apiserver::pki::write_private;

/// The kubeconfig text for one cluster, user and context, all named `skiff`.
pub fn render(server_url: &str, ca_cert_pem: &str, token: &str) -> String {
    let ca = base64::engine::general_purpose::STANDARD.encode(ca_cert_pem);
    format!(
        "apiVersion: v1
kind: Config
clusters:
- name: skiff
  cluster:
    server: {server_url}
    certificate-authority-data: {ca}
users:
- name: skiff-admin
  user:
    token: {token}
contexts:
- name: skiff
  context:
    cluster: skiff
    user: skiff-admin
    namespace: default
current-context: skiff
"
    )
}

/// Writes the kubeconfig readable by its owner only: it holds the admin token.
pub fn write(path: &Path, server_url: &str, ca_cert_pem: &str, token: &str) -> Result<(), String> {
    let fail = |e: std::io::Error| format!("failed to write kubeconfig {}: {e}", path.display());
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(fail)?;
    }
    write_private(path, &render(server_url, ca_cert_pem, token)).map_err(fail)
}

/// A client for in-process components, authenticated with the component token.
pub async fn client(
    server_url: &str,
    ca_cert_pem: &str,
    token: &str,
) -> Result<kube::Client, String> {
    let text = render(server_url, ca_cert_pem, token);
    let kubeconfig = kube::config::Kubeconfig::from_yaml(&text)
        .map_err(|e| format!("failed to read the component kubeconfig: {e}"))?;
    let config = kube::Config::from_custom_kubeconfig(
        kubeconfig,
        &kube::config::KubeConfigOptions::default(),
    )
    .await
    .map_err(|e| format!("failed to configure the component client: {e}"))?;
    kube::Client::try_from(config).map_err(|e| format!("failed to build the component client: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn should_name_the_server_and_token() {
        let text = render("https://127.0.0.1:6443", "CA", "secret");
        assert!(text.contains("server: https://127.0.0.1:6443"));
        assert!(text.contains("token: secret"));
        assert!(text.contains("current-context: skiff"));
    }

    #[test]
    fn should_write_the_kubeconfig_for_its_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir =
            std::env::temp_dir().join(format!("skiff-kubeconfig-test-{}", std::process::id()));
        let path = dir.join("nested").join("kubeconfig.yaml");
        write(&path, "https://127.0.0.1:6443", "CA", "secret").unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            render("https://127.0.0.1:6443", "CA", "secret")
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
