//! A pod's hostname and its `/etc/hosts`, exactly as the kubelet derives and writes them.
//!
//! Follows kubernetes `pkg/kubelet/kubelet_pods.go` (`GeneratePodHostNameAndDomain`,
//! `truncatePodHostnameIfNeeded`, `managedHostsFileContent`, `nodeHostsFileContent`,
//! `hostsEntriesFromHostAliases`) and `pkg/kubelet/util/util.go` (`GetNodenameForKernel`).

use std::fmt::Write as _;
use std::net::IpAddr;

use k8s_openapi::api::core::v1::{HostAlias, Pod};

/// Errors deriving a pod's hostname.
#[derive(Debug, thiserror::Error)]
pub enum HostnameError {
    /// `spec.hostname`, `spec.subdomain` or the derived FQDN is not usable.
    #[error("failed to derive the pod hostname: {0}")]
    Invalid(String),
}

/// The first line of a hosts file the kubelet manages for a pod with its own network.
pub const MANAGED_HOSTS_HEADER: &str = "# Kubernetes-managed hosts file.\n";
/// The first line of a hosts file the kubelet manages for a `hostNetwork` pod.
pub const MANAGED_HOSTS_HEADER_HOST_NETWORK: &str =
    "# Kubernetes-managed hosts file (host network).\n";

/// The kernel's nodename holds 64 bytes including the terminating NUL.
const HOSTNAME_MAX_LEN: usize = 63;
/// `GetNodenameForKernel` allows an FQDN of up to 64 characters.
const FQDN_MAX_LEN: usize = 64;

/// A pod's names as the kubelet derives them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodHostname {
    /// `spec.hostname`, or the pod name, cut to 63 characters.
    pub hostname: String,
    /// `<subdomain>.<namespace>.svc.<cluster domain>` when `spec.subdomain` is set.
    pub domain: Option<String>,
    /// `<hostname>.<domain>` when `spec.subdomain` is set.
    pub fqdn: Option<String>,
    /// The name to give the pod's UTS namespace: the FQDN when
    /// `spec.setHostnameAsFQDN` is true and there is a domain, else `hostname`.
    pub kernel_hostname: String,
}

/// Derives the hostname, domain and FQDN of a pod that has its own UTS namespace.
///
/// `hostNetwork` pods keep the node's hostname; the agent does not call this for them.
pub fn pod_hostname(pod: &Pod, cluster_domain: &str) -> Result<PodHostname, HostnameError> {
    let name = pod.metadata.name.as_deref().unwrap_or_default();
    let namespace = pod.metadata.namespace.as_deref().unwrap_or("default");
    let spec = pod.spec.as_ref();
    let requested = spec
        .and_then(|s| s.hostname.as_deref())
        .filter(|h| !h.is_empty());
    if let Some(requested) = requested {
        check_dns_label("spec.hostname", requested)?;
    }
    let hostname = truncate_hostname(name, requested.unwrap_or(name))?;

    let subdomain = spec
        .and_then(|s| s.subdomain.as_deref())
        .filter(|s| !s.is_empty());
    let domain = match subdomain {
        Some(subdomain) => {
            check_dns_label("spec.subdomain", subdomain)?;
            Some(format!("{subdomain}.{namespace}.svc.{cluster_domain}"))
        }
        None => None,
    };
    let fqdn = domain.as_ref().map(|domain| format!("{hostname}.{domain}"));

    let as_fqdn = spec.and_then(|s| s.set_hostname_as_fqdn).unwrap_or(false);
    let kernel_hostname = match (&fqdn, as_fqdn) {
        (Some(fqdn), true) if fqdn.len() > FQDN_MAX_LEN => {
            return Err(HostnameError::Invalid(format!(
                "FQDN {fqdn} is too long ({FQDN_MAX_LEN} characters is the max, {} characters requested)",
                fqdn.len()
            )))
        }
        (Some(fqdn), true) => fqdn.clone(),
        _ => hostname.clone(),
    };
    Ok(PodHostname {
        hostname,
        domain,
        fqdn,
        kernel_hostname,
    })
}

/// Cuts a hostname to 63 characters and strips a trailing `-` or `.` the cut exposed
/// (kubelet `truncatePodHostnameIfNeeded`).
fn truncate_hostname(pod_name: &str, hostname: &str) -> Result<String, HostnameError> {
    if hostname.len() <= HOSTNAME_MAX_LEN {
        return Ok(hostname.to_string());
    }
    // Pod names are DNS subdomains (ASCII), so a byte cut is a character cut.
    let truncated = hostname[..HOSTNAME_MAX_LEN].trim_end_matches(['-', '.']);
    if truncated.is_empty() {
        return Err(HostnameError::Invalid(format!(
            "hostname for pod {pod_name:?} was invalid: {hostname:?}"
        )));
    }
    Ok(truncated.to_string())
}

/// An RFC 1123 label: 1–63 of `[a-z0-9-]`, starting and ending alphanumeric.
fn check_dns_label(field: &str, value: &str) -> Result<(), HostnameError> {
    let alphanumeric = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    let valid = !value.is_empty()
        && value.len() <= HOSTNAME_MAX_LEN
        && value.chars().all(|c| alphanumeric(c) || c == '-')
        && value.starts_with(alphanumeric)
        && value.ends_with(alphanumeric);
    if valid {
        Ok(())
    } else {
        Err(HostnameError::Invalid(format!(
            "pod {field} {value:?} is not a valid DNS label"
        )))
    }
}

/// The `/etc/hosts` of a pod with its own network namespace.
///
/// `fqdn` is [`PodHostname::fqdn`]: with it the pod's line reads
/// `<podIP>\t<fqdn>\t<hostname>`, without it `<podIP>\t<hostname>`.
pub fn hosts_file(
    pod_ip: IpAddr,
    hostname: &str,
    fqdn: Option<&str>,
    host_aliases: &[HostAlias],
) -> String {
    let mut text = String::from(MANAGED_HOSTS_HEADER);
    text.push_str("127.0.0.1\tlocalhost\n");
    text.push_str("::1\tlocalhost ip6-localhost ip6-loopback\n");
    text.push_str("fe00::0\tip6-localnet\n");
    text.push_str("fe00::0\tip6-mcastprefix\n");
    text.push_str("fe00::1\tip6-allnodes\n");
    text.push_str("fe00::2\tip6-allrouters\n");
    match fqdn {
        Some(fqdn) => writeln!(text, "{pod_ip}\t{fqdn}\t{hostname}"),
        None => writeln!(text, "{pod_ip}\t{hostname}"),
    }
    .expect("writing to a String cannot fail");
    text.push_str(&host_alias_entries(host_aliases));
    text
}

/// The `/etc/hosts` of a `hostNetwork` pod: the node's file under its own header, plus the aliases.
pub fn host_network_hosts_file(node_hosts_text: &str, host_aliases: &[HostAlias]) -> String {
    let mut text = String::from(MANAGED_HOSTS_HEADER_HOST_NETWORK);
    text.push_str(node_hosts_text);
    text.push_str(&host_alias_entries(host_aliases));
    text
}

/// One line per alias IP with all its hostnames, after a blank line and a comment.
fn host_alias_entries(host_aliases: &[HostAlias]) -> String {
    if host_aliases.is_empty() {
        return String::new();
    }
    let mut text = String::from("\n# Entries added by HostAliases.\n");
    for alias in host_aliases {
        let names = alias.hostnames.as_deref().unwrap_or_default().join("\t");
        writeln!(text, "{}\t{names}", alias.ip).expect("writing to a String cannot fail");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::PodSpec;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn pod(name: &str, spec: PodSpec) -> Pod {
        Pod {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some("shop".into()),
                ..Default::default()
            },
            spec: Some(spec),
            ..Default::default()
        }
    }

    fn alias(ip: &str, names: &[&str]) -> HostAlias {
        HostAlias {
            ip: ip.into(),
            hostnames: Some(names.iter().map(|n| n.to_string()).collect()),
        }
    }

    #[test]
    fn should_write_the_kubelet_hosts_file_for_a_plain_pod() {
        let text = hosts_file("10.42.0.4".parse().unwrap(), "nginx", None, &[]);
        assert_eq!(
            text,
            "# Kubernetes-managed hosts file.\n\
             127.0.0.1\tlocalhost\n\
             ::1\tlocalhost ip6-localhost ip6-loopback\n\
             fe00::0\tip6-localnet\n\
             fe00::0\tip6-mcastprefix\n\
             fe00::1\tip6-allnodes\n\
             fe00::2\tip6-allrouters\n\
             10.42.0.4\tnginx\n"
        );
    }

    #[test]
    fn should_list_fqdn_then_hostname_and_append_host_aliases() {
        let aliases = [
            alias("127.0.0.1", &["foo.local", "bar.local"]),
            alias("10.1.2.3", &["foo.remote", "bar.remote"]),
        ];
        let text = hosts_file(
            "10.42.0.9".parse().unwrap(),
            "web-0",
            Some("web-0.web.shop.svc.cluster.local"),
            &aliases,
        );
        assert!(text.ends_with(
            "fe00::2\tip6-allrouters\n\
             10.42.0.9\tweb-0.web.shop.svc.cluster.local\tweb-0\n\
             \n\
             # Entries added by HostAliases.\n\
             127.0.0.1\tfoo.local\tbar.local\n\
             10.1.2.3\tfoo.remote\tbar.remote\n"
        ));
    }

    #[test]
    fn should_prefix_the_node_hosts_file_for_host_network_pods() {
        let text = host_network_hosts_file("127.0.0.1 localhost\n", &[alias("1.2.3.4", &["x"])]);
        assert_eq!(
            text,
            "# Kubernetes-managed hosts file (host network).\n127.0.0.1 localhost\n\n\
             # Entries added by HostAliases.\n1.2.3.4\tx\n"
        );
    }

    #[test]
    fn should_use_the_pod_name_when_no_hostname_is_set() {
        let names = pod_hostname(&pod("web-7d9f", PodSpec::default()), "cluster.local").unwrap();
        assert_eq!(names.hostname, "web-7d9f");
        assert_eq!(names.fqdn, None);
        assert_eq!(names.kernel_hostname, "web-7d9f");
    }

    #[test]
    fn should_build_the_fqdn_from_hostname_and_subdomain() {
        let spec = PodSpec {
            hostname: Some("db-0".into()),
            subdomain: Some("db".into()),
            ..Default::default()
        };
        let names = pod_hostname(&pod("ignored", spec), "cluster.local").unwrap();
        assert_eq!(names.hostname, "db-0");
        assert_eq!(names.domain.as_deref(), Some("db.shop.svc.cluster.local"));
        assert_eq!(
            names.fqdn.as_deref(),
            Some("db-0.db.shop.svc.cluster.local")
        );
        assert_eq!(names.kernel_hostname, "db-0");
    }

    #[test]
    fn should_set_the_kernel_hostname_to_the_fqdn_only_when_asked_and_short_enough() {
        let mut spec = PodSpec {
            hostname: Some("db-0".into()),
            subdomain: Some("db".into()),
            set_hostname_as_fqdn: Some(true),
            ..Default::default()
        };
        let names = pod_hostname(&pod("p", spec.clone()), "cluster.local").unwrap();
        assert_eq!(names.kernel_hostname, "db-0.db.shop.svc.cluster.local");

        spec.hostname = Some("h".repeat(60));
        let error = pod_hostname(&pod("p", spec), "cluster.local").unwrap_err();
        assert!(error.to_string().contains("too long"), "{error}");
    }

    #[test]
    fn should_truncate_long_pod_names_to_63_without_a_trailing_dash() {
        let name = format!("{}-{}", "a".repeat(62), "tail");
        let names = pod_hostname(&pod(&name, PodSpec::default()), "cluster.local").unwrap();
        assert_eq!(names.hostname, "a".repeat(62));
        let exact = "b".repeat(63);
        let names = pod_hostname(&pod(&exact, PodSpec::default()), "cluster.local").unwrap();
        assert_eq!(names.hostname, exact);
    }

    #[test]
    fn should_not_allow_a_hostname_that_is_not_a_dns_label() {
        let spec = PodSpec {
            hostname: Some("Bad_Name".into()),
            ..Default::default()
        };
        assert!(pod_hostname(&pod("p", spec), "cluster.local").is_err());
    }
}
