//! A pod's `/etc/resolv.conf` by `dnsPolicy` and `dnsConfig`, as the kubelet composes it.
//!
//! Follows kubernetes `pkg/kubelet/network/dns/dns.go` (`GetPodDNS`, `getPodDNSType`,
//! `parseResolvConf`, `generateSearchesForDNSClusterFirst`, `appendDNSConfig`,
//! `mergeDNSOptions`, `formDNSConfigFitsLimits`) and, for the text, containerd's
//! `parseDNSOptions` (`search`, then one `nameserver` line each, then `options`).

use std::net::IpAddr;

use k8s_openapi::api::core::v1::{Pod, PodDNSConfig};

/// At most three nameservers: glibc ignores the rest (`MAXNS`).
pub const MAX_NAMESERVERS: usize = 3;
/// At most 32 search domains (`MaxDNSSearchPathsExpanded`).
pub const MAX_SEARCH_PATHS: usize = 32;
/// At most 2048 characters on the search line (`MaxDNSSearchListCharsExpanded`).
pub const MAX_SEARCH_LINE_CHARS: usize = 2048;
/// A search domain longer than a DNS name makes some resolvers abort; it is dropped.
const MAX_SEARCH_DOMAIN_LEN: usize = 253;

/// `spec.dnsPolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DnsPolicy {
    /// Cluster DNS, unless the pod uses the host network (then as `Default`).
    ClusterFirst,
    /// Cluster DNS even for `hostNetwork` pods.
    ClusterFirstWithHostNet,
    /// The node's resolver settings.
    Default,
    /// Only what `dnsConfig` says.
    None,
}

impl DnsPolicy {
    /// Parses `spec.dnsPolicy`; unset or unknown values mean `ClusterFirst`, as in the kubelet.
    pub fn from_spec(policy: Option<&str>) -> Self {
        match policy {
            Some("ClusterFirstWithHostNet") => Self::ClusterFirstWithHostNet,
            Some("Default") => Self::Default,
            Some("None") => Self::None,
            _ => Self::ClusterFirst,
        }
    }
}

/// The resolver settings of a pod, ready to be rendered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResolvConf {
    /// `nameserver` lines, at most [`MAX_NAMESERVERS`].
    pub nameservers: Vec<String>,
    /// The `search` line.
    pub searches: Vec<String>,
    /// The `options` line (`ndots:5`).
    pub options: Vec<String>,
    /// Limits that were exceeded (the kubelet reports them as `DNSConfigForming` events).
    pub warnings: Vec<String>,
}

impl ResolvConf {
    /// The file's text.
    pub fn render(&self) -> String {
        let mut text = String::new();
        if !self.searches.is_empty() {
            text.push_str(&format!("search {}\n", self.searches.join(" ")));
        }
        for nameserver in &self.nameservers {
            text.push_str(&format!("nameserver {nameserver}\n"));
        }
        if !self.options.is_empty() {
            text.push_str(&format!("options {}\n", self.options.join(" ")));
        }
        text
    }
}

/// The node's resolver settings, parsed as `parseResolvConf` does: nameservers
/// accumulate, the last `search` line wins (without `.` and trailing dots), and
/// options merge by name.
pub fn parse_host_resolv_conf(text: &str) -> ResolvConf {
    let mut parsed = ResolvConf::default();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') {
            continue;
        }
        let mut fields = line.split_whitespace();
        match fields.next() {
            Some("nameserver") => parsed.nameservers.extend(fields.next().map(str::to_string)),
            Some("search") => {
                parsed.searches = fields
                    .filter(|s| *s != ".")
                    .map(|s| s.trim_end_matches('.').to_string())
                    .collect();
            }
            Some("options") => {
                for option in fields {
                    set_option(&mut parsed.options, option.to_string());
                }
            }
            _ => {}
        }
    }
    parsed
}

/// Composes a pod's resolver settings.
///
/// `cluster_dns_ip` of `None` makes ClusterFirst fall back to `Default`, as the
/// kubelet does without `--cluster-dns`. `host_resolv_conf_text` is the node's
/// `/etc/resolv.conf` (the kubelet's `--resolv-conf`).
pub fn resolv_conf(
    dns_policy: DnsPolicy,
    dns_config: Option<&PodDNSConfig>,
    host_network: bool,
    cluster_dns_ip: Option<IpAddr>,
    cluster_domain: &str,
    namespace: &str,
    host_resolv_conf_text: &str,
) -> ResolvConf {
    let uses_cluster_dns = match dns_policy {
        DnsPolicy::ClusterFirstWithHostNet => true,
        DnsPolicy::ClusterFirst => !host_network,
        DnsPolicy::Default | DnsPolicy::None => false,
    };
    let mut conf = match (dns_policy, uses_cluster_dns, cluster_dns_ip) {
        (DnsPolicy::None, _, _) => ResolvConf::default(),
        (_, true, Some(cluster_dns_ip)) => {
            let host = parse_host_resolv_conf(host_resolv_conf_text);
            ResolvConf {
                nameservers: vec![cluster_dns_ip.to_string()],
                searches: cluster_first_searches(&host.searches, cluster_domain, namespace),
                options: vec!["ndots:5".to_string()],
                warnings: Vec::new(),
            }
        }
        _ => parse_host_resolv_conf(host_resolv_conf_text),
    };
    if let Some(dns_config) = dns_config {
        append_dns_config(&mut conf, dns_config);
    }
    fit_limits(&mut conf);
    conf
}

/// [`resolv_conf`] with the policy, `dnsConfig`, `hostNetwork` and namespace taken from `pod`.
pub fn pod_resolv_conf(
    pod: &Pod,
    cluster_dns_ip: Option<IpAddr>,
    cluster_domain: &str,
    host_resolv_conf_text: &str,
) -> ResolvConf {
    let spec = pod.spec.as_ref();
    resolv_conf(
        DnsPolicy::from_spec(spec.and_then(|s| s.dns_policy.as_deref())),
        spec.and_then(|s| s.dns_config.as_ref()),
        spec.and_then(|s| s.host_network).unwrap_or(false),
        cluster_dns_ip,
        cluster_domain,
        pod.metadata.namespace.as_deref().unwrap_or("default"),
        host_resolv_conf_text,
    )
}

/// `<ns>.svc.<domain> svc.<domain> <domain>`, then the node's own search paths, without duplicates.
fn cluster_first_searches(
    host_searches: &[String],
    cluster_domain: &str,
    namespace: &str,
) -> Vec<String> {
    if cluster_domain.is_empty() {
        return host_searches.to_vec();
    }
    let cluster = [
        format!("{namespace}.svc.{cluster_domain}"),
        format!("svc.{cluster_domain}"),
        cluster_domain.to_string(),
    ];
    omit_duplicates(cluster.into_iter().chain(host_searches.iter().cloned()))
}

/// Appends `dnsConfig`'s nameservers and searches (deduplicated) and merges its
/// options by name, the pod's value winning.
fn append_dns_config(conf: &mut ResolvConf, dns_config: &PodDNSConfig) {
    let extra_nameservers = dns_config.nameservers.iter().flatten().cloned();
    conf.nameservers = omit_duplicates(conf.nameservers.drain(..).chain(extra_nameservers));
    let extra_searches = dns_config.searches.iter().flatten().cloned();
    conf.searches = omit_duplicates(conf.searches.drain(..).chain(extra_searches));
    for option in dns_config.options.iter().flatten() {
        let Some(name) = option.name.as_deref().filter(|n| !n.is_empty()) else {
            continue;
        };
        let rendered = match option.value.as_deref().filter(|v| !v.is_empty()) {
            Some(value) => format!("{name}:{value}"),
            None => name.to_string(),
        };
        set_option(&mut conf.options, rendered);
    }
}

/// Replaces the option of the same name in place, or appends it. (The kubelet
/// merges through a Go map, so its order is unspecified; ours keeps first-seen order.)
fn set_option(options: &mut Vec<String>, option: String) {
    let name = |o: &str| o.split(':').next().unwrap_or_default().to_string();
    let new_name = name(&option);
    match options
        .iter_mut()
        .find(|existing| name(existing) == new_name)
    {
        Some(existing) => *existing = option,
        None => options.push(option),
    }
}

fn omit_duplicates(items: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut unique: Vec<String> = Vec::new();
    for item in items {
        if !unique.contains(&item) {
            unique.push(item);
        }
    }
    unique
}

/// Cuts nameservers to three and the search list to 32 domains and 2048
/// characters, dropping over-long domains, and records what was cut.
fn fit_limits(conf: &mut ResolvConf) {
    if conf.nameservers.len() > MAX_NAMESERVERS {
        conf.nameservers.truncate(MAX_NAMESERVERS);
        conf.warnings.push(format!(
            "Nameserver limits were exceeded, some nameservers have been omitted, the applied nameserver line is: {}",
            conf.nameservers.join(" ")
        ));
    }
    let mut exceeded = false;
    if conf.searches.len() > MAX_SEARCH_PATHS {
        conf.searches.truncate(MAX_SEARCH_PATHS);
        exceeded = true;
    }
    let before = conf.searches.len();
    conf.searches.retain(|s| s.len() <= MAX_SEARCH_DOMAIN_LEN);
    exceeded |= conf.searches.len() != before;
    while conf.searches.join(" ").len() > MAX_SEARCH_LINE_CHARS {
        conf.searches.pop();
        exceeded = true;
    }
    if exceeded {
        conf.warnings.push(format!(
            "Search Line limits were exceeded, some search paths have been omitted, the applied search line is: {}",
            conf.searches.join(" ")
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::PodDNSConfigOption;

    const HOST: &str = "# generated\nnameserver 192.0.2.53\nnameserver 192.0.2.54\n\
                        search corp.example lab.example.\noptions timeout:2 rotate\n";

    fn cluster_dns() -> Option<IpAddr> {
        Some("10.43.0.10".parse().unwrap())
    }

    fn option(name: &str, value: Option<&str>) -> PodDNSConfigOption {
        PodDNSConfigOption {
            name: Some(name.into()),
            value: value.map(str::to_string),
        }
    }

    #[test]
    fn should_point_cluster_first_pods_at_cluster_dns_with_merged_search_paths() {
        let conf = resolv_conf(
            DnsPolicy::ClusterFirst,
            None,
            false,
            cluster_dns(),
            "cluster.local",
            "shop",
            HOST,
        );
        assert_eq!(
            conf.render(),
            "search shop.svc.cluster.local svc.cluster.local cluster.local corp.example lab.example\n\
             nameserver 10.43.0.10\n\
             options ndots:5\n"
        );
        assert!(conf.warnings.is_empty());
    }

    #[test]
    fn should_copy_the_host_resolver_for_default_policy() {
        let conf = resolv_conf(
            DnsPolicy::Default,
            None,
            false,
            cluster_dns(),
            "cluster.local",
            "shop",
            HOST,
        );
        assert_eq!(
            conf.render(),
            "search corp.example lab.example\n\
             nameserver 192.0.2.53\n\
             nameserver 192.0.2.54\n\
             options timeout:2 rotate\n"
        );
    }

    #[test]
    fn should_treat_cluster_first_on_the_host_network_as_default_unless_with_host_net() {
        let host_net = resolv_conf(
            DnsPolicy::ClusterFirst,
            None,
            true,
            cluster_dns(),
            "cluster.local",
            "shop",
            HOST,
        );
        assert_eq!(host_net.nameservers, ["192.0.2.53", "192.0.2.54"]);
        let with_host_net = resolv_conf(
            DnsPolicy::ClusterFirstWithHostNet,
            None,
            true,
            cluster_dns(),
            "cluster.local",
            "shop",
            HOST,
        );
        assert_eq!(with_host_net.nameservers, ["10.43.0.10"]);
        assert_eq!(with_host_net.searches[0], "shop.svc.cluster.local");
    }

    #[test]
    fn should_fall_back_to_the_host_resolver_without_a_cluster_dns_ip() {
        let conf = resolv_conf(
            DnsPolicy::ClusterFirst,
            None,
            false,
            None,
            "cluster.local",
            "shop",
            HOST,
        );
        assert_eq!(conf.nameservers, ["192.0.2.53", "192.0.2.54"]);
    }

    #[test]
    fn should_take_only_dns_config_for_policy_none() {
        let dns_config = PodDNSConfig {
            nameservers: Some(vec!["1.2.3.4".into()]),
            searches: Some(vec![
                "ns1.svc.cluster-domain.example".into(),
                "my.dns.search.suffix".into(),
            ]),
            options: Some(vec![option("ndots", Some("2")), option("edns0", None)]),
        };
        let conf = resolv_conf(
            DnsPolicy::None,
            Some(&dns_config),
            false,
            cluster_dns(),
            "cluster.local",
            "shop",
            HOST,
        );
        assert_eq!(
            conf.render(),
            "search ns1.svc.cluster-domain.example my.dns.search.suffix\n\
             nameserver 1.2.3.4\n\
             options ndots:2 edns0\n"
        );
    }

    #[test]
    fn should_merge_dns_config_into_cluster_first_overriding_options_by_name() {
        let dns_config = PodDNSConfig {
            nameservers: Some(vec!["10.43.0.10".into(), "9.9.9.9".into()]),
            searches: Some(vec!["svc.cluster.local".into(), "extra.example".into()]),
            options: Some(vec![
                option("ndots", Some("1")),
                option("single-request", None),
            ]),
        };
        let conf = resolv_conf(
            DnsPolicy::ClusterFirst,
            Some(&dns_config),
            false,
            cluster_dns(),
            "cluster.local",
            "shop",
            "",
        );
        assert_eq!(conf.nameservers, ["10.43.0.10", "9.9.9.9"]);
        assert_eq!(
            conf.searches,
            [
                "shop.svc.cluster.local",
                "svc.cluster.local",
                "cluster.local",
                "extra.example"
            ]
        );
        assert_eq!(conf.options, ["ndots:1", "single-request"]);
    }

    #[test]
    fn should_keep_at_most_three_nameservers_and_warn() {
        let dns_config = PodDNSConfig {
            nameservers: Some(vec!["1.1.1.1".into(), "2.2.2.2".into(), "3.3.3.3".into()]),
            ..Default::default()
        };
        let conf = resolv_conf(
            DnsPolicy::Default,
            Some(&dns_config),
            false,
            None,
            "cluster.local",
            "shop",
            HOST,
        );
        assert_eq!(conf.nameservers, ["192.0.2.53", "192.0.2.54", "1.1.1.1"]);
        assert_eq!(conf.warnings.len(), 1);
    }

    #[test]
    fn should_keep_at_most_32_search_paths_and_drop_overlong_ones() {
        let mut searches: Vec<String> = (0..40).map(|n| format!("d{n}.example")).collect();
        searches.insert(0, "x".repeat(254));
        let dns_config = PodDNSConfig {
            searches: Some(searches),
            ..Default::default()
        };
        let conf = resolv_conf(
            DnsPolicy::None,
            Some(&dns_config),
            false,
            None,
            "cluster.local",
            "shop",
            "",
        );
        assert_eq!(
            conf.searches.len(),
            31,
            "cut to 32, then the over-long one dropped"
        );
        assert_eq!(conf.searches[0], "d0.example");
        assert!(conf.warnings[0].starts_with("Search Line limits were exceeded"));
    }

    #[test]
    fn should_cut_the_search_line_to_2048_characters() {
        let searches: Vec<String> = (0..12)
            .map(|n| format!("{n:02}{}", "s".repeat(198)))
            .collect();
        let dns_config = PodDNSConfig {
            searches: Some(searches),
            ..Default::default()
        };
        let conf = resolv_conf(
            DnsPolicy::None,
            Some(&dns_config),
            false,
            None,
            "cluster.local",
            "shop",
            "",
        );
        assert!(conf.searches.join(" ").len() <= MAX_SEARCH_LINE_CHARS);
        assert_eq!(conf.searches.len(), 10);
    }

    #[test]
    fn should_parse_the_last_search_line_and_merge_host_options() {
        let parsed = parse_host_resolv_conf(
            "search a.example\nsearch b.example . c.example.\noptions ndots:2\noptions ndots:3 rotate\nnameserver\n",
        );
        assert_eq!(parsed.searches, ["b.example", "c.example"]);
        assert_eq!(parsed.options, ["ndots:3", "rotate"]);
        assert!(parsed.nameservers.is_empty());
    }

    #[test]
    fn should_read_the_policy_from_the_spec_defaulting_to_cluster_first() {
        assert_eq!(DnsPolicy::from_spec(None), DnsPolicy::ClusterFirst);
        assert_eq!(DnsPolicy::from_spec(Some("None")), DnsPolicy::None);
        assert_eq!(DnsPolicy::from_spec(Some("Default")), DnsPolicy::Default);
        assert_eq!(
            DnsPolicy::from_spec(Some("ClusterFirstWithHostNet")),
            DnsPolicy::ClusterFirstWithHostNet
        );
    }
}
