//! The cluster's certificate authority and bearer tokens, made at first start and
//! kept in the data directory so that a restarted server keeps its identity.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose, SanType,
};

/// Everything that failed while making or loading keys and certificates.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    /// A file in the data directory could not be read or written.
    #[error("failed to access {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A key or certificate could not be generated or parsed.
    #[error("failed to make a certificate: {0}")]
    Certificate(#[from] rcgen::Error),
}

/// The cluster identity: the CA, the serving certificate signed by it, and the
/// tokens the API accepts.
pub struct ClusterIdentity {
    pub ca_cert_pem: String,
    pub serving_cert_pem: String,
    pub serving_key_pem: String,
    /// The token `skiff server` writes into the admin kubeconfig.
    pub admin_token: String,
    /// The token in-process components (controllers, agent, proxy) use.
    pub component_token: String,
}

const CA_CERT: &str = "ca.crt";
const CA_KEY: &str = "ca.key";
const ADMIN_TOKEN: &str = "admin.token";
const COMPONENT_TOKEN: &str = "component.token";

impl ClusterIdentity {
    /// Loads the CA and tokens from `dir/pki`, making them on first start, and signs
    /// a fresh serving certificate for `hosts` (DNS names or IP addresses).
    pub fn load_or_create(data_dir: &Path, hosts: &[String]) -> Result<Self, PkiError> {
        let dir = data_dir.join("pki");
        create_private_dir(&dir)?;
        let ca_key_path = dir.join(CA_KEY);
        let ca_cert_path = dir.join(CA_CERT);
        let ca_params = ca_params();
        let (ca_key, ca_cert_pem) = if ca_key_path.exists() && ca_cert_path.exists() {
            let key = KeyPair::from_pem(&read(&ca_key_path)?)?;
            (key, read(&ca_cert_path)?)
        } else {
            let key = KeyPair::generate()?;
            let cert = ca_params.self_signed(&key)?;
            write_private(&ca_key_path, &key.serialize_pem()).map_err(io_error(&ca_key_path))?;
            write_private(&ca_cert_path, &cert.pem()).map_err(io_error(&ca_cert_path))?;
            (key, cert.pem())
        };
        // The issuer is rebuilt from the same name and key each start: that is all a
        // signature needs, and it spares parsing our own CA certificate back.
        let issuer = Issuer::new(ca_params, ca_key);
        let serving_key = KeyPair::generate()?;
        let serving_cert = serving_params(hosts)?.signed_by(&serving_key, &issuer)?;
        Ok(Self {
            ca_cert_pem,
            serving_cert_pem: serving_cert.pem(),
            serving_key_pem: serving_key.serialize_pem(),
            admin_token: load_or_create_token(&dir.join(ADMIN_TOKEN))?,
            component_token: load_or_create_token(&dir.join(COMPONENT_TOKEN))?,
        })
    }

    /// Whether `token` is one the API accepts.
    pub fn accepts(&self, token: &str) -> bool {
        constant_time_eq(token.as_bytes(), self.admin_token.as_bytes())
            || constant_time_eq(token.as_bytes(), self.component_token.as_bytes())
    }
}

fn ca_params() -> CertificateParams {
    let mut params = CertificateParams::default();
    params
        .distinguished_name
        .push(DnType::CommonName, "skiff-ca");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
    ];
    params
}

fn serving_params(hosts: &[String]) -> Result<CertificateParams, PkiError> {
    let mut params = CertificateParams::default();
    params
        .distinguished_name
        .push(DnType::CommonName, "skiff-apiserver");
    let mut names = vec![
        "localhost".to_string(),
        "kubernetes".to_string(),
        "kubernetes.default".to_string(),
    ];
    names.extend(
        [
            "kubernetes.default.svc",
            "kubernetes.default.svc.cluster.local",
            "127.0.0.1",
            "::1",
        ]
        .map(String::from),
    );
    names.extend(hosts.iter().cloned());
    names.sort();
    names.dedup();
    for name in names {
        let san = match name.parse::<IpAddr>() {
            Ok(ip) => SanType::IpAddress(ip),
            Err(_) => SanType::DnsName(name.as_str().try_into()?),
        };
        params.subject_alt_names.push(san);
    }
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    Ok(params)
}

fn load_or_create_token(path: &Path) -> Result<String, PkiError> {
    if path.exists() {
        return Ok(read(path)?.trim().to_string());
    }
    let token = crate::random_string(40, b"abcdefghijklmnopqrstuvwxyz0123456789");
    write_private(path, &token).map_err(io_error(path))?;
    Ok(token)
}

/// Compares tokens without leaking where they differ through timing.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn read(path: &Path) -> Result<String, PkiError> {
    std::fs::read_to_string(path).map_err(io_error(path))
}

fn create_private_dir(dir: &Path) -> Result<(), PkiError> {
    std::fs::create_dir_all(dir).map_err(io_error(dir))
}

/// Writes a secret readable by its owner only (mode 0600), and syncs it: a CA
/// that vanished in a crash would orphan every kubeconfig made from it. The
/// `skiff` binary writes the admin kubeconfig with it too.
pub fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()
}

/// Names the file a failed read or write was about.
fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> PkiError + '_ {
    move |source| PkiError::Io {
        path: path.to_path_buf(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn should_keep_the_ca_and_tokens_across_restarts() {
        let dir = std::env::temp_dir().join(format!("skiff-pki-test-{}", std::process::id()));
        let first = ClusterIdentity::load_or_create(&dir, &["10.0.0.1".into()]).unwrap();
        let second = ClusterIdentity::load_or_create(&dir, &[]).unwrap();
        assert_eq!(first.ca_cert_pem, second.ca_cert_pem);
        assert_eq!(first.admin_token, second.admin_token);
        assert!(second.accepts(&first.component_token));
        assert!(!second.accepts("wrong"));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
