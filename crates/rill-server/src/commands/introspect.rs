//! `COMMAND` and its subcommands: what a client learns of the commands Rill serves, and where
//! their keys are (`GETKEYS`, which cluster clients ask for commands whose keys move).

use rill_core::reply::errors;
use rill_core::Reply;

use super::docs;
use super::table::{Begin, CommandSpec, KeySpec, COMMANDS};
use super::{arity_ok, lossy, statuses, wrong_sub_arity};

/// `COMMAND`, `COMMAND COUNT|INFO|DOCS|LIST|GETKEYS|GETKEYSANDFLAGS|HELP`.
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
        "DOCS" => command_docs(&args[1..]),
        "LIST" => list(&args[1..]),
        "GETKEYS" | "GETKEYSANDFLAGS" if args.len() < 3 => {
            wrong_sub_arity("command", &upper.to_ascii_lowercase())
        }
        "GETKEYS" => get_keys(&args[1..], false),
        "GETKEYSANDFLAGS" => get_keys(&args[1..], true),
        "HELP" if args.len() == 1 => help(),
        _ => Reply::err(errors::unknown_subcommand(sub, "COMMAND")),
    }
}

/// A command by name, or a subcommand as `container|sub` (as `COMMAND INFO` takes them).
pub(super) fn find_command(name: &[u8]) -> Option<&'static CommandSpec> {
    let (container, sub) = match name.iter().position(|&b| b == b'|') {
        Some(bar) => (&name[..bar], Some(&name[bar + 1..])),
        None => (name, None),
    };
    let spec = COMMANDS
        .iter()
        .find(|spec| container.eq_ignore_ascii_case(spec.name.as_bytes()))?;
    match sub {
        None => Some(spec),
        Some(sub) => spec.subcommand(sub),
    }
}

/// `COMMAND DOCS [name ...]`: a map from each name to its docs, for every command when no
/// name is given. As Redis's `commandDocsCommand`, a name may be `container|sub`, and names
/// Rill does not serve are left out.
fn command_docs(names: &[Vec<u8>]) -> Reply {
    let specs: Vec<&CommandSpec> = if names.is_empty() {
        COMMANDS.iter().collect()
    } else {
        names.iter().filter_map(|name| find_command(name)).collect()
    };
    Reply::Map(
        specs
            .into_iter()
            .map(|spec| (Reply::text(spec.name), docs::reply(spec)))
            .collect(),
    )
}

/// Every command and subcommand name, in table order (Redis lists subcommands too).
fn all_names() -> impl Iterator<Item = &'static CommandSpec> {
    COMMANDS
        .iter()
        .flat_map(|spec| std::iter::once(spec).chain(spec.subcommands.iter()))
}

/// `COMMAND LIST [FILTERBY MODULE name|ACLCAT category|PATTERN pattern]`. Rill has no
/// modules, so a module filter matches nothing.
fn list(args: &[Vec<u8>]) -> Reply {
    let names = |keep: &dyn Fn(&CommandSpec) -> bool| {
        Reply::Array(
            all_names()
                .filter(|spec| keep(spec))
                .map(|spec| Reply::text(spec.name))
                .collect(),
        )
    };
    match args {
        [] => names(&|_| true),
        [filterby, kind, arg] if filterby.eq_ignore_ascii_case(b"FILTERBY") => {
            let kind = lossy(kind).to_ascii_uppercase();
            match kind.as_str() {
                "MODULE" => Reply::Array(Vec::new()),
                "ACLCAT" => names(&|spec| {
                    spec.categories
                        .iter()
                        .any(|cat| arg.eq_ignore_ascii_case(cat.trim_start_matches('@').as_bytes()))
                }),
                "PATTERN" => {
                    // Redis matches without regard to case; the names are lowercase.
                    let pattern = arg.to_ascii_lowercase();
                    names(&|spec| rill_core::glob::matches(&pattern, spec.name.as_bytes()))
                }
                _ => Reply::err(errors::SYNTAX),
            }
        }
        _ => Reply::err(errors::SYNTAX),
    }
}

/// `COMMAND GETKEYS|GETKEYSANDFLAGS command arg ...`, with Redis's checks in its order: an
/// unknown command (or subcommand), a command without keys, the arity, then the keys the
/// command's key specs find (none found: `Invalid arguments`).
fn get_keys(argv: &[Vec<u8>], with_flags: bool) -> Reply {
    let Some(spec) = lookup(argv) else {
        return Reply::err("ERR Invalid command specified");
    };
    if spec.key_specs.is_empty() {
        return Reply::err("ERR The command has no key arguments");
    }
    if !arity_ok(spec.arity, argv.len()) {
        return Reply::err("ERR Invalid number of arguments specified for command");
    }
    let keys = keys_of(spec, argv);
    if keys.is_empty() {
        return Reply::err("ERR Invalid arguments specified for command");
    }
    Reply::Array(
        keys.into_iter()
            .map(|(index, key_spec)| {
                let key = Reply::bulk(&argv[index]);
                if !with_flags {
                    return key;
                }
                Reply::Array(vec![key, statuses(key_spec.flags)])
            })
            .collect(),
    )
}

/// Redis's `lookupCommand`: a container command with arguments names its subcommand.
fn lookup(argv: &[Vec<u8>]) -> Option<&'static CommandSpec> {
    let spec = find_command(argv.first()?).filter(|_| !argv[0].contains(&b'|'))?;
    if spec.subcommands.is_empty() || argv.len() == 1 {
        return Some(spec);
    }
    spec.subcommand(&argv[1])
}

/// The positions in `argv` (the command name at 0) that `spec`'s key specs name, as Redis's
/// `getKeysUsingKeySpecs` finds them. A spec whose keys fall outside `argv` finds none at all.
pub(super) fn keys_of(
    spec: &'static CommandSpec,
    argv: &[Vec<u8>],
) -> Vec<(usize, &'static KeySpec)> {
    let argc = i64::try_from(argv.len()).unwrap_or(i64::MAX);
    let mut keys = Vec::new();
    for key_spec in spec.key_specs {
        let first = match key_spec.begin {
            Begin::Index(index) => i64::from(index),
            Begin::Keyword(keyword, from) => {
                // A negative start searches backwards from the end; Rill's tables have none.
                let from = usize::try_from(from).unwrap_or(usize::MAX);
                match argv
                    .iter()
                    .enumerate()
                    .skip(from)
                    .find(|(_, arg)| arg.eq_ignore_ascii_case(keyword.as_bytes()))
                {
                    Some((at, _)) => at as i64 + 1,
                    None => continue,
                }
            }
        };
        let range = &key_spec.find;
        let last = if range.lastkey >= 0 {
            first + i64::from(range.lastkey)
        } else if range.limit == 0 {
            argc + i64::from(range.lastkey)
        } else {
            first + (argc - first) / i64::from(range.limit) + i64::from(range.lastkey)
        };
        if last >= argc || last < first || first >= argc {
            return Vec::new();
        }
        let step = usize::try_from(range.step.max(1)).unwrap_or(1);
        for at in (first..=last).step_by(step) {
            keys.push((at as usize, key_spec));
        }
    }
    keys
}

fn help() -> Reply {
    let lines = [
        "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "(no subcommand)",
        "    Return details about all Redis commands.",
        "COUNT",
        "    Return the total number of commands in this Redis server.",
        "LIST",
        "    Return a list of all commands in this Redis server.",
        "INFO [<command-name> ...]",
        "    Return details about multiple Redis commands.",
        "    If no command names are given, documentation details for all",
        "    commands are returned.",
        "DOCS [<command-name> ...]",
        "    Return documentation details about multiple Redis commands.",
        "    If no command names are given, documentation details for all",
        "    commands are returned.",
        "GETKEYS <full-command>",
        "    Return the keys from a full Redis command.",
        "GETKEYSANDFLAGS <full-command>",
        "    Return the keys and the access flags from a full Redis command.",
        "HELP",
        "    Print this help.",
    ];
    statuses(&lines)
}
