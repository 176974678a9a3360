//! `rill`: the command line for a Rill cluster, over gRPC.
//!
//! ```text
//! rill xadd sensor_stream '*' sensor_id 3 temperature 21.5   any stream command, argv as given
//! rill --json xrange sensor_stream - +                        the reply as JSON
//! rill cluster status                                         every node's view of the cluster
//! rill produce / rill consume                                 the seed articles' sensor pipeline
//! ```

mod demo;
mod render;

use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use rill_client::{Client, ClientOptions, Error};

#[derive(Parser, Debug)]
#[command(
    name = "rill",
    version,
    about = "Talk to a Rill cluster over gRPC",
    after_help = "Any other subcommand is a stream command sent as is, for example:\n  \
                  rill xadd sensor_stream '*' sensor_id 3 temperature 21.5\n  \
                  rill xrange sensor_stream - + COUNT 10\n  \
                  rill xinfo groups sensor_stream"
)]
struct Cli {
    /// gRPC addresses of the cluster's nodes, comma-separated (any subset works).
    #[arg(
        long,
        env = "RILL_NODES",
        value_delimiter = ',',
        default_value = "127.0.0.1:7379,127.0.0.1:7380,127.0.0.1:7381"
    )]
    nodes: Vec<String>,
    /// Print replies as JSON.
    #[arg(long, global = true)]
    json: bool,
    /// The node's password (its admin password for commands that change the cluster), like
    /// redis-cli's REDISCLI_AUTH.
    #[arg(long, env = "RILL_PASSWORD", hide_env_values = true)]
    password: Option<String>,
    /// Talk TLS, verifying the nodes against this CA certificate (PEM), like redis-cli's
    /// --tls --cacert.
    #[arg(long, env = "RILL_TLS_CA_CERT_FILE")]
    tls_ca_cert_file: Option<std::path::PathBuf>,
    /// A client certificate and its key (PEM), if the nodes are to see one.
    #[arg(long, env = "RILL_TLS_CERT_FILE", requires = "tls_key_file")]
    tls_cert_file: Option<std::path::PathBuf>,
    #[arg(long, env = "RILL_TLS_KEY_FILE", requires = "tls_cert_file")]
    tls_key_file: Option<std::path::PathBuf>,
    /// Give up on a command after this long without an answer from any node.
    #[arg(long, default_value_t = 10_000)]
    timeout_ms: u64,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Cluster membership and replication state.
    Cluster {
        #[command(subcommand)]
        command: ClusterCommand,
    },
    /// Append random sensor readings, as the seed articles' producer does.
    Produce(demo::ProduceArgs),
    /// Read the sensor stream with a consumer group of several consumers.
    Consume(demo::ConsumeArgs),
    /// Development helpers.
    Dev {
        #[command(subcommand)]
        command: DevCommand,
    },
    #[command(external_subcommand)]
    Stream(Vec<String>),
}

#[derive(Subcommand, Debug)]
enum DevCommand {
    /// Write a test CA (ca.pem) and a node certificate (node.pem, node-key.pem) valid for
    /// localhost, 127.0.0.1, ::1 and each --host, into DIR. For trying TLS out, not production.
    Certs {
        dir: std::path::PathBuf,
        /// Another name or address the nodes are reached by; repeat for each.
        #[arg(long = "host")]
        hosts: Vec<String>,
    },
}

#[derive(Subcommand, Debug)]
enum ClusterCommand {
    /// Every node's role, term, log, commit and applied indexes, and the leader's view of
    /// each member's replication lag.
    Status,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("{message}");
            ExitCode::FAILURE
        }
    }
}

fn options(timeout_ms: u64, cli: &Cli) -> Result<ClientOptions, String> {
    let read = |path: &std::path::Path| {
        std::fs::read(path).map_err(|e| format!("error: cannot read {}: {e}", path.display()))
    };
    let tls = match &cli.tls_ca_cert_file {
        None => None,
        Some(ca) => Some(rill_client::ClientTls {
            ca_pem: read(ca)?,
            identity: match (&cli.tls_cert_file, &cli.tls_key_file) {
                (Some(cert), Some(key)) => Some((read(cert)?, read(key)?)),
                _ => None,
            },
        }),
    };
    Ok(ClientOptions {
        retry_for: Duration::from_millis(timeout_ms),
        password: cli.password.clone(),
        tls,
        ..ClientOptions::default()
    })
}

async fn run(cli: Cli) -> Result<(), String> {
    if let Command::Dev {
        command: DevCommand::Certs { dir, hosts },
    } = &cli.command
    {
        let certs = rill_client::dev_certs::write(dir, hosts)?;
        println!(
            "--tls-cert-file {} --tls-key-file {} --tls-ca-cert-file {}",
            certs.cert.display(),
            certs.key.display(),
            certs.ca.display()
        );
        return Ok(());
    }
    let client = Client::connect(cli.nodes.clone(), options(cli.timeout_ms, &cli)?)
        .map_err(|e| format!("error: {e}"))?;
    match cli.command {
        Command::Stream(args) => stream_command(&client, &args, cli.json).await,
        Command::Cluster {
            command: ClusterCommand::Status,
        } => cluster_status(&cli.nodes, &options(1_000, &cli)?, cli.json).await,
        Command::Produce(args) => demo::produce(client, args).await,
        Command::Consume(args) => demo::consume(client, args).await,
        Command::Dev { .. } => Ok(()),
    }
}

async fn stream_command(client: &Client, args: &[String], json: bool) -> Result<(), String> {
    let argv: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    match client.execute(&argv).await {
        Ok(value) => {
            println!(
                "{}",
                if json {
                    render::json(&value)
                } else {
                    render::human(&value)
                }
            );
            Ok(())
        }
        Err(error) => Err(error_text(&error, json)),
    }
}

/// A refused command prints Redis's text, as redis-cli does: `(error) ERR ...`.
fn error_text(error: &Error, json: bool) -> String {
    let text = match error {
        Error::Refused(status) => status.message().to_owned(),
        other => other.to_string(),
    };
    if json {
        let mut out = String::from("{\"error\":");
        render::json_string(&mut out, text.as_bytes());
        out.push('}');
        out
    } else {
        format!("(error) {text}")
    }
}

async fn cluster_status(
    nodes: &[String],
    options: &ClientOptions,
    json: bool,
) -> Result<(), String> {
    let mut rows = Vec::new();
    for addr in nodes {
        // One node at a time, each with a short budget: a dead node is a row, not a failure.
        let one = Client::connect([addr.clone()], options.clone()).map_err(|e| e.to_string())?;
        rows.push((addr.clone(), one.status().await));
    }
    let leader_view = rows
        .iter()
        .find_map(|(_, status)| status.as_ref().ok().filter(|s| s.role == "leader"));
    if json {
        let mut out = String::from("{\"nodes\":[");
        for (i, (addr, status)) in rows.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str("{\"addr\":");
            render::json_string(&mut out, addr.as_bytes());
            match status {
                Ok(s) => {
                    let lag = leader_view.and_then(|l| l.replication_lag.get(&s.node_id));
                    out.push_str(&format!(
                        ",\"id\":{},\"role\":\"{}\",\"leader\":{},\"term\":{},\"last_log_index\":{},\"commit_index\":{},\"applied_index\":{},\"snapshot_index\":{},\"lag\":{}",
                        s.node_id,
                        s.role,
                        s.leader_id.map_or("null".to_owned(), |l| l.to_string()),
                        s.term,
                        s.last_log_index,
                        s.commit_index,
                        s.applied_index,
                        s.snapshot_index,
                        lag.map_or("null".to_owned(), |l| l.to_string()),
                    ));
                }
                Err(error) => {
                    out.push_str(",\"error\":");
                    render::json_string(&mut out, error.to_string().as_bytes());
                }
            }
            out.push('}');
        }
        out.push_str("]}");
        println!("{out}");
        return Ok(());
    }
    match leader_view {
        Some(leader) => println!(
            "leader: node {} (term {}), {} members",
            leader.node_id,
            leader.term,
            leader.members.len()
        ),
        None => println!("leader: none reachable"),
    }
    println!(
        "{:<22} {:>4} {:<9} {:>6} {:>10} {:>10} {:>10} {:>6}",
        "NODE", "ID", "ROLE", "TERM", "LAST-LOG", "COMMIT", "APPLIED", "LAG"
    );
    for (addr, status) in &rows {
        match status {
            Ok(s) => {
                let lag = leader_view
                    .and_then(|l| l.replication_lag.get(&s.node_id))
                    .map_or("-".to_owned(), |l| l.to_string());
                println!(
                    "{:<22} {:>4} {:<9} {:>6} {:>10} {:>10} {:>10} {:>6}",
                    addr,
                    s.node_id,
                    s.role,
                    s.term,
                    s.last_log_index,
                    s.commit_index,
                    s.applied_index,
                    lag
                );
            }
            Err(error) => println!("{addr:<22} unreachable: {error}"),
        }
    }
    if let Some(leader) = leader_view {
        for member in leader
            .members
            .iter()
            .filter(|m| !nodes.contains(&m.raft_addr))
        {
            println!(
                "member {} ({}, {}) is not among --nodes",
                member.id,
                member.raft_addr,
                if member.voter { "voter" } else { "learner" }
            );
        }
    }
    Ok(())
}
