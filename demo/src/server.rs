//! The server: one listener per port, every endpoint on every port, HTTP/1.1 and h2c, and a
//! graceful stop on SIGTERM (stop accepting, finish what is in flight, exit 0), as a pod
//! being deleted or rolled over is expected to do.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::app::{log_line, App};
use crate::config::ServeConfig;

/// How long in-flight requests may take to finish after SIGTERM. Below Kubernetes' default
/// `terminationGracePeriodSeconds` of 30 s, so that the exit is ours and not a SIGKILL.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(25);

/// Why the server could not run.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// A port could not be bound (in use, or below 1024 without the capability).
    #[error("failed to listen on {address}: {source} (choose ports with --listen or DEMO_LISTEN)")]
    Listen {
        /// The address and port.
        address: SocketAddr,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The signal handlers could not be installed.
    #[error("failed to install signal handlers: {0}")]
    Signals(std::io::Error),
}

/// Serves until SIGTERM or SIGINT, then drains and returns.
pub async fn serve(config: ServeConfig) -> Result<(), ServeError> {
    let hostname = config
        .hostname_override
        .clone()
        .unwrap_or_else(system_hostname);
    let app = Arc::new(App::new(
        hostname,
        config.service_ping_url.clone(),
        config.servera_url.clone(),
    ));

    // Bind every port before serving any, so that a bad port list fails at once and
    // nothing half-starts.
    let mut listeners = Vec::with_capacity(config.ports.len());
    for &port in &config.ports {
        listeners.push(bind(config.bind_address, port).await?);
    }
    // Install the handlers before saying we listen: a SIGTERM that follows the log line
    // must be caught, not kill the process with the default action.
    let mut terminate = signal(SignalKind::terminate()).map_err(ServeError::Signals)?;
    let mut interrupt = signal(SignalKind::interrupt()).map_err(ServeError::Signals)?;

    let (stop_sender, stop_receiver) = watch::channel(false);
    let mut accept_loops = JoinSet::new();
    for listener in listeners {
        let address = listener.local_addr().map_err(|source| ServeError::Listen {
            address: SocketAddr::new(config.bind_address, 0),
            source,
        })?;
        log_line(&format!(
            "skiff-demo {} as {} listening on {address}",
            env!("CARGO_PKG_VERSION"),
            app.hostname()
        ));
        accept_loops.spawn(accept_loop(
            listener,
            address.port(),
            app.clone(),
            stop_receiver.clone(),
        ));
    }

    let signal_name = tokio::select! {
        _ = terminate.recv() => "SIGTERM",
        _ = interrupt.recv() => "SIGINT",
    };
    log_line(&format!(
        "{} received {signal_name}: no new connections, finishing requests in flight",
        app.hostname()
    ));
    let _ = stop_sender.send(true);
    while accept_loops.join_next().await.is_some() {}
    log_line(&format!("{} stopped", app.hostname()));
    Ok(())
}

async fn bind(ip: IpAddr, port: u16) -> Result<TcpListener, ServeError> {
    let address = SocketAddr::new(ip, port);
    TcpListener::bind(address)
        .await
        .map_err(|source| ServeError::Listen { address, source })
}

/// Accepts connections on one port until told to stop, then drains that port's connections.
async fn accept_loop(
    listener: TcpListener,
    local_port: u16,
    app: Arc<App>,
    mut stop: watch::Receiver<bool>,
) {
    // auto serves HTTP/1.1 and HTTP/2 with prior knowledge (h2c), so the L7 balancing
    // tests can send h2 to the same pods.
    let builder = auto::Builder::new(TokioExecutor::new());
    let graceful = GracefulShutdown::new();
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Typically EMFILE: back off briefly instead of spinning.
                    log_line(&format!("failed to accept on :{local_port}: {error}"));
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = stop.changed() => break,
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let service = service_fn(move |request| {
            let app = app.clone();
            async move { Ok::<_, Infallible>(app.handle(request, peer, local_port).await) }
        });
        let connection = builder
            .serve_connection(TokioIo::new(stream), service)
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            // A peer that resets or sends garbage ends only its own connection.
            let _ = connection.await;
        });
    }
    drop(listener);
    // Idle keep-alive connections close now; busy ones after their current request.
    if tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown())
        .await
        .is_err()
    {
        log_line(&format!(
            "connections on :{local_port} still open after {} s; exiting anyway",
            DRAIN_TIMEOUT.as_secs()
        ));
    }
}

/// The pod name: the hostname of the pod's UTS namespace, which the agent sets to the pod
/// name. `uname` needs no `/proc`, which a container may lack; `$HOSTNAME` (set by
/// Kubernetes) is the fallback.
pub fn system_hostname() -> String {
    let mut buffer = [0u8; 256];
    // SAFETY: the pointer and length describe `buffer`, which outlives the call.
    let result = unsafe { libc::gethostname(buffer.as_mut_ptr().cast(), buffer.len()) };
    if result == 0 {
        let end = buffer.iter().position(|&b| b == 0).unwrap_or(buffer.len());
        let name = String::from_utf8_lossy(&buffer[..end]).into_owned();
        if !name.is_empty() {
            return name;
        }
    }
    std::env::var("HOSTNAME").unwrap_or_else(|_| "unknown".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn should_know_the_machine_hostname() {
        assert!(!system_hostname().is_empty());
    }
}
