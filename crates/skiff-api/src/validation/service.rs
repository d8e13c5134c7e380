//! Services (`ValidateService`, `ValidateServiceUpdate` in
//! `k8s.io/kubernetes/pkg/apis/core/validation/validation.go`).

use std::collections::BTreeSet;

use serde_json::Value;

use super::container::{invalid_number, validate_port_num_or_name, validate_protocol};
use super::meta::{validate_labels, validate_object_meta};
use super::names::{
    is_dns1123_label, is_dns1123_subdomain, is_non_special_ip, is_qualified_name, is_valid_ip,
    is_valid_port_num, name_is_dns1035_label, parse_ip,
};
use super::render::{
    duplicate_rendered, go_int_or_string, go_quote, go_string_slice, invalid_rendered,
};
use super::{
    array_of, child, index, int_of, invalid_each, is_set, object_of, str_of, string_or_empty,
    FIELD_IMMUTABLE,
};
use crate::field::FieldError;

/// Service types, sorted as upstream lists them.
const SERVICE_TYPES: &[&str] = &["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"];

/// The longest time a ClientIP affinity may last (`MaxClientIPServiceAffinitySeconds`).
const MAX_CLIENT_IP_AFFINITY_SECONDS: i64 = 86400;

/// The cluster IPs a Service asks for: `clusterIPs`, or `[clusterIP]` when only
/// the singular is set (the Service strategy's `normalizeClusterIPs`).
fn cluster_ips(service: &Value) -> Vec<String> {
    let spec = service.get("spec").unwrap_or(&Value::Null);
    let listed: Vec<String> = array_of(spec, "clusterIPs")
        .iter()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    if listed.is_empty() {
        match string_or_empty(spec, "clusterIP") {
            "" => Vec::new(),
            ip => vec![ip.to_string()],
        }
    } else {
        listed
    }
}

fn is_headless(service: &Value) -> bool {
    cluster_ips(service) == ["None"]
}

fn service_type(service: &Value) -> &str {
    service
        .get("spec")
        .map_or("", |spec| string_or_empty(spec, "type"))
}

/// `apiservice.ExternallyAccessible`: reachable from outside the cluster.
fn externally_accessible(service: &Value) -> bool {
    match service_type(service) {
        "LoadBalancer" | "NodePort" => true,
        "ClusterIP" => !array_of(&service["spec"], "externalIPs").is_empty(),
        _ => false,
    }
}

/// `apiservice.NeedsHealthCheck`.
fn needs_health_check(service: &Value) -> bool {
    service_type(service) == "LoadBalancer" && service["spec"]["externalTrafficPolicy"] == "Local"
}

/// `ValidateService`.
pub fn validate_service(service: &Value) -> Vec<FieldError> {
    let mut errors = validate_object_meta(service, true, name_is_dns1035_label);
    let spec = service.get("spec").unwrap_or(&Value::Null);
    let kind = service_type(service);
    let ports = array_of(spec, "ports");
    let headless = is_headless(service);
    let ips = cluster_ips(service);

    if ports.is_empty() && !headless && kind != "ExternalName" {
        errors.push(FieldError::required("spec.ports", ""));
    }
    match kind {
        "LoadBalancer" | "NodePort" if headless => errors.push(FieldError::invalid(
            "spec.clusterIPs[0]",
            &Value::from("None"),
            format!("may not be set to 'None' for {kind} services"),
        )),
        "ExternalName" => {
            for field in ["clusterIPs", "ipFamilies"] {
                let set = if field == "clusterIPs" {
                    !ips.is_empty()
                } else {
                    !array_of(spec, field).is_empty()
                };
                if set {
                    errors.push(FieldError::forbidden(
                        child("spec", field),
                        "may not be set for ExternalName services",
                    ));
                }
            }
            if is_set(spec, "ipFamilyPolicy") {
                errors.push(FieldError::forbidden(
                    "spec.ipFamilyPolicy",
                    "may not be set for ExternalName services",
                ));
            }
            // The CNAME may end with a dot to say it is fully qualified.
            let cname = string_or_empty(spec, "externalName").trim_end_matches('.');
            if cname.is_empty() {
                errors.push(FieldError::required("spec.externalName", ""));
            } else {
                errors.extend(invalid_each(
                    "spec.externalName",
                    cname,
                    is_dns1123_subdomain(cname),
                ));
            }
        }
        _ => {}
    }

    let mut port_names = BTreeSet::new();
    for (i, port) in ports.iter().enumerate() {
        errors.extend(validate_service_port(
            port,
            ports.len() > 1,
            &mut port_names,
            &index("spec.ports", i),
        ));
    }
    if let Some(selector) = object_of(spec, "selector") {
        errors.extend(validate_labels(Some(selector), "spec.selector"));
    }

    let affinity = string_or_empty(spec, "sessionAffinity");
    match affinity {
        "" => errors.push(FieldError::required("spec.sessionAffinity", "")),
        "ClientIP" => errors.extend(validate_client_ip_affinity(
            spec.get("sessionAffinityConfig"),
        )),
        "None" => {
            if is_set(spec, "sessionAffinityConfig") {
                errors.push(FieldError::forbidden(
                    "spec.sessionAffinityConfig",
                    "must not be set when session affinity is None",
                ));
            }
        }
        other => errors.push(FieldError::not_supported(
            "spec.sessionAffinity",
            &Value::from(other),
            &["ClientIP", "None"],
        )),
    }

    if kind != "ExternalName" {
        errors.extend(validate_cluster_ips(spec, &ips));
    }
    for (i, ip) in array_of(spec, "externalIPs").iter().enumerate() {
        let ip = ip.as_str().unwrap_or_default();
        let path = index("spec.externalIPs", i);
        let problems = is_valid_ip(ip);
        if problems.is_empty() {
            errors.extend(invalid_each(&path, ip, is_non_special_ip(ip)));
        } else {
            errors.extend(invalid_each(&path, ip, problems));
        }
    }
    match kind {
        "" => errors.push(FieldError::required("spec.type", "")),
        k if SERVICE_TYPES.contains(&k) => {}
        other => errors.push(FieldError::not_supported(
            "spec.type",
            &Value::from(other),
            SERVICE_TYPES,
        )),
    }
    if kind == "ClusterIP" {
        for (i, port) in ports.iter().enumerate() {
            if int_of(port, "nodePort").unwrap_or(0) != 0 {
                errors.push(FieldError::forbidden(
                    child(&index("spec.ports", i), "nodePort"),
                    "may not be used when `type` is 'ClusterIP'",
                ));
            }
        }
    }
    errors.extend(check_duplicate_ports(ports));

    if !array_of(spec, "loadBalancerSourceRanges").is_empty() && kind != "LoadBalancer" {
        errors.push(FieldError::forbidden(
            "spec.LoadBalancerSourceRanges",
            "may only be used when `type` is 'LoadBalancer'",
        ));
    }
    if is_set(spec, "allocateLoadBalancerNodePorts") && kind != "LoadBalancer" {
        errors.push(FieldError::forbidden(
            "spec.allocateLoadBalancerNodePorts",
            "may only be used when `type` is 'LoadBalancer'",
        ));
    }
    if kind == "LoadBalancer" && !is_set(spec, "allocateLoadBalancerNodePorts") {
        // Upstream names this field without its `spec.` prefix.
        errors.push(FieldError::required("allocateLoadBalancerNodePorts", ""));
    }
    errors.extend(validate_traffic_policies(service));
    errors
}

/// `validateServicePort`. Ports must be named when there is more than one.
fn validate_service_port(
    port: &Value,
    require_name: bool,
    names: &mut BTreeSet<String>,
    path: &str,
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let name = string_or_empty(port, "name");
    if require_name && name.is_empty() {
        errors.push(FieldError::required(child(path, "name"), ""));
    } else if !name.is_empty() {
        errors.extend(invalid_each(
            &child(path, "name"),
            name,
            is_dns1123_label(name),
        ));
        if !names.insert(name.to_string()) {
            errors.push(FieldError::duplicate(
                child(path, "name"),
                &Value::from(name),
            ));
        }
    }
    let number = int_of(port, "port").unwrap_or(0);
    errors.extend(invalid_number(
        &child(path, "port"),
        number,
        is_valid_port_num(number),
    ));
    errors.extend(validate_protocol(port, &child(path, "protocol")));
    errors.extend(validate_port_num_or_name(
        port.get("targetPort"),
        &child(path, "targetPort"),
    ));
    if let Some(app_protocol) = str_of(port, "appProtocol") {
        errors.extend(invalid_each(
            &child(path, "appProtocol"),
            app_protocol,
            is_qualified_name(app_protocol),
        ));
    }
    errors
}

fn validate_client_ip_affinity(config: Option<&Value>) -> Vec<FieldError> {
    let detail = "when session affinity type is ClientIP";
    let Some(config) = config.filter(|c| !c.is_null()) else {
        return vec![FieldError::required("spec.sessionAffinityConfig", detail)];
    };
    let Some(client_ip) = config.get("clientIP").filter(|c| !c.is_null()) else {
        return vec![FieldError::required(
            "spec.sessionAffinityConfig.clientIP",
            detail,
        )];
    };
    let path = "spec.sessionAffinityConfig.clientIP.timeoutSeconds";
    match int_of(client_ip, "timeoutSeconds") {
        None => vec![FieldError::required(path, detail)],
        Some(t) if t <= 0 || t > MAX_CLIENT_IP_AFFINITY_SECONDS => vec![FieldError::invalid(
            path,
            &Value::from(t),
            format!("must be greater than 0 and less than {MAX_CLIENT_IP_AFFINITY_SECONDS}"),
        )],
        Some(_) => Vec::new(),
    }
}

/// `ValidateServiceClusterIPsRelatedFields`.
fn validate_cluster_ips(spec: &Value, ips: &[String]) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let cluster_ip = string_or_empty(spec, "clusterIP");
    let ips_json: Vec<Value> = ips.iter().map(|ip| Value::from(ip.as_str())).collect();
    let ips_rendered = go_string_slice(Some(&ips_json));
    if !cluster_ip.is_empty() && ips.first().map(String::as_str) != Some(cluster_ip) {
        errors.push(invalid_rendered(
            "spec.clusterIPs",
            ips_rendered.clone(),
            "first value must match `clusterIP`",
        ));
    }
    let mut seen = BTreeSet::new();
    for (i, family) in array_of(spec, "ipFamilies").iter().enumerate() {
        let family = family.as_str().unwrap_or_default();
        let path = index("spec.ipFamilies", i);
        if family != "IPv4" && family != "IPv6" {
            errors.push(FieldError::not_supported(
                &path,
                &Value::from(family),
                &["IPv4", "IPv6"],
            ));
        }
        if !seen.insert(family) {
            errors.push(FieldError::duplicate(&path, &Value::from(family)));
        }
    }
    if let Some(policy) = str_of(spec, "ipFamilyPolicy") {
        const POLICIES: &[&str] = &["PreferDualStack", "RequireDualStack", "SingleStack"];
        if !POLICIES.contains(&policy) {
            errors.push(FieldError::not_supported(
                "spec.ipFamilyPolicy",
                &Value::from(policy),
                POLICIES,
            ));
        }
    }
    let mut invalid = false;
    for (i, ip) in ips.iter().enumerate() {
        if i == 0 && ip == "None" {
            if ips.len() > 1 {
                invalid = true;
                errors.push(invalid_rendered(
                    "spec.clusterIPs",
                    ips_rendered.clone(),
                    "'None' must be the first and only value",
                ));
            }
            continue;
        }
        let problems = is_valid_ip(ip);
        invalid |= !problems.is_empty();
        errors.extend(invalid_each(&index("spec.clusterIPs", i), ip, problems));
    }
    if ips.len() > 2 {
        errors.push(invalid_rendered(
            "spec.clusterIPs",
            ips_rendered.clone(),
            "may only hold up to 2 values",
        ));
    }
    if invalid {
        return errors;
    }
    if ips.len() == 2 {
        let families: BTreeSet<bool> = ips
            .iter()
            .filter_map(|ip| parse_ip(ip))
            .map(|ip| ip.is_ipv6())
            .collect();
        if families.len() != 2 {
            errors.push(invalid_rendered(
                "spec.clusterIPs",
                ips_rendered,
                "may specify no more than one IP for each IP family",
            ));
        }
    }
    if ips != ["None"] {
        for (i, (ip, family)) in ips.iter().zip(array_of(spec, "ipFamilies")).enumerate() {
            let is_v6 = parse_ip(ip).is_some_and(|a| a.is_ipv6());
            let family = family.as_str().unwrap_or_default();
            if (family == "IPv4" && is_v6) || (family == "IPv6" && !is_v6) {
                errors.push(FieldError::invalid(
                    index("spec.clusterIPs", i),
                    &Value::from(ip.as_str()),
                    format!("expected an {family} value as indicated by `ipFamilies[{i}]`"),
                ));
            }
        }
    }
    errors
}

/// A Service port as Go prints the map key `core.ServicePort{Protocol, Port}`.
fn go_service_port_key(protocol: &str, port: i64) -> String {
    format!(
        "core.ServicePort{{Name:\"\", Protocol:{}, AppProtocol:(*string)(nil), Port:{port}, TargetPort:{}, NodePort:0}}",
        go_quote(protocol),
        go_int_or_string(None)
    )
}

/// Two ports may not share a node port, nor a (protocol, port) pair.
fn check_duplicate_ports(ports: &[Value]) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut node_ports = BTreeSet::new();
    for (i, port) in ports.iter().enumerate() {
        let node_port = int_of(port, "nodePort").unwrap_or(0);
        if node_port != 0 && !node_ports.insert((string_or_empty(port, "protocol"), node_port)) {
            errors.push(FieldError::duplicate(
                child(&index("spec.ports", i), "nodePort"),
                &Value::from(node_port),
            ));
        }
    }
    let mut seen = BTreeSet::new();
    for (i, port) in ports.iter().enumerate() {
        let (protocol, number) = (
            string_or_empty(port, "protocol"),
            int_of(port, "port").unwrap_or(0),
        );
        if !seen.insert((protocol, number)) {
            errors.push(duplicate_rendered(
                index("spec.ports", i),
                go_service_port_key(protocol, number),
            ));
        }
    }
    errors
}

/// External and internal traffic policies, and the health check node port.
fn validate_traffic_policies(service: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let spec = &service["spec"];
    let external = string_or_empty(spec, "externalTrafficPolicy");
    if !externally_accessible(service) {
        if !external.is_empty() {
            errors.push(FieldError::invalid(
                "spec.externalTrafficPolicy",
                &Value::from(external),
                "may only be set for externally-accessible services",
            ));
        }
    } else if external.is_empty() {
        errors.push(FieldError::required("spec.externalTrafficPolicy", ""));
    } else if external != "Cluster" && external != "Local" {
        errors.push(FieldError::not_supported(
            "spec.externalTrafficPolicy",
            &Value::from(external),
            &["Cluster", "Local"],
        ));
    }
    let health_port = int_of(spec, "healthCheckNodePort").unwrap_or(0);
    if !needs_health_check(service) {
        if health_port != 0 {
            errors.push(FieldError::invalid(
                "spec.healthCheckNodePort",
                &Value::from(health_port),
                "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'",
            ));
        }
    } else if health_port == 0 {
        errors.push(FieldError::required("spec.healthCheckNodePort", ""));
    } else {
        errors.extend(invalid_number(
            "spec.healthCheckNodePort",
            health_port,
            is_valid_port_num(health_port),
        ));
    }
    match str_of(spec, "internalTrafficPolicy") {
        None if matches!(
            service_type(service),
            "ClusterIP" | "NodePort" | "LoadBalancer"
        ) =>
        {
            errors.push(FieldError::required("spec.internalTrafficPolicy", ""));
        }
        Some(policy) if policy != "Cluster" && policy != "Local" => {
            errors.push(FieldError::not_supported(
                "spec.internalTrafficPolicy",
                &Value::from(policy),
                &["Cluster", "Local"],
            ));
        }
        _ => {}
    }
    if let Some(distribution) = str_of(spec, "trafficDistribution").filter(|d| *d != "PreferClose")
    {
        errors.push(FieldError::not_supported(
            "spec.trafficDistribution",
            &Value::from(distribution),
            &["PreferClose"],
        ));
    }
    errors
}

/// `ValidateServiceUpdate`: cluster IPs and IP families are fixed once set,
/// unless the Service becomes, or stops being, an ExternalName.
pub fn validate_service_update(new: &Value, old: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let external_name = service_type(new) == "ExternalName" || service_type(old) == "ExternalName";
    let both_headless = is_headless(new) && is_headless(old);
    if !external_name && !both_headless {
        let (new_ips, old_ips) = (cluster_ips(new), cluster_ips(old));
        let rendered = go_string_slice(Some(
            &new_ips.iter().map(|ip| Value::from(ip.as_str())).collect(),
        ));
        let changed =
            |path: String| invalid_rendered(path, rendered.clone(), "may not change once set");
        if new_ips.len() == old_ips.len() {
            for (i, ip) in old_ips.iter().enumerate() {
                if *ip != new_ips[i] {
                    errors.push(changed(index("spec.clusterIPs", i)));
                }
            }
        } else if old_ips.len() > new_ips.len() {
            if new_ips.is_empty() {
                errors.push(invalid_rendered(
                    "spec.clusterIPs[0]",
                    rendered.clone(),
                    "primary clusterIP can not be unset",
                ));
            } else if new_ips[0] != old_ips[0] {
                errors.push(changed("spec.clusterIPs[0]".to_string()));
            }
        } else if !old_ips.is_empty() && new_ips[0] != old_ips[0] {
            errors.push(changed("spec.clusterIPs[0]".to_string()));
        }
        if is_headless(new) == is_headless(old) {
            let families = |s: &Value| array_of(&s["spec"], "ipFamilies").to_vec();
            let (new_families, old_families) = (families(new), families(old));
            if new_families.len() == old_families.len() && new_families != old_families {
                errors.push(invalid_rendered(
                    "spec.ipFamilies[0]",
                    format!(
                        "[]core.IPFamily{{{}}}",
                        new_families
                            .iter()
                            .map(|f| go_quote(f.as_str().unwrap_or_default()))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    "may not change once set",
                ));
            }
        }
    }
    if needs_health_check(old)
        && needs_health_check(new)
        && new["spec"]["healthCheckNodePort"] != old["spec"]["healthCheckNodePort"]
    {
        errors.push(FieldError::forbidden(
            "spec.healthCheckNodePort",
            FIELD_IMMUTABLE,
        ));
    }
    errors.extend(validate_service(new));
    errors
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validation::test_support::messages;
    use serde_json::json;

    fn service(spec: Value) -> Value {
        let mut base = json!({"type": "ClusterIP", "sessionAffinity": "None", "internalTrafficPolicy": "Cluster"});
        for (k, v) in spec.as_object().unwrap() {
            base[k] = v.clone();
        }
        json!({"metadata": {"name": "web", "namespace": "default"}, "spec": base})
    }

    fn port(number: i64) -> Value {
        json!({"port": number, "targetPort": number, "protocol": "TCP"})
    }

    #[test]
    fn should_accept_a_defaulted_cluster_ip_service() {
        assert!(validate_service(&service(
            json!({"ports": [port(80)], "selector": {"app": "web"}})
        ))
        .is_empty());
    }

    #[test]
    fn should_require_service_names_to_be_dns1035_labels() {
        let mut svc = service(json!({"ports": [port(80)]}));
        svc["metadata"]["name"] = json!("1web");
        assert!(messages(validate_service(&svc))[0]
            .starts_with("metadata.name: Invalid value: \"1web\": a DNS-1035 label must"));
    }

    #[test]
    fn should_require_ports_unless_headless_or_external_name() {
        assert_eq!(
            messages(validate_service(&service(json!({})))),
            vec!["spec.ports: Required value"]
        );
        assert!(validate_service(&service(
            json!({"clusterIP": "None", "clusterIPs": ["None"]})
        ))
        .is_empty());
    }

    #[test]
    fn should_check_service_port_ranges() {
        let errors = messages(validate_service(&service(
            json!({"ports": [{"port": 70000, "targetPort": 0, "protocol": "TCP"}]}),
        )));
        assert_eq!(
            errors,
            vec![
                "spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive",
                "spec.ports[0].targetPort: Invalid value: 0: must be between 1 and 65535, inclusive",
            ]
        );
    }

    #[test]
    fn should_require_names_when_there_are_several_ports() {
        let mut named = port(443);
        named["name"] = json!("https");
        let errors = messages(validate_service(&service(
            json!({"ports": [port(80), named.clone(), named]}),
        )));
        assert_eq!(
            errors,
            vec![
                "spec.ports[0].name: Required value",
                "spec.ports[2].name: Duplicate value: \"https\"",
                "spec.ports[2]: Duplicate value: core.ServicePort{Name:\"\", Protocol:\"TCP\", AppProtocol:(*string)(nil), Port:443, TargetPort:intstr.IntOrString{Type:0, IntVal:0, StrVal:\"\"}, NodePort:0}",
            ]
        );
    }

    #[test]
    fn should_forbid_a_node_port_on_a_cluster_ip_service() {
        let mut with_node_port = port(80);
        with_node_port["nodePort"] = json!(30080);
        assert_eq!(
            messages(validate_service(&service(
                json!({"ports": [with_node_port]})
            ))),
            vec!["spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"]
        );
    }

    #[test]
    fn should_list_supported_types_and_affinities() {
        let errors = messages(validate_service(&service(
            json!({"ports": [port(80)], "type": "Magic", "sessionAffinity": "Sticky", "internalTrafficPolicy": null}),
        )));
        assert_eq!(
            errors,
            vec![
                "spec.sessionAffinity: Unsupported value: \"Sticky\": supported values: \"ClientIP\", \"None\"",
                "spec.type: Unsupported value: \"Magic\": supported values: \"ClusterIP\", \"ExternalName\", \"LoadBalancer\", \"NodePort\"",
            ]
        );
    }

    #[test]
    fn should_require_external_name_for_external_name_services() {
        let svc = json!({"metadata": {"name": "ext", "namespace": "d"}, "spec": {"type": "ExternalName", "sessionAffinity": "None"}});
        assert_eq!(
            messages(validate_service(&svc)),
            vec!["spec.externalName: Required value"]
        );
        let with_ip = json!({"metadata": {"name": "ext", "namespace": "d"}, "spec": {"type": "ExternalName", "sessionAffinity": "None", "externalName": "mingdao.com.", "clusterIP": "10.43.0.5"}});
        assert_eq!(
            messages(validate_service(&with_ip)),
            vec!["spec.clusterIPs: Forbidden: may not be set for ExternalName services"]
        );
    }

    #[test]
    fn should_require_traffic_policies_as_defaulting_sets_them() {
        let svc = service(
            json!({"ports": [port(80)], "type": "LoadBalancer", "internalTrafficPolicy": null}),
        );
        assert_eq!(
            messages(validate_service(&svc)),
            vec![
                "allocateLoadBalancerNodePorts: Required value",
                "spec.externalTrafficPolicy: Required value",
                "spec.internalTrafficPolicy: Required value",
            ]
        );
    }

    #[test]
    fn should_refuse_changing_the_cluster_ip() {
        let old = service(
            json!({"ports": [port(80)], "clusterIP": "10.43.0.5", "clusterIPs": ["10.43.0.5"]}),
        );
        let new = service(json!({"ports": [port(80)], "clusterIP": "10.43.0.6"}));
        assert_eq!(
            messages(validate_service_update(&new, &old)),
            vec!["spec.clusterIPs[0]: Invalid value: []string{\"10.43.0.6\"}: may not change once set"]
        );
    }

    #[test]
    fn should_allow_dropping_the_cluster_ip_when_becoming_an_external_name() {
        let old = service(
            json!({"ports": [port(80)], "clusterIP": "10.43.0.5", "clusterIPs": ["10.43.0.5"]}),
        );
        let new = json!({"metadata": {"name": "web", "namespace": "default"}, "spec": {"type": "ExternalName", "externalName": "example.com", "sessionAffinity": "None"}});
        assert!(validate_service_update(&new, &old).is_empty());
    }
}
