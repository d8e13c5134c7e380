//! `skiff`: the command line. `skiff server` runs a whole cluster in one process.

mod image_cli;
mod kubeconfig;

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "skiff",
    version,
    about = "A small Kubernetes built around Service networking"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the control plane and a local node.
    Server(ServerArgs),
    /// Manage the node's local image store.
    Image(image_cli::ImageArgs),
}

#[derive(clap::Args)]
struct ServerArgs {
    /// Where the store, the CA and the tokens live.
    #[arg(long, default_value = "/var/lib/skiff")]
    data_dir: PathBuf,
    /// The address the API server listens on.
    #[arg(long, default_value = "127.0.0.1")]
    bind: IpAddr,
    /// The API server's port.
    #[arg(long, default_value_t = 6443)]
    port: u16,
    /// Write an admin kubeconfig here (default: <data-dir>/kubeconfig.yaml).
    #[arg(long)]
    write_kubeconfig: Option<PathBuf>,
    /// The range ClusterIPs are allocated from.
    #[arg(long, default_value = "10.43.0.0/16")]
    service_cidr: String,
    /// The range pod networks are carved from, one /24 per node.
    #[arg(long, default_value = "10.42.0.0/16")]
    cluster_cidr: String,
    /// Seconds between compactions of the store's history.
    #[arg(long, default_value_t = 300)]
    compaction_interval: u64,
    /// Seconds a node may go without renewing its Lease before it is Ready=Unknown and tainted.
    #[arg(long, default_value_t = 40)]
    node_monitor_grace_period_seconds: u64,
    /// The tolerationSeconds assumed for pods without a not-ready/unreachable toleration.
    #[arg(long, default_value_t = 300)]
    default_toleration_seconds: i64,
    /// Also run the node agent in this process: register this machine as a Node and
    /// run the pods bound to it (needs root and crun). Off by default for now.
    #[arg(long, default_value_t = false)]
    agent: bool,
    /// The agent's Node name (default: the host name). Only with --agent.
    #[arg(long, requires = "agent")]
    node_name: Option<String>,
    /// The agent's InternalIP (default: the address of the default route, else 127.0.0.1). Only with --agent.
    #[arg(long, requires = "agent")]
    node_ip: Option<IpAddr>,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("skiff: failed to start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = match cli.command {
        Command::Server(args) => runtime.block_on(server(args)),
        Command::Image(args) => image_cli::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("skiff: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn server(args: ServerArgs) -> Result<(), Box<dyn std::error::Error>> {
    validate_cidr("--service-cidr", &args.service_cidr)?;
    validate_cidr("--cluster-cidr", &args.cluster_cidr)?;
    std::fs::create_dir_all(&args.data_dir).map_err(|e| {
        format!(
            "failed to create data directory {}: {e}",
            args.data_dir.display()
        )
    })?;
    let store = skiff_store::RedbStore::open(&args.data_dir.join("store.redb"))?;
    let config = skiff_apiserver::ServerConfig {
        bind: args.bind,
        port: args.port,
        data_dir: args.data_dir.clone(),
        extra_hosts: Vec::new(),
        compaction_interval: std::time::Duration::from_secs(args.compaction_interval.max(1)),
    };
    let server = skiff_apiserver::start(config, store).await?;
    let kubeconfig_path = args
        .write_kubeconfig
        .clone()
        .unwrap_or_else(|| args.data_dir.join("kubeconfig.yaml"));
    let url = format!("https://{}", server.addr);
    kubeconfig::write(
        &kubeconfig_path,
        &url,
        server.ca_cert_pem(),
        server.admin_token(),
    )?;
    let client = kubeconfig::client(&url, server.ca_cert_pem(), server.component_token()).await?;
    let controllers = skiff_controllers::Options {
        node_monitor_grace_period: std::time::Duration::from_secs(
            args.node_monitor_grace_period_seconds.max(1),
        ),
        default_toleration_seconds: args.default_toleration_seconds,
    };
    let agent = args.agent.then(|| skiff_agent::agent::AgentConfig {
        node_name: args
            .node_name
            .clone()
            .unwrap_or_else(skiff_agent::agent::default_node_name),
        node_ip: args
            .node_ip
            .unwrap_or_else(skiff_agent::agent::default_node_ip),
        data_dir: args.data_dir.clone(),
        cluster_cidr: args.cluster_cidr.clone(),
    });
    let loops = async {
        tokio::try_join!(
            async {
                match agent {
                    Some(config) => skiff_agent::agent::run(client.clone(), config)
                        .await
                        .map_err(|e| e.to_string()),
                    None => Ok(()),
                }
            },
            async {
                skiff_controllers::run(client.clone(), controllers)
                    .await
                    .map_err(|e| e.to_string())
            },
            async {
                skiff_scheduler::run(client.clone())
                    .await
                    .map_err(|e| e.to_string())
            },
        )
    };
    tracing::info!(%url, kubeconfig = %kubeconfig_path.display(), "skiff server is ready");
    eprintln!(
        "skiff server is serving at {url}\n  export KUBECONFIG={}",
        kubeconfig_path.display()
    );
    tokio::select! {
        _ = server.wait() => Err("the API server stopped".into()),
        result = loops => Err(format!("the control loops stopped: {:?}", result.err()).into()),
        _ = shutdown_signal() => Ok(()),
    }
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut terminate = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
}

fn validate_cidr(flag: &str, cidr: &str) -> Result<(), String> {
    let invalid =
        || format!("invalid {flag} {cidr:?}: expected an address range such as 10.43.0.0/16");
    let (address, prefix) = cidr.split_once('/').ok_or_else(invalid)?;
    let address: IpAddr = address.parse().map_err(|_| invalid())?;
    let prefix: u8 = prefix.parse().map_err(|_| invalid())?;
    let max = if address.is_ipv4() { 32 } else { 128 };
    if prefix > max {
        return Err(invalid());
    }
    Ok(())
}
