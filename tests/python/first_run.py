"""The README's first command, deploy/local/run.sh, on a fresh data directory and then again on
the same data: every node answers the demo (no TRYAGAIN, no error), the three agree on the
stream, and Ctrl-C stops all three.

Usage: python3 tests/python/first_run.py path/to/dir-holding-rill-server-and-rill

The script runs with RILL_BIN_DIR (no build), and RILL_BASE_PORT and RILL_DATA_DIR so that it
cannot touch a cluster of the user's own.
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from seeds import free_base

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, "deploy", "local", "run.sh")
READY = "stop all three nodes with Ctrl-C"


def start_up(bin_dir, data_dir, base):
    """Runs the script until it says the cluster is running; returns (process, its output)."""
    env = dict(os.environ, RILL_BIN_DIR=bin_dir, RILL_DATA_DIR=data_dir,
               RILL_BASE_PORT=str(base))
    proc = subprocess.Popen(["bash", SCRIPT], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=env, start_new_session=True)
    lines = []
    deadline = time.time() + 90
    while time.time() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if READY in line:
            return proc, "".join(lines)
    proc.kill()
    raise AssertionError("the script did not reach its prompt:\n" + "".join(lines))


def stop(proc):
    """Ctrl-C, as a user at the terminal sends it; the script stops all three nodes."""
    os.killpg(proc.pid, signal.SIGINT)
    rest, _ = proc.communicate(timeout=30)
    assert "rill stopped (all three nodes)" in rest, rest
    return rest


def check(output, entries, base):
    # Run again, the demo's XGROUP CREATE finds its group: Redis's BUSYGROUP, shown and passed.
    output = "\n".join(l for l in output.split("\n") if "BUSYGROUP" not in l)
    assert "TRYAGAIN" not in output and "ERR" not in output and "error" not in output, output
    # Each node answers XLEN with every entry written so far.
    for node in (1, 2, 3):
        prompt = f"[node {node}]> XLEN sensor_stream\n"
        assert prompt in output, output
        answer = output.split(prompt, 1)[1].splitlines()[0]
        assert answer == f"(integer) {entries}", (node, answer, output)
    # Both XADDs answered with an ID, and the consumer got an entry.
    assert len(re.findall(r'^"\d+-\d+"$', output, re.M)) >= 2, output
    assert "consumer_1" in output, output
    # `rill cluster status` lists the three nodes at the ports they were given.
    status = output.split("$ rill cluster status", 1)[1]
    for node in (1, 2, 3):
        assert f"127.0.0.1:{base + 1000 + node - 1}" in status, status


def main():
    bin_dir = os.path.abspath(sys.argv[1])
    if shutil.which("redis-cli") is None:
        # The demo talks through redis-cli; without it there is nothing to check.
        if os.environ.get("RILL_REQUIRE_REDIS") == "1":
            print("FAIL redis-cli not found (apt-get install -y redis-tools)")
            sys.exit(1)
        print("SKIPPED: run.sh's demo (redis-cli not found; apt-get install -y redis-tools)")
        return
    base = free_base()
    failed = False
    with tempfile.TemporaryDirectory() as data_dir:
        for run, entries in (("a fresh data directory", 2), ("the same data again", 4)):
            proc, output = start_up(bin_dir, data_dir, base)
            try:
                check(output, entries, base)
                print(f"PASS run.sh on {run}")
            except AssertionError as e:
                print(f"FAIL run.sh on {run}: {e}")
                failed = True
            finally:
                stop(proc)
            if failed:
                break
    print("1 passed, 0 failed" if not failed else "0 passed, 1 failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
