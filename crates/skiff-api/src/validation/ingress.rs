//! Ingress and IngressClass, as `k8s.io/kubernetes/pkg/apis/networking/validation` checks them.

use serde_json::Value;

use super::container::invalid_number;
use super::meta::validate_object_meta;
use super::names::{
    is_dns1123_subdomain, is_valid_port_name, is_valid_port_num, is_wildcard_dns1123_subdomain,
    name_is_dns1035_label, name_is_dns1123_subdomain, parse_ip, regex_error,
};
use super::render::{invalid_rendered, too_long};
use super::{
    array_of, child, index, int_of, invalid_each, str_of, string_or_empty, validate_immutable,
};
use crate::field::FieldError;

/// Sequences an Exact or Prefix path may not contain, and suffixes it may not end with.
const INVALID_PATH_SEQUENCES: &[&str] = &["//", "/./", "/../", "%2f", "%2F"];
const INVALID_PATH_SUFFIXES: &[&str] = &["/..", "/."];

/// `ValidateIngressCreate`.
pub fn validate_ingress(ingress: &Value) -> Vec<FieldError> {
    let mut errors = validate_object_meta(ingress, true, name_is_dns1123_subdomain);
    let spec = ingress.get("spec").unwrap_or(&Value::Null);
    let rules = array_of(spec, "rules");
    let default_backend = spec.get("defaultBackend").filter(|b| !b.is_null());
    if rules.is_empty() && default_backend.is_none() {
        errors.push(invalid_rendered(
            "spec",
            "[]networking.IngressRule(nil)".to_string(),
            "either `defaultBackend` or `rules` must be specified",
        ));
    }
    if let Some(backend) = default_backend {
        errors.extend(validate_ingress_backend(backend, "spec.defaultBackend"));
    }
    for (i, rule) in rules.iter().enumerate() {
        let rule_path = index("spec.rules", i);
        let host = string_or_empty(rule, "host");
        if !host.is_empty() {
            if parse_ip(host).is_some() {
                errors.push(FieldError::invalid(
                    child(&rule_path, "host"),
                    &Value::from(host),
                    "must be a DNS name, not an IP address",
                ));
            }
            let problems = if host.contains('*') {
                is_wildcard_dns1123_subdomain(host)
            } else {
                is_dns1123_subdomain(host)
            };
            errors.extend(invalid_each(&child(&rule_path, "host"), host, problems));
        }
        if let Some(http) = rule.get("http").filter(|h| !h.is_null()) {
            let paths_path = child(&child(&rule_path, "http"), "paths");
            let paths = array_of(http, "paths");
            if paths.is_empty() {
                errors.push(FieldError::required(&paths_path, ""));
            }
            for (j, http_path) in paths.iter().enumerate() {
                errors.extend(validate_http_ingress_path(
                    http_path,
                    &index(&paths_path, j),
                ));
            }
        }
    }
    for (i, tls) in array_of(spec, "tls").iter().enumerate() {
        let tls_path = index("spec.tls", i);
        for (j, host) in array_of(tls, "hosts").iter().enumerate() {
            let host = host.as_str().unwrap_or_default();
            let problems = if host.contains('*') {
                is_wildcard_dns1123_subdomain(host)
            } else {
                is_dns1123_subdomain(host)
            };
            errors.extend(invalid_each(
                &index(&child(&tls_path, "hosts"), j),
                host,
                problems,
            ));
        }
        let secret = string_or_empty(tls, "secretName");
        if !secret.is_empty() {
            errors.extend(invalid_each(
                &child(&tls_path, "secretName"),
                secret,
                is_dns1123_subdomain(secret),
            ));
        }
    }
    let class_name = str_of(spec, "ingressClassName");
    if let Some(class_name) = class_name {
        errors.extend(invalid_each(
            "spec.ingressClassName",
            class_name,
            is_dns1123_subdomain(class_name),
        ));
    }
    let annotation = ingress
        .pointer("/metadata/annotations/kubernetes.io~1ingress.class")
        .and_then(Value::as_str);
    if let (Some(annotation), Some(class_name)) = (annotation, class_name) {
        if annotation != class_name {
            errors.push(FieldError::invalid(
                "annotations.kubernetes.io/ingress.class",
                &Value::from(annotation),
                "must match `ingressClassName` when both are specified",
            ));
        }
    }
    errors
}

/// `validateHTTPIngressPath`: a path type is required; Exact and Prefix paths are absolute.
fn validate_http_ingress_path(http_path: &Value, path: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let Some(path_type) = str_of(http_path, "pathType") else {
        return vec![FieldError::required(
            child(path, "pathType"),
            "pathType must be specified",
        )];
    };
    let target = string_or_empty(http_path, "path");
    let path_field = child(path, "path");
    match path_type {
        "Exact" | "Prefix" => {
            if !target.starts_with('/') {
                errors.push(FieldError::invalid(
                    &path_field,
                    &Value::from(target),
                    "must be an absolute path",
                ));
            }
            if !target.is_empty() {
                for sequence in INVALID_PATH_SEQUENCES {
                    if target.contains(sequence) {
                        errors.push(FieldError::invalid(
                            &path_field,
                            &Value::from(target),
                            format!("must not contain '{sequence}'"),
                        ));
                    }
                }
                for suffix in INVALID_PATH_SUFFIXES {
                    if target.ends_with(suffix) {
                        errors.push(FieldError::invalid(
                            &path_field,
                            &Value::from(target),
                            format!("cannot end with '{suffix}'"),
                        ));
                    }
                }
            }
        }
        "ImplementationSpecific" => {
            if !target.is_empty() && !target.starts_with('/') {
                errors.push(FieldError::invalid(
                    &path_field,
                    &Value::from(target),
                    "must be an absolute path",
                ));
            }
        }
        other => errors.push(FieldError::not_supported(
            child(path, "pathType"),
            &Value::from(other),
            &["Exact", "ImplementationSpecific", "Prefix"],
        )),
    }
    errors.extend(validate_ingress_backend(
        http_path.get("backend").unwrap_or(&Value::Null),
        &child(path, "backend"),
    ));
    errors
}

/// `validateIngressBackend`: a Service with a port name or number, or a resource.
fn validate_ingress_backend(backend: &Value, path: &str) -> Vec<FieldError> {
    let empty = Value::from("");
    let service = backend.get("service").filter(|s| !s.is_null());
    let resource = backend.get("resource").filter(|r| !r.is_null());
    match (service, resource) {
        (Some(_), Some(_)) => vec![FieldError::invalid(
            path,
            &empty,
            "cannot set both resource and service backends",
        )],
        (None, Some(resource)) => {
            let mut errors = Vec::new();
            for field in ["kind", "name"] {
                if string_or_empty(resource, field).is_empty() {
                    errors.push(FieldError::required(
                        child(&child(path, "resource"), field),
                        "",
                    ));
                }
            }
            errors
        }
        (Some(service), None) => {
            let mut errors = Vec::new();
            let service_path = child(path, "service");
            match string_or_empty(service, "name") {
                "" => errors.push(FieldError::required(child(&service_path, "name"), "")),
                name => errors.extend(invalid_each(
                    &child(&service_path, "name"),
                    name,
                    name_is_dns1035_label(name, false),
                )),
            }
            let port = service.get("port").unwrap_or(&Value::Null);
            let port_name = string_or_empty(port, "name");
            let port_number = int_of(port, "number").unwrap_or(0);
            let port_path = child(&service_path, "port");
            match (port_name.is_empty(), port_number == 0) {
                (false, false) => errors.push(FieldError::invalid(
                    path,
                    &empty,
                    "cannot set both port name & port number",
                )),
                (false, true) => errors.extend(invalid_each(
                    &child(&port_path, "name"),
                    port_name,
                    is_valid_port_name(port_name),
                )),
                (true, false) => {
                    errors.extend(invalid_number(
                        &child(&port_path, "number"),
                        port_number,
                        is_valid_port_num(port_number),
                    ));
                }
                (true, true) => errors.push(FieldError::required(
                    path,
                    "port name or number is required",
                )),
            }
            errors
        }
        (None, None) => vec![FieldError::invalid(
            path,
            &empty,
            "resource or service backend is required",
        )],
    }
}

/// The longest IngressClass controller name.
const MAX_INGRESS_CLASS_CONTROLLER_LENGTH: usize = 250;

/// `ValidateIngressClass`: the controller is a domain-prefixed path.
pub fn validate_ingress_class(class: &Value) -> Vec<FieldError> {
    let mut errors = validate_object_meta(class, false, name_is_dns1123_subdomain);
    let controller = class
        .pointer("/spec/controller")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let path = "spec.controller";
    if controller.len() > MAX_INGRESS_CLASS_CONTROLLER_LENGTH {
        errors.push(too_long(path, MAX_INGRESS_CLASS_CONTROLLER_LENGTH));
    }
    if controller.is_empty() {
        errors.push(FieldError::required(path, ""));
        return errors;
    }
    match controller.split_once('/') {
        Some((host, rest)) if !host.is_empty() && !rest.is_empty() => {
            errors.extend(invalid_each(path, host, is_dns1123_subdomain(host)));
            let path_chars =
                |c: char| c.is_ascii_alphanumeric() || "/-._~%!$&'()*+,;=:".contains(c);
            if !rest.chars().all(path_chars) {
                errors.push(FieldError::invalid(
                    path,
                    &Value::from(rest),
                    regex_error("Invalid path", "[A-Za-z0-9/\\-._~%!$&'()*+,;=:]+", &[]),
                ));
            }
        }
        _ => errors.push(FieldError::invalid(
            path,
            &Value::from(controller),
            "must be a domain-prefixed path (such as \"acme.io/foo\")",
        )),
    }
    errors
}

/// An IngressClass's controller never changes.
pub fn validate_ingress_class_update(new: &Value, old: &Value) -> Vec<FieldError> {
    let mut errors = validate_ingress_class(new);
    let (n, o) = (
        new.pointer("/spec/controller").unwrap_or(&Value::Null),
        old.pointer("/spec/controller").unwrap_or(&Value::Null),
    );
    errors.extend(validate_immutable(n, o, "spec.controller"));
    errors
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validation::test_support::messages;
    use serde_json::json;

    fn ingress(paths: Value) -> Value {
        json!({"metadata": {"name": "ing", "namespace": "d"}, "spec": {"rules": [{"http": {"paths": paths}}]}})
    }

    fn backend() -> Value {
        json!({"service": {"name": "serverb-svc", "port": {"number": 9602}}})
    }

    #[test]
    fn should_require_an_ingress_path_type() {
        let errors = messages(validate_ingress(&ingress(
            json!([{"path": "/x", "backend": backend()}]),
        )));
        assert_eq!(
            errors,
            vec![
                "spec.rules[0].http.paths[0].pathType: Required value: pathType must be specified"
            ]
        );
    }

    #[test]
    fn should_check_ingress_path_types_and_paths() {
        let errors = messages(validate_ingress(&ingress(json!([
            {"path": "x", "pathType": "Prefix", "backend": backend()},
            {"path": "/x", "pathType": "Glob", "backend": backend()},
            {"path": "/a//b", "pathType": "Exact", "backend": backend()},
        ]))));
        assert_eq!(
            errors,
            vec![
                "spec.rules[0].http.paths[0].path: Invalid value: \"x\": must be an absolute path",
                "spec.rules[0].http.paths[1].pathType: Unsupported value: \"Glob\": supported values: \"Exact\", \"ImplementationSpecific\", \"Prefix\"",
                "spec.rules[0].http.paths[2].path: Invalid value: \"/a//b\": must not contain '//'",
            ]
        );
    }

    #[test]
    fn should_check_ingress_backends() {
        let errors = messages(validate_ingress(&ingress(json!([
            {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "svc", "port": {}}}},
            {"path": "/", "pathType": "Prefix", "backend": {"service": {"port": {"number": 70000}}}},
            {"path": "/", "pathType": "Prefix", "backend": {}},
        ]))));
        assert_eq!(
            errors,
            vec![
                "spec.rules[0].http.paths[0].backend: Required value: port name or number is required",
                "spec.rules[0].http.paths[1].backend.service.name: Required value",
                "spec.rules[0].http.paths[1].backend.service.port.number: Invalid value: 70000: must be between 1 and 65535, inclusive",
                "spec.rules[0].http.paths[2].backend: Invalid value: \"\": resource or service backend is required",
            ]
        );
    }

    #[test]
    fn should_require_a_domain_prefixed_ingress_class_controller() {
        let class = json!({"metadata": {"name": "nginx"}, "spec": {"controller": "nginx"}});
        assert_eq!(
            messages(validate_ingress_class(&class)),
            vec!["spec.controller: Invalid value: \"nginx\": must be a domain-prefixed path (such as \"acme.io/foo\")"]
        );
        let good =
            json!({"metadata": {"name": "nginx"}, "spec": {"controller": "k8s.io/ingress-nginx"}});
        assert!(validate_ingress_class(&good).is_empty());
    }
}
