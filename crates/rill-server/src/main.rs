//! The `rill-server` binary: a single-node Rill server.
//!
//! ```text
//! rill-server [--bind 127.0.0.1] [--port 6379] [--dir ./rill-data] [--no-fsync]
//! ```
//!
//! `--port 0` picks a free port. The bound address is printed on stdout as
//! `listening on <ip>:<port>` once the server accepts connections. SIGINT and SIGTERM stop it
//! gracefully: connections close after their current batch and the store is closed cleanly.

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use rill_server::{Server, ServerConfig};
use tokio::signal::unix::{signal, SignalKind};

const USAGE: &str = "usage: rill-server [--bind IP] [--port PORT] [--dir PATH] [--no-fsync]";

fn parse_args(args: impl Iterator<Item = String>) -> Result<ServerConfig, String> {
    let mut config = ServerConfig::new(PathBuf::from("rill-data"));
    let mut args = args;
    while let Some(flag) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match flag.as_str() {
            "--bind" => {
                let text = value("--bind")?;
                config.bind = text
                    .parse::<IpAddr>()
                    .map_err(|e| format!("--bind {text}: {e}"))?;
            }
            "--port" => {
                let text = value("--port")?;
                config.port = text
                    .parse::<u16>()
                    .map_err(|e| format!("--port {text}: {e}"))?;
            }
            "--dir" => config.dir = PathBuf::from(value("--dir")?),
            "--no-fsync" => config.fsync = false,
            "--help" | "-h" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    Ok(config)
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let config = match parse_args(std::env::args().skip(1)) {
        Ok(config) => config,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(serve(config))
}

async fn serve(config: ServerConfig) -> ExitCode {
    let (mut interrupt, mut terminate) = match (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) {
        (Ok(interrupt), Ok(terminate)) => (interrupt, terminate),
        (Err(error), _) | (_, Err(error)) => {
            eprintln!("cannot install signal handlers: {error}");
            return ExitCode::FAILURE;
        }
    };
    let handle = match Server::start(config).await {
        Ok(handle) => handle,
        Err(error) => {
            eprintln!("rill-server: {error}");
            return ExitCode::FAILURE;
        }
    };
    println!("listening on {}", handle.addr());
    tokio::select! {
        _ = interrupt.recv() => tracing::info!("SIGINT: stopping"),
        _ = terminate.recv() => tracing::info!("SIGTERM: stopping"),
    }
    handle.shutdown().await;
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<ServerConfig, String> {
        parse_args(args.iter().map(|a| (*a).to_owned()))
    }

    #[test]
    fn arguments() {
        let config = parse(&[
            "--bind",
            "0.0.0.0",
            "--port",
            "0",
            "--dir",
            "/tmp/x",
            "--no-fsync",
        ])
        .expect("valid");
        assert_eq!(config.bind.to_string(), "0.0.0.0");
        assert_eq!(config.port, 0);
        assert_eq!(config.dir, PathBuf::from("/tmp/x"));
        assert!(!config.fsync);
        let defaults = parse(&[]).expect("valid");
        assert_eq!((defaults.port, defaults.fsync), (6379, true));
        assert!(parse(&["--port", "70000"]).is_err());
        assert!(parse(&["--port"]).is_err());
        assert!(parse(&["--color"]).is_err());
    }
}
