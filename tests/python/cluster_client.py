"""Every stream method of redis-py 8.1, through RedisCluster started from each node of a
three-node cluster, through a plain Redis client of each node, and through a Sentinel master;
then COMMAND's key specs, COMMAND DOCS's argument trees and COMMAND GETKEYS compared with a
real redis-server.

RedisCluster sends COMMAND at start and asks COMMAND GETKEYS for commands whose keys move
(XREAD, XREADGROUP); it needs the subcommands' key specs to route XGROUP and XINFO. Without
them its xread, xreadgroup and xgroup_create fail before anything is sent.

Usage: python3 tests/python/cluster_client.py path/to/rill-server
Needs redis-server on PATH for the comparison, unless RILL_REQUIRE_REDIS is unset (then that
part is skipped, loudly).
"""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import redis
from redis.cluster import RedisCluster
from redis.sentinel import Sentinel

from seeds import report, run, start_cluster, stop


def every_stream_method(r, tag):
    """Calls each stream method redis-py has and checks its answer. Keys share
    the hash tag `{tag}`, so multi-key reads stay in one slot for RedisCluster."""
    a, b = f"{{{tag}}}:a", f"{{{tag}}}:b"
    r.delete(a, b)
    first = r.xadd(a, {"n": 1}, id="1-0")
    assert first == "1-0", first
    assert r.xadd(a, {"n": 2}, id="2-0", maxlen=10, approximate=False) == "2-0"
    assert r.xadd(b, {"n": 1}, id="1-0") == "1-0"
    assert r.xadd(f"{{{tag}}}:none", {"n": 1}, nomkstream=True) is None
    assert r.xadd(a, {"n": 3}, id="3-0", minid="0", ref_policy="KEEPREF") == "3-0"
    once = r.xadd(a, {"n": 4}, idmpauto="producer-1")
    assert r.xadd(a, {"n": 4}, idmpauto="producer-1") == once, "IDMPAUTO: the same ID"
    assert r.xadd(a, {"n": 5}, idmp=("producer-2", b"m-1")) == r.xadd(
        a, {"n": 5}, idmp=("producer-2", b"m-1"))
    assert r.xcfgset(a, idmp_duration=100, idmp_maxsize=100) == "OK"
    assert r.xlen(a) == 5
    assert [e[0] for e in r.xrange(a, "-", "+", count=2)] == ["1-0", "2-0"]
    assert [e[0] for e in r.xrevrange(a, "+", "-", count=1)] == [r.xrange(a)[-1][0]]
    read = r.xread({a: "0", b: "0"}, count=1)
    assert [(k, [e[0] for e in es]) for k, es in read] == [(a, ["1-0"]), (b, ["1-0"])], read
    assert r.xread({b: "$"}, block=50) == []

    assert r.xgroup_create(a, "g", id="0") is True
    assert r.xgroup_create(b, "g", id="0") is True
    assert r.xgroup_create(f"{{{tag}}}:made", "g", id="$", mkstream=True) is True
    assert r.xgroup_createconsumer(a, "g", "idle") == 1
    got = r.xreadgroup("g", "c1", {a: ">", b: ">"}, count=2)
    assert [(k, [e[0] for e in es]) for k, es in got] == [(a, ["1-0", "2-0"]), (b, ["1-0"])]
    assert r.xreadgroup("g", "c1", {b: ">"}, block=50) == []
    summary = r.xpending(a, "g")
    assert summary["pending"] == 2 and summary["min"] == "1-0", summary
    rows = r.xpending_range(a, "g", "-", "+", 10, consumername="c1", idle=0)
    assert [row["message_id"] for row in rows] == ["1-0", "2-0"], rows
    assert r.xclaim(a, "g", "c2", 0, ["1-0"], justid=True) == ["1-0"]
    # With justid, redis-py keeps only the claimed IDs of XAUTOCLAIM's reply.
    claimed = r.xautoclaim(a, "g", "c3", 0, start_id="0-0", count=1, justid=True)
    assert claimed == ["1-0"], claimed
    # XREADGROUP ... CLAIM (8.4): the longest idle pending entry comes first (2-0: XAUTOCLAIM
    # has just delivered 1-0 again), with its idle time and delivery count.
    again = r.xreadgroup("g", "c4", {a: ">"}, count=1, claim_min_idle_time=0)
    entry_id, _, idle, deliveries = again[0][1][0]
    assert (entry_id, deliveries) == ("2-0", 1) and idle >= 0, again
    assert r.xnack(a, "g", "FAIL", "2-0") == 1
    assert r.xpending_range(a, "g", "-", "+", 10)[1]["consumer"] == ""
    assert r.xack(a, "g", "2-0") == 1
    assert r.xackdel(a, "g", "1-0", ref_policy="DELREF") == [1]
    info = r.xinfo_stream(a)
    assert info["length"] == 4 and info["groups"] == 1, info
    full = r.xinfo_stream(a, full=True)
    assert full["groups"][0]["name"] == "g", full
    groups = r.xinfo_groups(a)
    assert [g["name"] for g in groups] == ["g"], groups
    consumers = {c["name"] for c in r.xinfo_consumers(a, "g")}
    assert consumers == {"idle", "c1", "c2", "c3", "c4"}, consumers
    assert r.xgroup_delconsumer(a, "g", "idle") == 0
    assert r.xgroup_setid(a, "g", "0", entries_read=0) is True
    assert r.xdel(a, "3-0") == 1
    assert r.xdelex(a, "3-0", "9-0") == [-1, -1]
    assert r.xtrim(a, maxlen=1, approximate=False) == 2
    assert r.xtrim(a, minid="0-1") == 0
    assert r.xgroup_destroy(b, "g") == 1
    assert r.delete(a, b, f"{{{tag}}}:made") == 3


def through_redis_cluster(nodes):
    for i, (_, host, port) in enumerate(nodes):
        rc = RedisCluster(host=host, port=port, decode_responses=True)
        try:
            every_stream_method(rc, f"rc{i}")
        finally:
            rc.close()


def through_each_node(nodes):
    for i, (_, host, port) in enumerate(nodes):
        every_stream_method(redis.Redis(host=host, port=port, decode_responses=True),
                            f"node{i}")


def through_sentinel(nodes):
    sentinel = Sentinel([(host, port) for _, host, port in nodes], socket_timeout=2)
    every_stream_method(sentinel.master_for("rill", decode_responses=True), "sentinel")


# ---- COMMAND compared with a real Redis ---------------------------------------------------

# Arguments whose keys both answer the same way (or with the same error).
GETKEYS = [
    "xread count 2 streams a b 0 0", "xread streams a b 0", "xread streams",
    "xread count 1 a", "xread block 0 streams streams 0",
    "xreadgroup group g c streams s1 s2 > >", "xreadgroup group g c count 1 noack streams s 0",
    "xgroup create s g $ mkstream", "xgroup setid s g 0", "xgroup destroy s g",
    "xgroup createconsumer s g c", "xgroup delconsumer s g c", "xgroup help",
    "xgroup nosuch a b", "xinfo stream s full", "xinfo groups s", "xinfo consumers s g",
    "xinfo help", "xadd s * f v", "xadd s", "xlen s", "xlen a b", "xrange s - +",
    "xrevrange s + -", "xack s g 1-0", "xpending s g", "xclaim s g c 0 1-0",
    "xautoclaim s g c 0 0", "xdel s 1-0", "xtrim s maxlen 1", "xsetid s 1-0",
    "del a b c", "exists a b", "type a", "keys *", "scan 0", "watch a b", "ping x",
    "nosuch a", "multi x", "info server", "client list", "client nosuch x",
]


# Subcommands added after Redis 7.0 (CLIENT SETINFO and NO-TOUCH came in 7.2).
NEWER_SUBCOMMANDS = {"client|setinfo", "client|no-touch"}


# COMMAND DOCS: Rill documents Redis 8.8's argument trees. Redis 7.2 added `display_text` to
# every argument (dropped before comparing) and renamed many arguments so that names are unique
# among siblings (redis/redis#11051): these commands' trees are compared without the names.
DOCS_RENAMED_IN_7_2 = {
    "xclaim", "xsetid", "hello", "flushall", "flushdb", "xgroup|create", "xgroup|setid",
    "xgroup|destroy", "xgroup|createconsumer", "xgroup|delconsumer", "xinfo|consumers",
    "client|unblock", "config|set", "function|flush",
}
# Commands whose arguments (or doc flags) changed after Redis 7.0: only `since` and `group` are
# compared.
DOCS_CHANGED_AFTER_7_0 = {
    "xadd": "8.2 added KEEPREF|DELREF|ACKED, 8.6 IDMPAUTO|IDMP (7.2 renamed the rest)",
    "xtrim": "8.2 added KEEPREF|DELREF|ACKED to the trim block",
    "xreadgroup": "8.4 added CLAIM min-idle-time (7.2 renamed the rest)",
    "xinfo|stream": "7.2 made FULL a pure token in a block with COUNT",
    "client|list": "7.2 made ID a multiple integer in place of a block",
    "client|kill": "7.4 added MAXAGE (7.2 renamed the rest)",
    "config|get": "7.2 made the parameter a multiple string in place of a block",
    "command|getkeys": "7.2 documented its arguments (7.0 lists none)",
    "command|getkeysandflags": "7.2 documented its arguments (7.0 lists none)",
    "quit": "deprecated in 7.2 (doc_flags, deprecated_since, replaced_by)",
}


def as_map(reply):
    """A map reply as a dict, whichever protocol carried it (RESP2: key, value, ...)."""
    return reply if isinstance(reply, dict) else dict(zip(reply[0::2], reply[1::2]))


def docs_compared(name, reply):
    """The parts of a COMMAND DOCS map compared with Redis 7.0: not the summary, complexity or
    history (Rill's own words, or left out), nor the subcommands (compared each by name)."""
    doc = as_map(reply)
    fields = ["since", "group"]
    if name not in DOCS_CHANGED_AFTER_7_0:
        fields += ["doc_flags", "deprecated_since", "replaced_by", "arguments"]
    kept = {field: doc[field] for field in fields if field in doc}
    if "arguments" in kept:
        kept["arguments"] = [argument_compared(a, name not in DOCS_RENAMED_IN_7_2)
                             for a in kept["arguments"]]
    return kept


def argument_compared(reply, with_name):
    arg = dict(as_map(reply))
    arg.pop("display_text", None)
    if not with_name:
        arg.pop("name")
    if "arguments" in arg:
        arg["arguments"] = [argument_compared(a, with_name) for a in arg["arguments"]]
    return arg


def compare_docs(ours, theirs, names):
    """COMMAND DOCS of each name both serve, and of each subcommand inside its container's
    docs. Returns how many names were compared."""
    compared = 0
    for name in names:
        reference = as_map(call(theirs, "COMMAND", "DOCS", name))
        if not reference:
            continue
        mine = as_map(call(ours, "COMMAND", "DOCS", name))
        assert list(mine) == list(reference) == [name], (name, mine, reference)
        docs = [(name, mine[name], reference[name])]
        my_subs = as_map(as_map(mine[name]).get("subcommands", []))
        their_subs = as_map(as_map(reference[name]).get("subcommands", []))
        assert set(my_subs) - set(their_subs) <= NEWER_SUBCOMMANDS, (name, my_subs.keys())
        docs += [(sub, my_subs[sub], their_subs[sub]) for sub in my_subs if sub in their_subs]
        for sub, my_doc, their_doc in docs:
            assert docs_compared(sub, my_doc) == docs_compared(sub, their_doc), (
                f"COMMAND DOCS {sub}:\n{docs_compared(sub, my_doc)}\n"
                f"{docs_compared(sub, their_doc)}")
        compared += 1
    return compared


def call(conn, *args):
    try:
        conn.send_command(*args)
        return conn.read_response()
    except redis.ResponseError as e:
        return f"error: {e}"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def normalized(info):
    """A COMMAND INFO row with its subcommands by name (Redis lists them in hash order)."""
    if info is None:
        return None
    row = list(info)
    row[9] = {sub[0]: normalized(sub) for sub in row[9]}
    return row


def compare_with_redis(nodes):
    """COMMAND INFO and COMMAND DOCS of every command both serve, and COMMAND
    GETKEYS/GETKEYSANDFLAGS, on a node and on redis-server. Rill serves a subset of some
    containers' subcommands (CLIENT, CONFIG, CLUSTER, FUNCTION): each one it serves is
    compared, not the list. Redis 7.0 predates WAIT's 7.2 flags, a few commands and the
    argument trees named above; those are named here."""
    if shutil.which("redis-server") is None:
        if os.environ.get("RILL_REQUIRE_REDIS") == "1":
            raise RuntimeError("redis-server is not on PATH")
        print("SKIPPED: the comparison with redis-server (not on PATH)")
        return
    version = subprocess.run(["redis-server", "--version"], capture_output=True,
                             text=True).stdout
    newer = {"wait"} if " v=7.0." in version or " v=7.1." in version else set()
    port = free_port()
    with tempfile.TemporaryDirectory() as d:
        proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                                 "--save", "", "--dir", d], stdout=subprocess.DEVNULL)
        try:
            ours = redis.Connection(host=nodes[0][1], port=nodes[0][2], decode_responses=True)
            theirs = redis.Connection(host="127.0.0.1", port=port, decode_responses=True)
            deadline = time.time() + 10
            while True:
                try:
                    theirs.connect()
                    break
                except redis.ConnectionError:
                    if time.time() > deadline:
                        raise
                    time.sleep(0.05)
            names = call(ours, "COMMAND", "LIST")
            compared = 0
            for name in names:
                mine = normalized(call(ours, "COMMAND", "INFO", name)[0])
                reference = normalized(call(theirs, "COMMAND", "INFO", name)[0])
                if reference is None or name in newer:
                    continue
                if mine[9]:
                    missing = set(mine[9]) - set(reference[9])
                    assert missing <= NEWER_SUBCOMMANDS, (name, missing)
                    mine[9] = {k: v for k, v in mine[9].items() if k in reference[9]}
                    reference[9] = {k: v for k, v in reference[9].items() if k in mine[9]}
                assert mine == reference, f"COMMAND INFO {name}:\n{mine}\n{reference}"
                compared += 1
            assert compared >= 60, compared
            documented = compare_docs(ours, theirs, names)
            assert documented >= 80, documented
            for line in GETKEYS:
                for sub in ("GETKEYS", "GETKEYSANDFLAGS"):
                    args = ["COMMAND", sub] + line.split()
                    assert call(ours, *args) == call(theirs, *args), (
                        line, call(ours, *args), call(theirs, *args))
            print(f"  COMMAND INFO of {compared} commands and subcommands, COMMAND DOCS of "
                  f"{documented}, {len(GETKEYS)} GETKEYS lines: as {version.split()[2]}")
        finally:
            proc.terminate()
            proc.wait(timeout=10)


def main():
    binary = sys.argv[1]
    with tempfile.TemporaryDirectory() as root:
        nodes = start_cluster(binary, root)
        try:
            results = [
                run("every stream method through RedisCluster, started from each node",
                    through_redis_cluster, nodes),
                run("every stream method through each node", through_each_node, nodes),
                run("every stream method through a Sentinel master", through_sentinel, nodes),
                run("COMMAND INFO, DOCS and GETKEYS as redis-server answers them",
                    compare_with_redis, nodes),
            ]
        finally:
            stop(nodes)
    report(results)


if __name__ == "__main__":
    main()
