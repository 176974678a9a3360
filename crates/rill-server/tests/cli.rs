//! The `rill-server` binary's command line: help, and clear errors for bad settings. (Building
//! these tests also builds the binary that `tests/tests/processes.rs` and the Python seed
//! checks run.)

use std::process::Command;

fn server() -> Command {
    Command::new(env!("CARGO_BIN_EXE_rill-server"))
}

#[test]
fn help_lists_the_settings() {
    let out = server().arg("--help").output().expect("runs");
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--node-id",
        "--member",
        "--join-via",
        "--election-timeout-ms-min",
    ] {
        assert!(help.contains(flag), "{flag} missing from:\n{help}");
    }
}

#[test]
fn bad_settings_are_refused_before_anything_starts() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cases: [(&[&str], &str); 3] = [
        (&["--port", "many"], "invalid value 'many'"),
        (&["--heartbeat-ms", "900"], "heartbeat"),
        (&["--member", "1=nowhere"], "member"),
    ];
    for (args, expected) in cases {
        let out = server()
            .args(args)
            .arg("--dir")
            .arg(dir.path())
            .output()
            .expect("runs");
        assert!(!out.status.success(), "{args:?} was accepted");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.to_lowercase().contains(expected),
            "{args:?}: {stderr}"
        );
    }
}
