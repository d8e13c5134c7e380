//! The command line and environment: which mode to run, which ports to serve, where the upstreams are.
//!
//! Parsing is a pure function of the arguments and an environment lookup, so it is tested
//! without touching the process environment. The parser is hand-written rather than clap:
//! there are four options, and the binary goes into a container image where every
//! dependency costs size.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use hyper::Uri;

/// The ports served when neither `--listen` nor `DEMO_LISTEN` says otherwise: k8sdemo (80),
/// selectors-and-discovery (8080), k8s-combat (8081) and servera/serverb (9502).
pub const DEFAULT_PORTS: [u16; 4] = [80, 8080, 8081, 9502];

/// What k8s-combat's `/service` calls: the callee Service by its short name.
pub const DEFAULT_SERVICE_PING_URL: &str = "http://k8s-combat-service:8081/ping";

/// What serverb's `/clientapi` calls: servera's Service port 9601 (container port 9502).
pub const DEFAULT_SERVERA_URL: &str = "http://servera-svc:9601/serverapi";

/// How long `skiff-demo get` waits for a whole response unless `--timeout-ms` says otherwise.
pub const DEFAULT_GET_TIMEOUT: Duration = Duration::from_secs(10);

/// Environment variable: the ports to serve, like `--listen`.
pub const ENV_LISTEN: &str = "DEMO_LISTEN";
/// Environment variable: the address to bind, like `--bind`.
pub const ENV_BIND: &str = "DEMO_BIND";
/// Environment variable: the URL `/service` calls (tests point it at a loopback instance).
pub const ENV_SERVICE_URL: &str = "DEMO_SERVICE_URL";
/// Environment variable: the URL `/clientapi` calls (tests point it at a loopback instance).
pub const ENV_SERVERA_URL: &str = "DEMO_SERVERA_URL";
/// Environment variable: the name the server answers with instead of the kernel hostname.
/// Tests use it to tell two instances on one host apart.
pub const ENV_HOSTNAME: &str = "DEMO_HOSTNAME";

/// The usage text printed by `--help` and after a usage error.
pub const USAGE: &str = "\
usage:
  skiff-demo [serve] [--listen PORTS] [--bind ADDRESS]
      serve every endpoint on every port in PORTS (comma-separated;
      default 80,8080,8081,9502; 0 picks a free port)
  skiff-demo get [--timeout-ms N] URL
      GET an http:// URL and print the body; exit 0 on 2xx, 1 on another
      status, 3 when the request could not complete
  skiff-demo --help | --version

environment:
  DEMO_LISTEN        ports, like --listen
  DEMO_BIND          address to bind, like --bind (default 0.0.0.0)
  DEMO_SERVICE_URL   what /service calls (default http://k8s-combat-service:8081/ping)
  DEMO_SERVERA_URL   what /clientapi calls (default http://servera-svc:9601/serverapi)
  DEMO_HOSTNAME      the name to answer with (default: the pod's hostname)
";

/// What the process was asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Run the HTTP server.
    Serve(ServeConfig),
    /// Fetch one URL and print its body.
    Get {
        /// The `http://` URL to fetch.
        url: Uri,
        /// How long to wait for the whole response.
        timeout: Duration,
    },
    /// Print the usage text.
    Help,
    /// Print the version.
    Version,
}

/// Everything the server needs to know before it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServeConfig {
    /// The address every listener binds (`0.0.0.0` in a pod, `127.0.0.1` in tests).
    pub bind_address: IpAddr,
    /// The ports to listen on, without duplicates, in the order given.
    pub ports: Vec<u16>,
    /// The name to answer with instead of the kernel hostname, if set.
    pub hostname_override: Option<String>,
    /// The URL `/service` calls.
    pub service_ping_url: Uri,
    /// The URL `/clientapi` calls.
    pub servera_url: Uri,
}

/// Why the command line or environment could not be understood.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    /// An argument that no mode accepts.
    #[error("failed to parse arguments: unexpected argument {0:?}")]
    UnexpectedArgument(String),
    /// An option given as the last argument, without its value.
    #[error("failed to parse arguments: {0} needs a value")]
    MissingValue(String),
    /// `get` without a URL.
    #[error("failed to parse arguments: get needs a URL")]
    MissingUrl,
    /// A port list entry that is not a number from 0 to 65535, or an empty list.
    #[error("failed to parse port list {0:?}: expected comma-separated numbers from 0 to 65535")]
    InvalidPorts(String),
    /// A bind address that is not an IP address.
    #[error("failed to parse bind address {0:?}: expected an IP address such as 0.0.0.0")]
    InvalidBindAddress(String),
    /// A `--timeout-ms` value that is not a positive number.
    #[error("failed to parse timeout {0:?}: expected a number of milliseconds")]
    InvalidTimeout(String),
    /// A URL that does not parse, or is not `http://host...`.
    #[error("failed to parse URL {value:?} ({source_name}): {reason}")]
    InvalidUrl {
        /// Where the URL came from: an environment variable or `get`.
        source_name: String,
        /// The text given.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// Parses the arguments (without the program name) and the environment into a [`Command`].
///
/// Command-line options win over environment variables.
pub fn parse_command(
    args: &[String],
    env: impl Fn(&str) -> Option<String>,
) -> Result<Command, ConfigError> {
    match args.first().map(String::as_str) {
        Some("-h" | "--help" | "help") => Ok(Command::Help),
        Some("-V" | "--version" | "version") => Ok(Command::Version),
        Some("get") => parse_get(&args[1..]),
        Some("serve") => parse_serve(&args[1..], &env),
        _ => parse_serve(args, &env),
    }
}

fn parse_get(args: &[String]) -> Result<Command, ConfigError> {
    let mut url = None;
    let mut timeout = DEFAULT_GET_TIMEOUT;
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--timeout-ms" => {
                let value = rest
                    .next()
                    .ok_or_else(|| ConfigError::MissingValue(arg.clone()))?;
                timeout = parse_timeout_ms(value)?;
            }
            _ if url.is_none() && !arg.starts_with('-') => url = Some(arg.clone()),
            _ => return Err(ConfigError::UnexpectedArgument(arg.clone())),
        }
    }
    let url = url.ok_or(ConfigError::MissingUrl)?;
    Ok(Command::Get {
        url: parse_http_url("get", &url)?,
        timeout,
    })
}

fn parse_serve(
    args: &[String],
    env: &impl Fn(&str) -> Option<String>,
) -> Result<Command, ConfigError> {
    let mut listen = env(ENV_LISTEN);
    let mut bind = env(ENV_BIND);
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        let slot = match arg.as_str() {
            "--listen" => &mut listen,
            "--bind" => &mut bind,
            _ => return Err(ConfigError::UnexpectedArgument(arg.clone())),
        };
        let value = rest
            .next()
            .ok_or_else(|| ConfigError::MissingValue(arg.clone()))?;
        *slot = Some(value.clone());
    }

    let ports = match listen {
        Some(list) => parse_ports(&list)?,
        None => DEFAULT_PORTS.to_vec(),
    };
    let bind_address = match bind {
        Some(text) => text
            .trim()
            .parse()
            .map_err(|_| ConfigError::InvalidBindAddress(text))?,
        None => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
    };
    let url_from_env = |name: &str, default: &str| {
        let value = env(name).unwrap_or_else(|| default.to_string());
        parse_http_url(name, &value)
    };
    Ok(Command::Serve(ServeConfig {
        bind_address,
        ports,
        hostname_override: env(ENV_HOSTNAME).filter(|name| !name.is_empty()),
        service_ping_url: url_from_env(ENV_SERVICE_URL, DEFAULT_SERVICE_PING_URL)?,
        servera_url: url_from_env(ENV_SERVERA_URL, DEFAULT_SERVERA_URL)?,
    }))
}

/// Parses `8081,9502` into ports, dropping duplicates (binding one port twice would fail).
pub fn parse_ports(list: &str) -> Result<Vec<u16>, ConfigError> {
    let mut ports = Vec::new();
    for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let port: u16 = entry
            .parse()
            .map_err(|_| ConfigError::InvalidPorts(list.to_string()))?;
        // Port 0 means "any free port" and may repeat: each one binds a different port.
        if port == 0 || !ports.contains(&port) {
            ports.push(port);
        }
    }
    if ports.is_empty() {
        return Err(ConfigError::InvalidPorts(list.to_string()));
    }
    Ok(ports)
}

fn parse_timeout_ms(text: &str) -> Result<Duration, ConfigError> {
    match text.trim().parse::<u64>() {
        Ok(ms) if ms > 0 => Ok(Duration::from_millis(ms)),
        _ => Err(ConfigError::InvalidTimeout(text.to_string())),
    }
}

/// Parses a URL the demo client can fetch: `http://` with a host. There is no TLS in the demo.
pub fn parse_http_url(source_name: &str, value: &str) -> Result<Uri, ConfigError> {
    let invalid = |reason: &str| ConfigError::InvalidUrl {
        source_name: source_name.to_string(),
        value: value.to_string(),
        reason: reason.to_string(),
    };
    let uri: Uri = value.trim().parse().map_err(|e| invalid(&format!("{e}")))?;
    match uri.scheme_str() {
        Some("http") => {}
        Some(other) => {
            return Err(invalid(&format!(
                "scheme {other} is not supported, only http"
            )))
        }
        None => return Err(invalid("expected http://host[:port]/path")),
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(invalid("the URL has no host"));
    }
    Ok(uri)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn serve_config(list: &[&str], env: &[(&str, &str)]) -> ServeConfig {
        let env: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        match parse_command(&args(list), |k| env.get(k).cloned()) {
            Ok(Command::Serve(config)) => config,
            other => panic!("expected serve, got {other:?}"),
        }
    }

    #[test]
    fn should_serve_every_scenario_port_on_all_addresses_by_default() {
        let config = serve_config(&[], &[]);
        assert_eq!(config.ports, vec![80, 8080, 8081, 9502]);
        assert_eq!(config.bind_address, IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        assert_eq!(config.service_ping_url, DEFAULT_SERVICE_PING_URL);
        assert_eq!(config.servera_url, DEFAULT_SERVERA_URL);
        assert_eq!(config.hostname_override, None);
    }

    #[test]
    fn should_prefer_the_listen_flag_over_the_environment() {
        let config = serve_config(&["--listen", "8081,9502"], &[(ENV_LISTEN, "80")]);
        assert_eq!(config.ports, vec![8081, 9502]);
        let config = serve_config(&["serve"], &[(ENV_LISTEN, " 80 , 80,9502 ")]);
        assert_eq!(config.ports, vec![80, 9502]);
    }

    #[test]
    fn should_keep_repeated_zero_ports_because_each_binds_a_free_port() {
        assert_eq!(parse_ports("0,0").unwrap(), vec![0, 0]);
    }

    #[test]
    fn should_refuse_a_bad_port_list() {
        for list in ["", ",", "http", "65536", "80;81"] {
            assert!(
                matches!(parse_ports(list), Err(ConfigError::InvalidPorts(_))),
                "{list:?} was accepted"
            );
        }
    }

    #[test]
    fn should_take_upstreams_bind_address_and_hostname_from_the_environment() {
        let config = serve_config(
            &["--bind", "127.0.0.1"],
            &[
                (ENV_SERVICE_URL, "http://127.0.0.1:1234/ping"),
                (ENV_SERVERA_URL, "http://localhost:9/serverapi"),
                (ENV_HOSTNAME, "replica-a"),
            ],
        );
        assert_eq!(config.bind_address, IpAddr::V4(Ipv4Addr::LOCALHOST));
        assert_eq!(config.service_ping_url, "http://127.0.0.1:1234/ping");
        assert_eq!(config.servera_url, "http://localhost:9/serverapi");
        assert_eq!(config.hostname_override.as_deref(), Some("replica-a"));
    }

    #[test]
    fn should_parse_the_get_client_with_a_timeout() {
        let command = parse_command(
            &args(&["get", "--timeout-ms", "250", "http://a:8081/ping"]),
            no_env,
        );
        assert_eq!(
            command,
            Ok(Command::Get {
                url: "http://a:8081/ping".parse().unwrap(),
                timeout: Duration::from_millis(250),
            })
        );
    }

    #[test]
    fn should_refuse_urls_the_client_cannot_fetch() {
        for url in ["https://a/", "a:80/ping", "/ping", "http://"] {
            let result = parse_command(&args(&["get", url]), no_env);
            assert!(
                matches!(result, Err(ConfigError::InvalidUrl { .. })),
                "{url:?} gave {result:?}"
            );
        }
        assert_eq!(
            parse_command(&args(&["get"]), no_env),
            Err(ConfigError::MissingUrl)
        );
    }

    #[test]
    fn should_report_unknown_arguments_and_missing_values() {
        assert_eq!(
            parse_command(&args(&["--port", "80"]), no_env),
            Err(ConfigError::UnexpectedArgument("--port".into()))
        );
        assert_eq!(
            parse_command(&args(&["--listen"]), no_env),
            Err(ConfigError::MissingValue("--listen".into()))
        );
        assert_eq!(
            parse_command(&args(&["get", "http://a/", "http://b/"]), no_env),
            Err(ConfigError::UnexpectedArgument("http://b/".into()))
        );
    }

    #[test]
    fn should_recognise_help_and_version() {
        assert_eq!(parse_command(&args(&["--help"]), no_env), Ok(Command::Help));
        assert_eq!(parse_command(&args(&["-V"]), no_env), Ok(Command::Version));
    }
}
