"""Redis 8's stream commands through redis-py 8.1, as its own methods send them: XDELEX,
XACKDEL, ref_policy (KEEPREF|DELREF|ACKED) on XADD and XTRIM, IDMP and IDMPAUTO on XADD,
XCFGSET, XREADGROUP's CLAIM and XNACK; on one node, then through a follower of a three-node cluster; then an IDMP retry
after a restart and after the leader's death.

Usage: python3 tests/python/redis8.py path/to/rill-server
"""

import sys
import threading
import tempfile
import time

import redis

from seeds import on_one_node, replication, report, run, start_cluster, start_server, stop, \
    via_a_follower


def client(host, port):
    return redis.Redis(host=host, port=port, decode_responses=True)


def fill(r, key, n, groups=()):
    r.delete(key)
    for i in range(1, n + 1):
        r.xadd(key, {"n": i}, id=f"{i}-0")
    for group in groups:
        r.xgroup_create(key, group, id="0")


def pending_ids(r, key, group):
    return [p["message_id"] for p in r.xpending_range(key, group, "-", "+", 100)]


def xdelex(host, port):
    """-1 for a missing entry, 1 deleted, 2 kept while a group still refers to it; DELREF
    takes the pending entries with it."""
    r = client(host, port)
    assert r.xdelex("r8:none", "1-0", "2-0") == [-1, -1]
    fill(r, "r8:del", 4, groups=["g1", "g2"])
    r.xreadgroup("g1", "c1", {"r8:del": ">"})
    r.xreadgroup("g2", "c2", {"r8:del": ">"}, count=2)
    # g2 has not been delivered 3-0 and 4-0; g1 and g2 hold 1-0 and 2-0 pending.
    assert r.xdelex("r8:del", "1-0", "3-0", "9-0", ref_policy="ACKED") == [2, 2, 2]
    r.xack("r8:del", "g1", "1-0")
    r.xack("r8:del", "g2", "1-0")
    assert r.xdelex("r8:del", "1-0", ref_policy="ACKED") == [1]
    assert r.xdelex("r8:del", "2-0", "1-0", ref_policy="DELREF") == [1, -1]
    assert pending_ids(r, "r8:del", "g1") == ["3-0", "4-0"]
    assert pending_ids(r, "r8:del", "g2") == []
    assert r.xdelex("r8:del", "3-0") == [1]  # KEEPREF by default: g1's pending entry stays
    assert pending_ids(r, "r8:del", "g1") == ["3-0", "4-0"]
    assert r.xlen("r8:del") == 1
    try:
        r.execute_command("XDELEX", "r8:del", "IDS", "2", "4-0")
        raise AssertionError("numids past the arguments accepted")
    except redis.ResponseError as e:
        assert str(e) == "The `numids` parameter must match the number of arguments", e


def xackdel(host, port):
    """Acknowledges, then deletes as the policy allows; an ID not pending in the group is -1
    and its entry stays."""
    r = client(host, port)
    assert r.xackdel("r8:none", "g", "1-0") == [-1]
    fill(r, "r8:ackdel", 3, groups=["g1", "g2"])
    r.xreadgroup("g1", "c1", {"r8:ackdel": ">"})
    r.xreadgroup("g2", "c2", {"r8:ackdel": ">"})
    assert r.xackdel("r8:ackdel", "g1", "1-0", "2-0", ref_policy="ACKED") == [2, 2]
    assert pending_ids(r, "r8:ackdel", "g1") == ["3-0"]
    assert r.xackdel("r8:ackdel", "g2", "1-0", "2-0", ref_policy="ACKED") == [1, 1]
    assert r.xackdel("r8:ackdel", "g1", "3-0", ref_policy="DELREF") == [1]
    assert pending_ids(r, "r8:ackdel", "g2") == []
    assert r.xlen("r8:ackdel") == 0
    assert r.xackdel("r8:ackdel", "g1", "3-0") == [-1]


def trimming(host, port):
    """XADD and XTRIM with ref_policy: ACKED keeps what a group still needs, DELREF trims
    the pending entries too."""
    r = client(host, port)
    fill(r, "r8:trim", 5, groups=["g"])
    r.xreadgroup("g", "c", {"r8:trim": ">"})
    r.xack("r8:trim", "g", "1-0", "2-0", "4-0")
    assert r.xtrim("r8:trim", minid="6-0", ref_policy="ACKED") == 3
    assert [i for i, _ in r.xrange("r8:trim")] == ["3-0", "5-0"]
    r.xadd("r8:trim", {"n": 6}, id="6-0", maxlen=0, approximate=False, ref_policy="ACKED")
    assert r.xlen("r8:trim") == 3  # 6-0 is not delivered to g yet
    r.xadd("r8:trim", {"n": 7}, id="7-0", maxlen=1, approximate=False, ref_policy="DELREF")
    assert [i for i, _ in r.xrange("r8:trim")] == ["7-0"]
    assert pending_ids(r, "r8:trim", "g") == []


def in_a_transaction(host, port):
    """The new commands queue in MULTI and run inside EXEC like any other."""
    r = client(host, port)
    fill(r, "r8:tx", 2, groups=["g"])
    r.xreadgroup("g", "c", {"r8:tx": ">"})
    with r.pipeline() as p:
        p.xackdel("r8:tx", "g", "1-0")
        p.xdelex("r8:tx", "2-0", ref_policy="ACKED")
        p.xlen("r8:tx")
        assert p.execute() == [[1], [2], 1]


def idmp(host, port):
    """A repeated (pid, iid) answers the first ID and appends nothing; IDMPAUTO's iid is the
    fields in any order; XCFGSET's settings show in XINFO STREAM, and changing one forgets."""
    r = client(host, port)
    r.delete("r8:idmp")
    first = r.xadd("r8:idmp", {"n": 1}, idmp=("p1", b"req-1"))
    assert r.xadd("r8:idmp", {"n": "other"}, idmp=("p1", b"req-1")) == first
    assert r.xadd("r8:idmp", {"n": 1}, idmp=("p2", b"req-1")) != first
    auto = r.xadd("r8:idmp", {"a": 1, "b": 2}, idmpauto="p1")
    assert r.xadd("r8:idmp", {"b": 2, "a": 1}, idmpauto="p1") == auto
    assert r.xlen("r8:idmp") == 3
    info = r.xinfo_stream("r8:idmp")
    assert (info["idmp-duration"], info["idmp-maxsize"]) == (100, 100), info
    assert (info["pids-tracked"], info["iids-tracked"]) == (2, 3), info
    assert (info["iids-added"], info["iids-duplicates"]) == (3, 2), info
    assert r.xcfgset("r8:idmp", idmp_duration=60, idmp_maxsize=5) in (True, "OK")
    assert r.xadd("r8:idmp", {"n": 1}, idmp=("p1", b"req-1")) != first  # forgotten
    info = r.xinfo_stream("r8:idmp")
    assert (info["idmp-duration"], info["idmp-maxsize"], info["iids-tracked"]) == (60, 5, 1)
    try:
        r.execute_command("XADD", "r8:idmp", "IDMP", "p1", "x", "9-9", "n", "1")
        raise AssertionError("IDMP with an explicit ID accepted")
    except redis.ResponseError as e:
        assert "only with auto-generated IDs" in str(e), e


def claim(host, port):
    """XREADGROUP CLAIM (8.4): idle pending entries first, as (id, fields, idle ms, deliveries
    before this one), then new entries with 0, 0; COUNT covers both; a blocked CLAIM read
    wakes when an entry has been idle long enough, with no write to wake it."""
    r = client(host, port)
    fill(r, "r8:claim", 2, groups=["g"])
    r.xreadgroup("g", "c1", {"r8:claim": ">"}, count=1)
    assert r.xreadgroup("g", "c2", {"r8:claim": ">"}, count=1, claim_min_idle_time=60000) == \
        [["r8:claim", [("2-0", {"n": "2"}, 0, 0)]]]
    time.sleep(0.05)
    read = r.xreadgroup("g", "c2", {"r8:claim": ">"}, count=1, claim_min_idle_time=40)
    [[key, [(entry_id, fields, idle, deliveries)]]] = read
    assert (key, entry_id, fields, deliveries) == ("r8:claim", "1-0", {"n": "1"}, 1), read
    assert idle >= 40, read
    owners = {p["message_id"]: (p["consumer"], p["times_delivered"])
              for p in r.xpending_range("r8:claim", "g", "-", "+", 10)}
    assert owners == {"1-0": ("c2", 2), "2-0": ("c2", 1)}, owners
    # Nothing idle for 300 ms yet: the read blocks, then takes 2-0 (delivered before 1-0)
    # once it has been.
    started = time.monotonic()
    read = r.xreadgroup("g", "c3", {"r8:claim": ">"}, count=1, block=5000,
                        claim_min_idle_time=300)
    waited = time.monotonic() - started
    assert [(e[0], e[3]) for e in read[0][1]] == [("2-0", 1)], read
    assert 0.1 <= waited < 2.0, waited
    try:
        r.execute_command("XREADGROUP", "GROUP", "g", "c", "CLAIM", "-5", "STREAMS",
                          "r8:claim", ">")
        raise AssertionError("a negative min-idle-time accepted")
    except redis.ResponseError as e:
        assert str(e) == "min-idle-time must be a positive integer", e


def xnack(host, port):
    """XNACK (8.8): a consumer gives entries back. They stay pending, held by no one (XPENDING
    shows no consumer and an idle time of -1), their delivery count set by the mode, and any
    claim takes them first, whatever its minimum idle time; a blocked CLAIM read wakes."""
    r = client(host, port)
    fill(r, "r8:nack", 3, groups=["g"])
    r.xreadgroup("g", "c1", {"r8:nack": ">"})
    assert r.xnack("r8:nack", "g", "SILENT", "1-0") == 1
    assert r.xnack("r8:nack", "g", "FATAL", "2-0", "9-0") == 1
    assert r.xnack("r8:nack", "g", "FAIL", "3-0", retrycount=7) == 1
    rows = [(p["message_id"], p["consumer"], p["time_since_delivered"], p["times_delivered"])
            for p in r.xpending_range("r8:nack", "g", "-", "+", 10)]
    assert rows == [("1-0", "", -1, 0), ("2-0", "", -1, 2**63 - 1), ("3-0", "", -1, 7)], rows
    assert r.xinfo_consumers("r8:nack", "g")[0]["pending"] == 0
    full = r.xinfo_stream("r8:nack", full=True)["groups"][0]
    assert full["nacked-count"] == 3, full
    read = r.xreadgroup("g", "c2", {"r8:nack": ">"}, count=1, claim_min_idle_time=3_600_000)
    assert [e[0] for e in read[0][1]] == ["1-0"], read
    assert r.xclaim("r8:nack", "g", "c2", 3_600_000, ["2-0", "3-0"], justid=True) == \
        ["2-0", "3-0"]
    # Nothing is claimable and nothing new: the reader blocks until another client's XNACK.
    results = []
    reader = threading.Thread(target=lambda: results.append(client(host, port).xreadgroup(
        "g", "c3", {"r8:nack": ">"}, count=5, block=5000, claim_min_idle_time=3_600_000)))
    started = time.monotonic()
    reader.start()
    time.sleep(0.3)
    other = client(host, port)
    assert other.xnack("r8:nack", "g", "FAIL", "3-0") == 1
    reader.join(timeout=10)
    assert [e[0] for e in results[0][0][1]] == ["3-0"], results
    assert time.monotonic() - started < 4, "woken by XNACK, not by the timeout"
    assert r.xnack("r8:nack", "g", "SILENT", "4-0", force=True) == 0  # no such entry
    r.xadd("r8:nack", {"n": 4}, id="4-0")
    assert r.xnack("r8:nack", "g", "SILENT", "4-0", force=True) == 1  # undelivered, forced
    assert r.xreadgroup("g", "c4", {"r8:nack": ">"}) == [["r8:nack", [("4-0", {"n": "4"})]]]
    assert r.xpending_range("r8:nack", "g", "4-0", "4-0", 1)[0]["times_delivered"] == 1
    try:
        other.execute_command("XNACK", "r8:nack", "g", "MAYBE", "IDS", "1", "1-0")
        raise AssertionError("a bad mode accepted")
    except redis.ResponseError as e:
        # Redis 8.8 sends this error with its ERR prefix twice; redis-py strips one.
        assert str(e) == "ERR mode must be SILENT, FAIL, or FATAL", e


CHECKS = [xdelex, xackdel, trimming, in_a_transaction, idmp, claim, xnack]


def retry(action, seconds=30):
    """Runs action until it stops failing while a node starts or a leader is elected:
    connection errors, TRYAGAIN, CLUSTERDOWN and UNCERTAIN (an answer lost with a leader)."""
    transient = (redis.ConnectionError, redis.TimeoutError, redis.exceptions.TryAgainError,
                 redis.exceptions.ClusterDownError)
    deadline = time.time() + seconds
    while True:
        try:
            return action()
        except transient:
            if time.time() > deadline:
                raise
        except redis.ResponseError as e:
            if "UNCERTAIN" not in str(e) or time.time() > deadline:
                raise
        time.sleep(0.1)


def idmp_after_a_restart(binary):
    """The remembered iids are state: a node killed and started again on its data answers a
    retry with the first ID."""
    with tempfile.TemporaryDirectory() as data_dir:
        proc, host, port, _ = start_server(binary, data_dir)
        try:
            first = client(host, port).xadd("r8:restart", {"n": 1}, idmp=("p", b"r1"))
            proc.kill()
            proc.wait(timeout=10)
            proc, host, port, _ = start_server(binary, data_dir)
            again = retry(lambda: client(host, port).xadd("r8:restart", {"n": 1},
                                                          idmp=("p", b"r1")))
            assert again == first, (first, again)
            assert client(host, port).xlen("r8:restart") == 1
        finally:
            proc.kill()
            proc.wait(timeout=10)


def idmp_after_the_leaders_death(nodes):
    """A producer whose XADD went through the leader retries it on a survivor once the
    leader is killed: the new leader answers the first ID, and the stream holds one entry."""
    leader = [n for n in nodes if replication(n[1], n[2]).get("role") == "master"][0]
    first = client(leader[1], leader[2]).xadd("r8:failover", {"n": 1}, idmp=("p", b"r1"))
    leader[0].kill()
    leader[0].wait(timeout=10)
    survivor = [n for n in nodes if n is not leader][0]
    again = retry(lambda: client(survivor[1], survivor[2]).xadd(
        "r8:failover", {"n": 1}, idmp=("p", b"r1")))
    assert again == first, (first, again)
    assert retry(lambda: client(survivor[1], survivor[2]).xlen("r8:failover")) == 1


def main():
    binary = sys.argv[1]
    results = on_one_node(binary, CHECKS)
    results.append(run("idmp_after_a_restart", idmp_after_a_restart, binary))
    with tempfile.TemporaryDirectory() as root:
        nodes = start_cluster(binary, root)
        try:
            results += via_a_follower(nodes, CHECKS)
            results.append(run("idmp_after_the_leaders_death", idmp_after_the_leaders_death,
                               nodes))
        finally:
            stop(nodes)
    report(results)


if __name__ == "__main__":
    main()
