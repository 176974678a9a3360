//! `COMMAND` and its subcommands: what a client learns of the commands Rill serves.

use rill_core::reply::errors;
use rill_core::Reply;

use super::table::{CommandSpec, COMMANDS};
use super::{lossy, wrong_sub_arity};

/// `COMMAND`, `COMMAND COUNT|INFO|DOCS|LIST`. DOCS answers an empty map: enough for
/// `redis-cli`, which then falls back to its built-in hints.
pub(super) fn command(args: &[Vec<u8>]) -> Reply {
    let Some(sub) = args.first() else {
        return Reply::Array(COMMANDS.iter().map(CommandSpec::info).collect());
    };
    let upper = lossy(sub).to_ascii_uppercase();
    match upper.as_str() {
        "COUNT" if args.len() != 1 => wrong_sub_arity("command", "count"),
        "COUNT" => Reply::Int(COMMANDS.len() as i64),
        "INFO" if args.len() == 1 => Reply::Array(COMMANDS.iter().map(CommandSpec::info).collect()),
        "INFO" => Reply::Array(
            args[1..]
                .iter()
                .map(|name| find_command(name).map_or(Reply::Nil, CommandSpec::info))
                .collect(),
        ),
        "DOCS" => Reply::Map(Vec::new()),
        "LIST" if args.len() == 1 => {
            Reply::Array(COMMANDS.iter().map(|spec| Reply::text(spec.name)).collect())
        }
        "LIST" => Reply::err(errors::SYNTAX),
        _ => Reply::err(errors::unknown_subcommand(sub, "COMMAND")),
    }
}

pub(super) fn find_command(name: &[u8]) -> Option<&'static CommandSpec> {
    COMMANDS
        .iter()
        .find(|spec| name.eq_ignore_ascii_case(spec.name.as_bytes()))
}
