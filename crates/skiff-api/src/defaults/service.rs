//! Service defaults: `SetDefaults_Service` (`k8s.io/kubernetes/pkg/apis/core/v1/defaults.go`),
//! plus what the Service registry decides before it allocates
//! (`pkg/registry/core/service/storage`: `normalizeClusterIPs`, the IP family
//! fields of `initIPFamilyFields`, `patchAllocatedValues`, and the strategy's
//! `dropTypeDependentFields`). Allocating addresses and node ports stays the server's job.

use serde_json::{json, Map, Value};

use super::{object_at, set_default, set_default_if_empty};

/// How long ClientIP affinity lasts by default (`DefaultClientIPServiceAffinitySeconds`).
pub const DEFAULT_CLIENT_IP_AFFINITY_SECONDS: i64 = 10800;

fn string_field<'a>(map: &'a Map<String, Value>, field: &str) -> &'a str {
    map.get(field).and_then(Value::as_str).unwrap_or_default()
}

fn service_type(spec: &Map<String, Value>) -> &str {
    string_field(spec, "type")
}

/// `apiservice.ExternallyAccessible`.
fn externally_accessible(spec: &Map<String, Value>) -> bool {
    match service_type(spec) {
        "LoadBalancer" | "NodePort" => true,
        "ClusterIP" => spec
            .get("externalIPs")
            .and_then(Value::as_array)
            .is_some_and(|ips| !ips.is_empty()),
        _ => false,
    }
}

/// `SetDefaults_Service`, then the registry's cluster IP and IP family fields.
pub fn default_service(service: &mut Map<String, Value>) {
    let spec = object_at(service, "spec");
    set_default_if_empty(spec, "sessionAffinity", "None");
    match string_field(spec, "sessionAffinity") {
        "None" => {
            spec.remove("sessionAffinityConfig");
        }
        "ClientIP" => {
            let has_timeout = spec
                .get("sessionAffinityConfig")
                .and_then(|c| c.pointer("/clientIP/timeoutSeconds"))
                .is_some_and(|t| !t.is_null());
            if !has_timeout {
                spec.insert(
                    "sessionAffinityConfig".to_string(),
                    json!({"clientIP": {"timeoutSeconds": DEFAULT_CLIENT_IP_AFFINITY_SECONDS}}),
                );
            }
        }
        _ => {}
    }
    set_default_if_empty(spec, "type", "ClusterIP");
    if let Some(ports) = spec.get_mut("ports").and_then(Value::as_array_mut) {
        for port in ports.iter_mut().filter_map(Value::as_object_mut) {
            set_default(port, "protocol", json!("TCP"));
            let target_unset = match port.get("targetPort") {
                None | Some(Value::Null) => true,
                Some(Value::String(name)) => name.is_empty(),
                Some(number) => number.as_i64() == Some(0),
            };
            if target_unset {
                if let Some(number) = port.get("port").cloned() {
                    port.insert("targetPort".to_string(), number);
                }
            }
        }
    }
    if externally_accessible(spec) {
        set_default_if_empty(spec, "externalTrafficPolicy", "Cluster");
    }
    if matches!(
        service_type(spec),
        "ClusterIP" | "NodePort" | "LoadBalancer"
    ) {
        set_default(spec, "internalTrafficPolicy", json!("Cluster"));
    }
    if service_type(spec) == "LoadBalancer" {
        set_default(spec, "allocateLoadBalancerNodePorts", json!(true));
    }
    sync_cluster_ips_on_create(spec);
    default_ip_families(spec);
    let is_load_balancer = service_type(spec) == "LoadBalancer";

    // A v1 Service always serializes its status, if only as `loadBalancer: {}`.
    let load_balancer = object_at(object_at(service, "status"), "loadBalancer");
    if is_load_balancer {
        if let Some(ingress) = load_balancer
            .get_mut("ingress")
            .and_then(Value::as_array_mut)
        {
            for entry in ingress.iter_mut().filter_map(Value::as_object_mut) {
                if !string_field(entry, "ip").is_empty() {
                    set_default(entry, "ipMode", json!("VIP"));
                }
            }
        }
    }
}

/// `normalizeClusterIPs` on create: `clusterIP` and `clusterIPs[0]` say the same.
fn sync_cluster_ips_on_create(spec: &mut Map<String, Value>) {
    let cluster_ip = string_field(spec, "clusterIP").to_string();
    let first = spec
        .get("clusterIPs")
        .and_then(|ips| ips.get(0))
        .and_then(Value::as_str)
        .map(str::to_string);
    match (cluster_ip.is_empty(), first) {
        (false, None) => {
            spec.insert("clusterIPs".to_string(), json!([cluster_ip]));
        }
        (true, Some(first)) => {
            spec.insert("clusterIP".to_string(), json!(first));
        }
        _ => {}
    }
}

/// The IP family fields the registry fills before allocating (a single-stack
/// IPv4 cluster unless the Service names IPv6 addresses).
fn default_ip_families(spec: &mut Map<String, Value>) {
    if service_type(spec) == "ExternalName" {
        return;
    }
    let ips: Vec<String> = spec
        .get("clusterIPs")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|ip| ip.as_str().map(str::to_string))
        .collect();
    let headless = ips == ["None"];
    let has_selector = spec
        .get("selector")
        .and_then(Value::as_object)
        .is_some_and(|s| !s.is_empty());
    let families_given = spec
        .get("ipFamilies")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    if spec.get("ipFamilyPolicy").is_none_or(Value::is_null) {
        // Headless Services without a selector take every family the cluster has.
        let policy = if families_given == 2 || (headless && !has_selector) {
            "RequireDualStack"
        } else {
            "SingleStack"
        };
        spec.insert("ipFamilyPolicy".to_string(), json!(policy));
    }
    if families_given == 0 {
        let family = |ip: &str| if ip.contains(':') { "IPv6" } else { "IPv4" };
        let families: Vec<&str> = if headless || ips.is_empty() {
            vec!["IPv4"]
        } else {
            ips.iter().map(|ip| family(ip)).collect()
        };
        spec.insert("ipFamilies".to_string(), json!(families));
    }
}

/// Update-time decisions of the registry, after [`default_service`] ran on `new`:
/// keep allocated values the client left out (`patchAllocatedValues`), keep
/// `clusterIP` and `clusterIPs` in step, and drop what a new type no longer uses
/// (`dropTypeDependentFields`), so that e.g. turning a ClusterIP Service into an
/// ExternalName one clears its cluster IP.
pub fn service_update_defaults(new: &mut Value, old: &Value) {
    let old_spec = old
        .get("spec")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let Some(new_spec) = new.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    patch_allocated_values(new_spec, &old_spec);
    sync_cluster_ips_on_update(new_spec, &old_spec);
    drop_type_dependent_fields(new_spec, &old_spec);
}

fn needs_cluster_ip(spec: &Map<String, Value>) -> bool {
    service_type(spec) != "ExternalName"
}

fn needs_node_port(spec: &Map<String, Value>) -> bool {
    match service_type(spec) {
        "NodePort" => true,
        "LoadBalancer" => spec
            .get("allocateLoadBalancerNodePorts")
            .and_then(Value::as_bool)
            .unwrap_or(true),
        _ => false,
    }
}

fn needs_health_check_node_port(spec: &Map<String, Value>) -> bool {
    service_type(spec) == "LoadBalancer" && string_field(spec, "externalTrafficPolicy") == "Local"
}

fn node_ports(spec: &Map<String, Value>) -> Vec<(String, i64)> {
    spec.get("ports")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|p| {
            let name = p
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            (name, p.get("nodePort").and_then(Value::as_i64).unwrap_or(0))
        })
        .collect()
}

fn is_empty_field(spec: &Map<String, Value>, field: &str) -> bool {
    match spec.get(field) {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.is_empty(),
        Some(Value::Array(a)) => a.is_empty(),
        Some(number) => number.as_i64() == Some(0),
    }
}

/// `patchAllocatedValues`: a client that omits an allocated value keeps it.
fn patch_allocated_values(new: &mut Map<String, Value>, old: &Map<String, Value>) {
    if needs_cluster_ip(old) && needs_cluster_ip(new) {
        for field in ["clusterIP", "clusterIPs"] {
            if is_empty_field(new, field) && !is_empty_field(old, field) {
                new.insert(field.to_string(), old[field].clone());
            }
        }
    }
    if needs_node_port(old) && needs_node_port(new) {
        let old_ports = node_ports(old);
        let new_ports = node_ports(new);
        // Node ports still used by some port of the new Service cannot move.
        let used: Vec<i64> = new_ports
            .iter()
            .map(|(_, p)| *p)
            .filter(|p| *p != 0 && old_ports.iter().any(|(_, o)| o == p))
            .collect();
        if let Some(ports) = new.get_mut("ports").and_then(Value::as_array_mut) {
            for port in ports.iter_mut().filter_map(Value::as_object_mut) {
                if port.get("nodePort").and_then(Value::as_i64).unwrap_or(0) != 0 {
                    continue;
                }
                let name = port.get("name").and_then(Value::as_str).unwrap_or_default();
                let previous = old_ports
                    .iter()
                    .find(|(n, _)| n == name)
                    .map_or(0, |(_, p)| *p);
                if previous != 0 && !used.contains(&previous) {
                    port.insert("nodePort".to_string(), json!(previous));
                }
            }
        }
    }
    if needs_health_check_node_port(old)
        && needs_health_check_node_port(new)
        && is_empty_field(new, "healthCheckNodePort")
    {
        if let Some(port) = old.get("healthCheckNodePort") {
            new.insert("healthCheckNodePort".to_string(), port.clone());
        }
    }
}

/// `normalizeClusterIPs` on update: a changed `clusterIP` with untouched
/// `clusterIPs` replaces them.
fn sync_cluster_ips_on_update(new: &mut Map<String, Value>, old: &Map<String, Value>) {
    let new_ip = string_field(new, "clusterIP").to_string();
    let changed = new_ip != string_field(old, "clusterIP");
    if changed && new.get("clusterIPs") == old.get("clusterIPs") {
        if new_ip.is_empty() {
            new.remove("clusterIPs");
        } else {
            new.insert("clusterIPs".to_string(), json!([new_ip]));
        }
    } else if new_ip.is_empty() && !is_empty_field(new, "clusterIPs") {
        let first = new["clusterIPs"][0].clone();
        new.insert("clusterIP".to_string(), first);
    } else if !new_ip.is_empty() && is_empty_field(new, "clusterIPs") {
        new.insert("clusterIPs".to_string(), json!([new_ip]));
    }
}

/// `dropTypeDependentFields`: clear what the new type does not use, when the
/// client left it as it was (and so did not ask for it).
fn drop_type_dependent_fields(new: &mut Map<String, Value>, old: &Map<String, Value>) {
    let same = |new: &Map<String, Value>, field: &str| new.get(field) == old.get(field);
    if needs_cluster_ip(old) && !needs_cluster_ip(new) {
        if same(new, "clusterIP") && same(new, "clusterIPs") {
            new.remove("clusterIP");
            new.remove("clusterIPs");
        }
        for field in ["ipFamilies", "ipFamilyPolicy"] {
            if same(new, field) {
                new.remove(field);
            }
        }
    }
    if needs_node_port(old) && !needs_node_port(new) && node_ports(new) == node_ports(old) {
        if let Some(ports) = new.get_mut("ports").and_then(Value::as_array_mut) {
            for port in ports.iter_mut().filter_map(Value::as_object_mut) {
                port.remove("nodePort");
            }
        }
    }
    if needs_health_check_node_port(old)
        && !needs_health_check_node_port(new)
        && same(new, "healthCheckNodePort")
    {
        new.remove("healthCheckNodePort");
    }
    if service_type(old) == "LoadBalancer" && service_type(new) != "LoadBalancer" {
        for field in ["allocateLoadBalancerNodePorts", "loadBalancerClass"] {
            if same(new, field) {
                new.remove(field);
            }
        }
    }
    if externally_accessible(old)
        && !externally_accessible(new)
        && same(new, "externalTrafficPolicy")
    {
        new.remove("externalTrafficPolicy");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaulted(service: Value) -> Value {
        let mut service = service;
        default_service(service.as_object_mut().unwrap());
        service
    }

    #[test]
    fn should_default_a_cluster_ip_service() {
        let svc = defaulted(json!({"spec": {"selector": {"app": "a"}, "ports": [{"port": 80}]}}));
        assert_eq!(
            svc,
            json!({"spec": {"selector": {"app": "a"}, "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}],
                            "sessionAffinity": "None", "type": "ClusterIP", "internalTrafficPolicy": "Cluster",
                            "ipFamilyPolicy": "SingleStack", "ipFamilies": ["IPv4"]},
                   "status": {"loadBalancer": {}}})
        );
    }

    #[test]
    fn should_default_node_port_and_load_balancer_services() {
        let node_port = defaulted(
            json!({"spec": {"type": "NodePort", "ports": [{"port": 80, "targetPort": "http"}]}}),
        );
        assert_eq!(node_port["spec"]["externalTrafficPolicy"], "Cluster");
        assert_eq!(node_port["spec"]["ports"][0]["targetPort"], "http");
        assert!(node_port["spec"]
            .get("allocateLoadBalancerNodePorts")
            .is_none());
        let lb = defaulted(json!({"spec": {"type": "LoadBalancer", "ports": [{"port": 80}]}}));
        assert_eq!(lb["spec"]["externalTrafficPolicy"], "Cluster");
        assert_eq!(lb["spec"]["allocateLoadBalancerNodePorts"], true);
    }

    #[test]
    fn should_give_external_name_services_no_ip_fields() {
        let svc =
            defaulted(json!({"spec": {"type": "ExternalName", "externalName": "mingdao.com"}}));
        assert_eq!(
            svc["spec"],
            json!({"type": "ExternalName", "externalName": "mingdao.com", "sessionAffinity": "None"})
        );
    }

    #[test]
    fn should_default_client_ip_affinity_timeout() {
        let svc =
            defaulted(json!({"spec": {"sessionAffinity": "ClientIP", "ports": [{"port": 80}]}}));
        assert_eq!(
            svc["spec"]["sessionAffinityConfig"],
            json!({"clientIP": {"timeoutSeconds": 10800}})
        );
    }

    #[test]
    fn should_sync_cluster_ips_and_make_selectorless_headless_services_dual_stack() {
        let fixed =
            defaulted(json!({"spec": {"clusterIP": "10.43.19.92", "ports": [{"port": 80}]}}));
        assert_eq!(fixed["spec"]["clusterIPs"], json!(["10.43.19.92"]));
        let headless = defaulted(json!({"spec": {"clusterIP": "None"}}));
        assert_eq!(headless["spec"]["ipFamilyPolicy"], "RequireDualStack");
        assert_eq!(headless["spec"]["ipFamilies"], json!(["IPv4"]));
    }

    #[test]
    fn should_keep_allocated_values_a_replace_leaves_out() {
        let old = json!({"spec": {"type": "NodePort", "clusterIP": "10.43.0.7", "clusterIPs": ["10.43.0.7"],
                                   "ports": [{"name": "http", "port": 80, "nodePort": 30080}]}});
        let mut new =
            json!({"spec": {"type": "NodePort", "ports": [{"name": "http", "port": 80}]}});
        service_update_defaults(&mut new, &old);
        assert_eq!(new["spec"]["clusterIP"], "10.43.0.7");
        assert_eq!(new["spec"]["clusterIPs"], json!(["10.43.0.7"]));
        assert_eq!(new["spec"]["ports"][0]["nodePort"], 30080);
    }

    #[test]
    fn should_clear_ip_fields_when_becoming_an_external_name() {
        let old = defaulted(json!({"spec": {"clusterIP": "10.43.0.7", "ports": [{"port": 80}]}}));
        let mut new = old.clone();
        new["spec"]["type"] = json!("ExternalName");
        new["spec"]["externalName"] = json!("example.com");
        service_update_defaults(&mut new, &old);
        for field in ["clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"] {
            assert!(new["spec"].get(field).is_none(), "{field}");
        }
    }
}
