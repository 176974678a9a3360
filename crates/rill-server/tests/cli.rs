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

/// A store whose fsync failed in this boot is refused at start, with its own exit code (the
/// systemd unit does not restart on it) and the marker's path and error in the message.
#[test]
fn a_store_whose_fsync_failed_this_boot_is_refused_with_exit_code_3() {
    let dir = tempfile::tempdir().expect("temp dir");
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").expect("boot id");
    std::fs::write(
        dir.path().join("FSYNC_FAILED"),
        format!(
            "boot_id={}\nerror=IO error: While fdatasync: injected\n",
            boot.trim()
        ),
    )
    .expect("marker");
    let mut child = server()
        .args(["--port", "0", "--grpc-port", "0", "--dir"])
        .arg(dir.path())
        .env_remove("RILL_PORT")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("runs");
    // Were the store opened after all, the server would run on: stop it, and fail.
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break Some(status);
        }
        if started.elapsed() > std::time::Duration::from_secs(30) {
            let _ = child.kill();
            break None;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let out = child.wait_with_output().expect("output");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let status = status.unwrap_or_else(|| panic!("the server started: {stderr}"));
    assert_eq!(status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("FSYNC_FAILED"), "{stderr}");
    assert!(stderr.contains("While fdatasync: injected"), "{stderr}");
    assert!(stderr.contains("reboot"), "{stderr}");
}
