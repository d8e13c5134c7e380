//! The `skiff-demo` binary: `skiff-demo [serve] [--listen PORTS]` or `skiff-demo get URL`.

use std::io::Write;
use std::process::ExitCode;

use skiff_demo::config::{self, Command};
use skiff_demo::{client, server};

/// `get` answered with a status outside 2xx.
const EXIT_HTTP_FAILURE: u8 = 1;
/// The arguments could not be understood.
const EXIT_USAGE: u8 = 2;
/// `get` got no response (resolution, connection, timeout) or the server failed to start.
const EXIT_NO_RESPONSE: u8 = 3;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let command = match config::parse_command(&args, |name| std::env::var(name).ok()) {
        Ok(command) => command,
        Err(error) => {
            eprintln!("skiff-demo: {error}\n\n{}", config::USAGE);
            return ExitCode::from(EXIT_USAGE);
        }
    };
    // One thread is plenty for a demo pod, and keeps its footprint predictable under a
    // CPU limit of a quarter core.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("skiff-demo: failed to start the runtime: {error}");
            return ExitCode::from(EXIT_NO_RESPONSE);
        }
    };
    match command {
        Command::Help => {
            print!("{}", config::USAGE);
            ExitCode::SUCCESS
        }
        Command::Version => {
            println!("skiff-demo {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Command::Serve(serve_config) => match runtime.block_on(server::serve(serve_config)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("skiff-demo: {error}");
                ExitCode::from(EXIT_NO_RESPONSE)
            }
        },
        Command::Get { url, timeout } => match runtime.block_on(client::get(&url, timeout)) {
            Ok(fetched) => {
                let mut stdout = std::io::stdout().lock();
                let _ = stdout.write_all(&fetched.body);
                let _ = stdout.flush();
                if fetched.status.is_success() {
                    ExitCode::SUCCESS
                } else {
                    eprintln!("skiff-demo: GET {url}: {}", fetched.status);
                    ExitCode::from(EXIT_HTTP_FAILURE)
                }
            }
            Err(error) => {
                eprintln!("skiff-demo: GET {url}: {error}");
                ExitCode::from(EXIT_NO_RESPONSE)
            }
        },
    }
}
