//! Endpoints (`k8s.io/kubernetes/pkg/apis/core/validation/validation.go`) and
//! EndpointSlice (`pkg/apis/discovery/validation/validation.go`).

use std::collections::BTreeSet;

use serde_json::Value;

use super::container::{invalid_number, validate_protocol};
use super::meta::validate_object_meta;
use super::names::{
    is_dns1123_label, is_dns1123_subdomain, is_non_special_ip, is_valid_ip, is_valid_port_num,
    name_is_dns1123_subdomain, parse_ip,
};
use super::{
    array_of, child, index, int_of, invalid_each, str_of, string_or_empty, validate_immutable,
};
use crate::field::{ErrorType, FieldError};

/// `ValidateEndpoints` (core/v1 Endpoints).
pub fn validate_endpoints(endpoints: &Value) -> Vec<FieldError> {
    let mut errors = validate_object_meta(endpoints, true, name_is_dns1123_subdomain);
    for (i, subset) in array_of(endpoints, "subsets").iter().enumerate() {
        let subset_path = index("subsets", i);
        if array_of(subset, "addresses").is_empty()
            && array_of(subset, "notReadyAddresses").is_empty()
        {
            errors.push(FieldError::required(
                &subset_path,
                "must specify `addresses` or `notReadyAddresses`",
            ));
        }
        for list in ["addresses", "notReadyAddresses"] {
            for (j, address) in array_of(subset, list).iter().enumerate() {
                let address_path = index(&child(&subset_path, list), j);
                let ip = string_or_empty(address, "ip");
                let problems = is_valid_ip(ip);
                if problems.is_empty() {
                    errors.extend(invalid_each(
                        &child(&address_path, "ip"),
                        ip,
                        is_non_special_ip(ip),
                    ));
                } else {
                    errors.extend(invalid_each(&child(&address_path, "ip"), ip, problems));
                }
                let hostname = string_or_empty(address, "hostname");
                if !hostname.is_empty() {
                    errors.extend(invalid_each(
                        &child(&address_path, "hostname"),
                        hostname,
                        is_dns1123_label(hostname),
                    ));
                }
                if let Some(node) = str_of(address, "nodeName") {
                    errors.extend(invalid_each(
                        &child(&address_path, "nodeName"),
                        node,
                        is_dns1123_subdomain(node),
                    ));
                }
            }
        }
        let ports = array_of(subset, "ports");
        for (j, port) in ports.iter().enumerate() {
            let port_path = index(&child(&subset_path, "ports"), j);
            let name = string_or_empty(port, "name");
            if ports.len() > 1 && name.is_empty() {
                errors.push(FieldError::required(child(&port_path, "name"), ""));
            } else if !name.is_empty() {
                errors.extend(invalid_each(
                    &child(&port_path, "name"),
                    name,
                    is_dns1123_label(name),
                ));
            }
            let number = int_of(port, "port").unwrap_or(0);
            errors.extend(invalid_number(
                &child(&port_path, "port"),
                number,
                is_valid_port_num(number),
            ));
            errors.extend(validate_protocol(port, &child(&port_path, "protocol")));
        }
    }
    errors
}

/// The most addresses one endpoint of an EndpointSlice may list.
const MAX_ENDPOINT_ADDRESSES: usize = 100;

/// `ValidateEndpointSlice`.
pub fn validate_endpoint_slice(slice: &Value) -> Vec<FieldError> {
    let mut errors = validate_object_meta(slice, true, name_is_dns1123_subdomain);
    let address_type = string_or_empty(slice, "addressType");
    match address_type {
        "" => errors.push(FieldError::required("addressType", "")),
        "IPv4" | "IPv6" | "FQDN" => {}
        other => errors.push(FieldError::not_supported(
            "addressType",
            &Value::from(other),
            &["FQDN", "IPv4", "IPv6"],
        )),
    }
    for (i, endpoint) in array_of(slice, "endpoints").iter().enumerate() {
        let endpoint_path = index("endpoints", i);
        let addresses_path = child(&endpoint_path, "addresses");
        let addresses = array_of(endpoint, "addresses");
        if addresses.is_empty() {
            errors.push(FieldError::required(
                &addresses_path,
                "must contain at least 1 address",
            ));
        } else if addresses.len() > MAX_ENDPOINT_ADDRESSES {
            errors.push(FieldError {
                kind: ErrorType::TooMany,
                field: addresses_path.clone(),
                value: Some(addresses.len().to_string()),
                detail: format!("must have at most {MAX_ENDPOINT_ADDRESSES} items"),
            });
        }
        for (j, address) in addresses.iter().enumerate() {
            let address = address.as_str().unwrap_or_default();
            let path = index(&addresses_path, j);
            let parsed = parse_ip(address);
            match address_type {
                "IPv4" if !parsed.is_some_and(|ip| ip.is_ipv4()) => {
                    errors.push(FieldError::invalid(
                        &path,
                        &Value::from(address),
                        "must be a valid IPv4 address",
                    ));
                }
                "IPv6" if !parsed.is_some_and(|ip| ip.is_ipv6()) => {
                    errors.push(FieldError::invalid(
                        &path,
                        &Value::from(address),
                        "must be a valid IPv6 address",
                    ));
                }
                "IPv4" | "IPv6" => {
                    errors.extend(invalid_each(&path, address, is_non_special_ip(address)))
                }
                "FQDN" => errors.extend(invalid_each(
                    &path,
                    address.trim_end_matches('.'),
                    is_dns1123_subdomain(address.trim_end_matches('.')),
                )),
                _ => {}
            }
        }
        if let Some(node) = str_of(endpoint, "nodeName") {
            errors.extend(invalid_each(
                &child(&endpoint_path, "nodeName"),
                node,
                is_dns1123_subdomain(node),
            ));
        }
        if let Some(hostname) = str_of(endpoint, "hostname") {
            errors.extend(invalid_each(
                &child(&endpoint_path, "hostname"),
                hostname,
                is_dns1123_label(hostname),
            ));
        }
    }
    let mut names = BTreeSet::new();
    for (i, port) in array_of(slice, "ports").iter().enumerate() {
        let port_path = index("ports", i);
        let name = string_or_empty(port, "name");
        if !name.is_empty() {
            errors.extend(invalid_each(
                &child(&port_path, "name"),
                name,
                is_dns1123_label(name),
            ));
        }
        if !names.insert(name) {
            errors.push(FieldError::duplicate(
                child(&port_path, "name"),
                &Value::from(name),
            ));
        }
        errors.extend(validate_protocol(port, &child(&port_path, "protocol")));
        if let Some(number) = int_of(port, "port") {
            errors.extend(invalid_number(
                &child(&port_path, "port"),
                number,
                is_valid_port_num(number),
            ));
        }
    }
    errors
}

/// An EndpointSlice's address type never changes.
pub fn validate_endpoint_slice_update(new: &Value, old: &Value) -> Vec<FieldError> {
    let mut errors = validate_endpoint_slice(new);
    errors.extend(validate_immutable(
        &new["addressType"],
        &old["addressType"],
        "addressType",
    ));
    errors
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validation::test_support::messages;
    use serde_json::json;

    #[test]
    fn should_check_endpoint_slices() {
        let slice = json!({"metadata": {"name": "s", "namespace": "d"}, "addressType": "IPv4",
            "endpoints": [{"addresses": ["10.42.0.5"]}, {"addresses": []}, {"addresses": ["fe80::1"]}],
            "ports": [{"name": "", "port": 80, "protocol": "TCP"}]});
        assert_eq!(
            messages(validate_endpoint_slice(&slice)),
            vec![
                "endpoints[1].addresses: Required value: must contain at least 1 address",
                "endpoints[2].addresses[0]: Invalid value: \"fe80::1\": must be a valid IPv4 address",
            ]
        );
    }

    #[test]
    fn should_check_endpoints_subsets() {
        let endpoints = json!({"metadata": {"name": "web", "namespace": "d"}, "subsets": [
            {"addresses": [{"ip": "10.42.0.5"}], "ports": [{"port": 80, "protocol": "TCP"}, {"port": 81, "protocol": "TCP"}]},
            {"ports": []}]});
        assert_eq!(
            messages(validate_endpoints(&endpoints)),
            vec![
                "subsets[0].ports[0].name: Required value",
                "subsets[0].ports[1].name: Required value",
                "subsets[1]: Required value: must specify `addresses` or `notReadyAddresses`",
            ]
        );
    }
}
