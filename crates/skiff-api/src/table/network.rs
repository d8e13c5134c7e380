//! Networking rows: printers.go `printService`, `printEndpoints`,
//! `printEndpointSlice`, `printIngress` and `printIngressClass`.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::format::{
    age, field, format_labels, list_at, list_with_more, load_balancer_addresses, name_cell, str_at,
};

/// How many addresses or hosts a cell lists before ` + N more...`.
const MAX_LISTED: usize = 3;

/// NAME TYPE CLUSTER-IP EXTERNAL-IP PORT(S) AGE | SELECTOR.
pub(super) fn service(svc: &Value, now: DateTime<Utc>) -> Vec<Value> {
    // v1's conversion fills clusterIPs from clusterIP; a headless service reads "None".
    let cluster_ip = match list_at(svc, "spec.clusterIPs")
        .first()
        .and_then(Value::as_str)
    {
        Some(ip) => ip,
        None => str_at(svc, "spec.clusterIP"),
    };
    let ports = service_ports(list_at(svc, "spec.ports"));
    vec![
        name_cell(svc),
        Value::from(str_at(svc, "spec.type")),
        Value::from(if cluster_ip.is_empty() {
            "<none>"
        } else {
            cluster_ip
        }),
        Value::from(service_external_ip(svc)),
        Value::from(if ports.is_empty() {
            "<none>".to_string()
        } else {
            ports
        }),
        age(svc, now),
        Value::from(format_labels(field(svc, "spec.selector"))),
    ]
}

/// printers.go `getServiceExternalIP`.
fn service_external_ip(svc: &Value) -> String {
    let external_ips: Vec<&str> = list_at(svc, "spec.externalIPs")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    match str_at(svc, "spec.type") {
        "ClusterIP" | "NodePort" if external_ips.is_empty() => "<none>".to_string(),
        "ClusterIP" | "NodePort" => external_ips.join(","),
        "LoadBalancer" => {
            let balancer = load_balancer_addresses(list_at(svc, "status.loadBalancer.ingress"));
            match (balancer.is_empty(), external_ips.is_empty()) {
                (true, true) => "<pending>".to_string(),
                (false, true) => balancer,
                (true, false) => external_ips.join(","),
                (false, false) => format!("{balancer},{}", external_ips.join(",")),
            }
        }
        "ExternalName" => str_at(svc, "spec.externalName").to_string(),
        _ => "<unknown>".to_string(),
    }
}

/// printers.go `makePortString`: `port/PROTO`, or `port:nodePort/PROTO`, comma-joined.
fn service_ports(ports: &[Value]) -> String {
    let pieces: Vec<String> = ports
        .iter()
        .map(|p| {
            let port = p.get("port").and_then(Value::as_i64).unwrap_or(0);
            // Defaulting always sets the protocol; read a missing one as its default.
            let protocol = p.get("protocol").and_then(Value::as_str).unwrap_or("TCP");
            match p.get("nodePort").and_then(Value::as_i64) {
                Some(node_port) if node_port > 0 => format!("{port}:{node_port}/{protocol}"),
                _ => format!("{port}/{protocol}"),
            }
        })
        .collect();
    pieces.join(",")
}

/// NAME ENDPOINTS AGE.
pub(super) fn endpoints(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    vec![
        name_cell(obj),
        Value::from(format_endpoints(list_at(obj, "subsets"))),
        age(obj, now),
    ]
}

/// printers.go `formatEndpoints`: `ip:port` for every ready address and port,
/// at most three, then ` + N more...`; bare IPs for port-less (headless) subsets.
fn format_endpoints(subsets: &[Value]) -> String {
    if subsets.is_empty() {
        return "<none>".to_string();
    }
    let mut listed: Vec<String> = Vec::new();
    let mut total = 0;
    for subset in subsets {
        let addresses: Vec<&str> = list_at(subset, "addresses")
            .iter()
            .map(|a| str_at(a, "ip"))
            .collect();
        let ports = list_at(subset, "ports");
        if ports.is_empty() {
            total += addresses.len();
            listed.extend(addresses.iter().map(|ip| ip.to_string()));
            continue;
        }
        for port in ports {
            let number = port.get("port").and_then(Value::as_i64).unwrap_or(0);
            total += addresses.len();
            listed.extend(addresses.iter().map(|ip| join_host_port(ip, number)));
        }
    }
    let shown = listed[..listed.len().min(MAX_LISTED)].join(",");
    if total > MAX_LISTED {
        format!("{shown} + {} more...", total - MAX_LISTED)
    } else {
        shown
    }
}

/// Go's `net.JoinHostPort`: IPv6 addresses go in brackets.
fn join_host_port(host: &str, port: i64) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// NAME ADDRESSTYPE PORTS ENDPOINTS AGE.
pub(super) fn endpoint_slice(slice: &Value, now: DateTime<Utc>) -> Vec<Value> {
    // formatDiscoveryPorts: the number, else the name, else `*` (all ports).
    let ports: Vec<String> = list_at(slice, "ports")
        .iter()
        .map(|p| {
            match (
                field(p, "port").and_then(Value::as_i64),
                field(p, "name").and_then(Value::as_str),
            ) {
                (Some(number), _) => number.to_string(),
                (None, Some(name)) => name.to_string(),
                (None, None) => "*".to_string(),
            }
        })
        .collect();
    // formatDiscoveryEndpoints: every address of every endpoint.
    let addresses: Vec<String> = list_at(slice, "endpoints")
        .iter()
        .flat_map(|e| {
            list_at(e, "addresses")
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
        })
        .collect();
    vec![
        name_cell(slice),
        Value::from(str_at(slice, "addressType")),
        Value::from(list_with_more(&ports, ports.len(), MAX_LISTED)),
        Value::from(list_with_more(&addresses, addresses.len(), MAX_LISTED)),
        age(slice, now),
    ]
}

/// NAME CLASS HOSTS ADDRESS PORTS AGE.
pub(super) fn ingress(ing: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let class = field(ing, "spec.ingressClassName")
        .and_then(Value::as_str)
        .unwrap_or("<none>");
    // formatPorts: the ports an ingress controller opens, not the backends'.
    let ports = if list_at(ing, "spec.tls").is_empty() {
        "80"
    } else {
        "80, 443"
    };
    vec![
        name_cell(ing),
        Value::from(class),
        Value::from(format_hosts(list_at(ing, "spec.rules"))),
        Value::from(load_balancer_addresses(list_at(
            ing,
            "status.loadBalancer.ingress",
        ))),
        Value::from(ports),
        age(ing, now),
    ]
}

/// printers.go `formatHosts`: the first three hosts the rules name, `*` when
/// none does. Upstream counts the remainder in rules, hostless ones included.
fn format_hosts(rules: &[Value]) -> String {
    let mut hosts: Vec<&str> = Vec::new();
    let mut more = false;
    for rule in rules {
        if hosts.len() == MAX_LISTED {
            more = true;
            break;
        }
        let host = str_at(rule, "host");
        if !host.is_empty() {
            hosts.push(host);
        }
    }
    match (hosts.is_empty(), more) {
        (true, _) => "*".to_string(),
        (false, true) => format!("{} + {} more...", hosts.join(","), rules.len() - MAX_LISTED),
        (false, false) => hosts.join(","),
    }
}

/// NAME CONTROLLER PARAMETERS AGE; PARAMETERS reads `Kind[.apiGroup]/name`.
pub(super) fn ingress_class(class: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let parameters = match field(class, "spec.parameters") {
        None => "<none>".to_string(),
        Some(p) => {
            let group = field(p, "apiGroup")
                .and_then(Value::as_str)
                .map(|g| format!(".{g}"))
                .unwrap_or_default();
            format!("{}{group}/{}", str_at(p, "kind"), str_at(p, "name"))
        }
    };
    vec![
        name_cell(class),
        Value::from(str_at(class, "spec.controller")),
        Value::from(parameters),
        age(class, now),
    ]
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::table::test_support::now;

    fn svc(spec: Value, status: Value) -> Value {
        json!({"metadata": {"name": "web", "creationTimestamp": "2025-01-01T11:00:00Z"}, "spec": spec, "status": status})
    }

    /// CLUSTER-IP, EXTERNAL-IP and PORT(S).
    fn addresses(service_obj: &Value) -> [String; 3] {
        let cells = service(service_obj, now());
        [2, 3, 4].map(|i| cells[i].as_str().unwrap().to_string())
    }

    #[test]
    fn should_print_a_cluster_ip_service() {
        let s = svc(
            json!({"type": "ClusterIP", "clusterIP": "10.43.0.10", "clusterIPs": ["10.43.0.10"], "selector": {"app": "web"},
                "ports": [{"port": 80, "protocol": "TCP", "targetPort": 8080}, {"port": 53, "protocol": "UDP"}]}),
            json!({}),
        );
        assert_eq!(
            service(&s, now()),
            [
                json!("web"),
                json!("ClusterIP"),
                json!("10.43.0.10"),
                json!("<none>"),
                json!("80/TCP,53/UDP"),
                json!("60m"),
                json!("app=web")
            ]
        );
    }

    #[test]
    fn should_print_node_ports_and_headless_services() {
        let node_port = svc(
            json!({"type": "NodePort", "clusterIP": "10.43.0.11", "ports": [{"port": 80, "nodePort": 31234, "protocol": "TCP"}]}),
            json!({}),
        );
        assert_eq!(
            addresses(&node_port),
            ["10.43.0.11", "<none>", "80:31234/TCP"]
        );
        let headless = svc(
            json!({"type": "ClusterIP", "clusterIP": "None", "clusterIPs": ["None"]}),
            json!({}),
        );
        assert_eq!(addresses(&headless), ["None", "<none>", "<none>"]);
    }

    #[test]
    fn should_print_load_balancer_external_ips() {
        let spec = json!({"type": "LoadBalancer", "clusterIP": "10.43.0.12", "ports": [{"port": 443, "nodePort": 30443, "protocol": "TCP"}]});
        assert_eq!(addresses(&svc(spec.clone(), json!({})))[1], "<pending>");
        let ingress = json!({"loadBalancer": {"ingress": [{"ip": "192.168.1.20"}]}});
        assert_eq!(
            addresses(&svc(spec.clone(), ingress.clone()))[1],
            "192.168.1.20"
        );
        let mut with_external = spec;
        with_external["externalIPs"] = json!(["203.0.113.5"]);
        assert_eq!(
            addresses(&svc(with_external.clone(), ingress))[1],
            "192.168.1.20,203.0.113.5"
        );
        assert_eq!(addresses(&svc(with_external, json!({})))[1], "203.0.113.5");
    }

    #[test]
    fn should_print_external_ips_and_external_names() {
        let external = svc(
            json!({"type": "ClusterIP", "clusterIP": "10.43.0.13", "externalIPs": ["1.2.3.4", "5.6.7.8"]}),
            json!({}),
        );
        assert_eq!(addresses(&external)[1], "1.2.3.4,5.6.7.8");
        let name = svc(
            json!({"type": "ExternalName", "externalName": "db.example.com"}),
            json!({}),
        );
        assert_eq!(addresses(&name), ["<none>", "db.example.com", "<none>"]);
    }

    #[test]
    fn should_print_endpoints_with_at_most_three_addresses() {
        let subsets = json!([{"addresses": [{"ip": "10.42.0.5"}, {"ip": "10.42.0.6"}], "ports": [{"port": 8081}]}]);
        assert_eq!(
            format_endpoints(subsets.as_array().unwrap()),
            "10.42.0.5:8081,10.42.0.6:8081"
        );
        let many = json!([{"addresses": [{"ip": "10.42.0.1"}, {"ip": "10.42.0.2"}, {"ip": "10.42.0.3"}, {"ip": "fd00::4"}],
            "ports": [{"port": 80}, {"port": 443}]}]);
        assert_eq!(
            format_endpoints(many.as_array().unwrap()),
            "10.42.0.1:80,10.42.0.2:80,10.42.0.3:80 + 5 more..."
        );
        let headless = json!([{"addresses": [{"ip": "fd00::4"}]}]);
        assert_eq!(format_endpoints(headless.as_array().unwrap()), "fd00::4");
        assert_eq!(format_endpoints(&[]), "<none>");
        let v6 = json!([{"addresses": [{"ip": "fd00::4"}], "ports": [{"port": 80}]}]);
        assert_eq!(format_endpoints(v6.as_array().unwrap()), "[fd00::4]:80");
    }

    #[test]
    fn should_print_endpoint_slice_ports_and_addresses() {
        let slice = json!({"metadata": {"name": "web-abc12"}, "addressType": "IPv4",
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}, {"name": "metrics"}],
            "endpoints": [{"addresses": ["10.42.0.5"]}, {"addresses": ["10.42.0.6"]}, {"addresses": ["10.42.0.7"]}, {"addresses": ["10.42.0.8"]}]});
        let cells = endpoint_slice(&slice, now());
        assert_eq!(
            cells[1..4],
            [
                json!("IPv4"),
                json!("8080,metrics"),
                json!("10.42.0.5,10.42.0.6,10.42.0.7 + 1 more...")
            ]
        );
        let empty = json!({"metadata": {"name": "e"}, "addressType": "IPv4", "ports": [{}]});
        assert_eq!(
            endpoint_slice(&empty, now())[2..4],
            [json!("*"), json!("<unset>")]
        );
    }

    #[test]
    fn should_print_ingress_hosts_address_and_ports() {
        let ing = json!({"metadata": {"name": "web"}, "spec": {"ingressClassName": "skiff",
            "rules": [{"host": "a.example"}, {"host": "b.example"}, {}, {"host": "d.example"}, {"host": "e.example"}],
            "tls": [{"hosts": ["a.example"]}]},
            "status": {"loadBalancer": {"ingress": [{"ip": "192.168.1.20"}]}}});
        let cells = ingress(&ing, now());
        assert_eq!(
            cells[1..5],
            [
                json!("skiff"),
                json!("a.example,b.example,d.example + 2 more..."),
                json!("192.168.1.20"),
                json!("80, 443")
            ]
        );
        let wildcard = json!({"metadata": {"name": "any"}, "spec": {"defaultBackend": {}}});
        assert_eq!(
            ingress(&wildcard, now())[1..5],
            [json!("<none>"), json!("*"), json!(""), json!("80")]
        );
        let four = json!([{"host": "a"}, {"host": "b"}, {"host": "c"}, {"host": "d"}]);
        assert_eq!(format_hosts(four.as_array().unwrap()), "a,b,c + 1 more...");
    }

    #[test]
    fn should_print_ingress_class_parameters() {
        let class = json!({"metadata": {"name": "skiff"}, "spec": {"controller": "skiff.dev/ingress",
            "parameters": {"apiGroup": "k8s.example.com", "kind": "IngressParameters", "name": "external-lb"}}});
        assert_eq!(
            ingress_class(&class, now())[1..3],
            [
                json!("skiff.dev/ingress"),
                json!("IngressParameters.k8s.example.com/external-lb")
            ]
        );
        let bare = json!({"metadata": {"name": "plain"}, "spec": {"controller": "c"}});
        assert_eq!(ingress_class(&bare, now())[2], "<none>");
    }
}
