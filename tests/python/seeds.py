"""The seed articles' redis-py and walrus code, run unchanged in spirit against a Rill node.

Usage: python3 tests/python/seeds.py path/to/rill-server

Starts the server on 127.0.0.1 with a port it picks and a temporary data directory, runs each
article's producer and consumer-group flow with bounded loops, checks what a user would check,
and stops the server. Exits non-zero on the first failure. Prints 'N passed, 0 failed' at the end.
"""

import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time

import redis
from redis.cluster import RedisCluster
from redis.sentinel import Sentinel
from walrus import Database


FAST_RAFT = ["--heartbeat-ms", "50", "--election-timeout-ms-min", "300",
             "--election-timeout-ms-max", "600"]


def start_server(binary, data_dir, node_id=1, join_via=None, extra=()):
    """Starts one node on ports it picks; returns (process, host, redis port, grpc address)."""
    args = [binary, "--node-id", str(node_id), "--bind", "127.0.0.1", "--port", "0",
            "--grpc-port", "0", "--dir", data_dir, "--no-fsync"] + FAST_RAFT + list(extra)
    if join_via:
        args += ["--join-via", join_via]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    deadline = time.time() + 30
    host = port = None
    while time.time() < deadline:
        line = proc.stdout.readline()
        if line.startswith("listening on "):
            host, port = line.split()[-1].rsplit(":", 1)
        if line.startswith("grpc on ") and port:
            return proc, host, int(port), line.split()[-1]
    proc.kill()
    raise RuntimeError("rill-server did not start")


def free_base():
    """A base port whose three ports and the three 1000 above them are all free on 127.0.0.1:
    Redis protocol ports base..base+2 and gRPC ports base+1000.., as deploy/local/run.sh lays
    them out."""
    def free(port):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                return True
            except OSError:
                return False
    for _ in range(100):
        base = random.randrange(20000, 40000)
        if all(free(base + i) and free(base + 1000 + i) for i in range(3)):
            return base
    raise RuntimeError("no free ports")


def replication(host, port):
    r = redis.Redis(host=host, port=port, decode_responses=True)
    return r.info("replication")


def start_cluster(binary, root):
    """Node 1 forms a cluster; nodes 2 and 3 join through it. Returns [(proc, host, port)]."""
    first = start_server(binary, os.path.join(root, "n1"))
    nodes = [first]
    for node_id in (2, 3):
        nodes.append(start_server(binary, os.path.join(root, f"n{node_id}"), node_id, first[3]))
    deadline = time.time() + 30
    while time.time() < deadline:
        info = replication(first[1], first[2])
        if info.get("connected_slaves") == 2 and all(
                replication(n[1], n[2]).get("rill_leader_id") == 1 for n in nodes):
            return [(n[0], n[1], n[2]) for n in nodes]
        time.sleep(0.1)
    raise RuntimeError("the cluster did not form")


def redis_cluster_client(nodes):
    """redis-py's RedisCluster, started from a follower, finds the leader via CLUSTER SLOTS."""
    _, host, port = nodes[-1]
    rc = RedisCluster(host=host, port=port)
    entry_id = rc.xadd("cluster_client", {"a": 1})
    assert rc.xlen("cluster_client") == 1
    assert rc.xrange("cluster_client")[0][0] == entry_id
    rc.close()


def sentinel_failover(nodes):
    """redis-py's Sentinel, given the three nodes, follows the leader when it dies."""
    sentinel = Sentinel([(host, port) for _, host, port in nodes], socket_timeout=2)
    master = sentinel.master_for("rill", socket_timeout=2, retry_on_timeout=True)
    first = master.xadd("failover", {"n": 1})
    leader = [n for n in nodes if replication(n[1], n[2]).get("role") == "master"][0]
    leader[0].kill()
    leader[0].wait(timeout=10)
    survivors = [n for n in nodes if n is not leader]
    deadline = time.time() + 30
    while True:
        try:
            second = master.xadd("failover", {"n": 2})
            break
        except (redis.ConnectionError, redis.TimeoutError, redis.ReadOnlyError,
                redis.exceptions.TryAgainError, redis.ResponseError) as e:
            if time.time() > deadline:
                raise RuntimeError(f"no failover: {e}")
            time.sleep(0.1)
    assert second > first, (first, second)
    entries = redis.Redis(host=survivors[0][1], port=survivors[0][2]).xrange("failover")
    ids = [entry_id for entry_id, _ in entries]
    assert first in ids and second in ids, ids


def seed_one_sensor_stream(host, port):
    """Article 1: a sensor producer and a consumer group reading one entry at a time."""
    r = redis.Redis(host=host, port=port, db=0)
    stream_name, group_name, consumer_name = "sensor_stream", "my_group", "consumer_1"
    sent = []
    for i in range(20):
        data = {"sensor_id": i % 10 + 1, "temperature": round(15.0 + i / 2, 1), "humidity": 40 + i}
        sent.append(r.xadd(stream_name, data))
    r.xgroup_create(stream_name, group_name, id="0", mkstream=True)
    try:
        r.xgroup_create(stream_name, group_name, id="0", mkstream=True)
        raise AssertionError("second XGROUP CREATE must fail")
    except redis.exceptions.ResponseError as e:
        assert str(e) == "BUSYGROUP Consumer Group name already exists", str(e)
    acked = []
    for _ in range(40):
        response = r.xreadgroup(groupname=group_name, consumername=consumer_name,
                                streams={stream_name: ">"}, count=1, block=500)
        if not response:
            break
        stream, messages = response[0]
        for message_id, message_data in messages:
            assert message_data[b"sensor_id"], message_data
            assert r.xack(stream_name, group_name, message_id) == 1
            acked.append(message_id)
    assert acked == sent, (acked, sent)
    assert r.xpending(stream_name, group_name)["pending"] == 0


def seed_two_event_processing(host, port):
    """Article 2: orders events, XREAD with $, a group of consumers, XAUTOCLAIM, XPENDING, XTRIM, XINFO."""
    r = redis.Redis(host=host, port=port, decode_responses=True)

    def produce_event(stream, event_type, data):
        entry = {"type": event_type, "data": json.dumps(data), "timestamp": str(time.time())}
        return r.xadd(stream, entry)

    produce_event("orders", "order.created", {"order_id": "o1", "total": 49.99})
    produce_event("orders", "order.created", {"order_id": "o2", "total": 129.00})
    produce_event("orders", "order.shipped", {"order_id": "o1", "carrier": "FedEx"})

    # simple_consumer: XREAD from '$' blocks until a new event arrives.
    later = threading.Timer(0.3, lambda: produce_event("orders", "order.created", {"order_id": "o3", "total": 5}))
    later.start()
    messages = r.xread(streams={"orders": "$"}, count=10, block=5000)
    later.join()
    assert messages and json.loads(messages[0][1][0][1]["data"])["order_id"] == "o3", messages

    try:
        r.xgroup_create("orders", "order-processors", id="0", mkstream=True)
    except redis.exceptions.ResponseError as e:
        assert "BUSYGROUP" in str(e)

    # group_consumer: worker-a takes five and crashes before acking; worker-b processes the rest.
    crashed = r.xreadgroup(groupname="order-processors", consumername="worker-a",
                           streams={"orders": ">"}, count=2, block=5000)
    assert len(crashed[0][1]) == 2
    processed = []
    while True:
        got = r.xreadgroup(groupname="order-processors", consumername="worker-b",
                           streams={"orders": ">"}, count=5, block=200)
        if not got:
            break
        for stream_name, entries in got:
            for message_id, fields in entries:
                assert fields["type"].startswith("order."), fields
                r.xack("orders", "order-processors", message_id)
                processed.append(message_id)
    assert len(processed) == 2, processed

    # check_pending: the crashed worker's two entries are pending.
    pending = r.xpending("orders", "order-processors")
    assert pending["pending"] == 2 and pending["consumers"][0]["name"] == "worker-a", pending
    details = r.xpending_range("orders", "order-processors", min="-", max="+", count=10)
    assert [d["consumer"] for d in details] == ["worker-a", "worker-a"], details
    assert all(d["times_delivered"] == 1 for d in details), details

    # claim_stale_messages: after the idle time, worker-b reclaims and processes them.
    time.sleep(0.25)
    next_id, claimed, deleted = r.xautoclaim(name="orders", groupname="order-processors",
                                             consumername="worker-b", min_idle_time=200,
                                             start_id="0-0", count=10)
    assert next_id == "0-0" and len(claimed) == 2 and deleted == [], (next_id, claimed, deleted)
    for message_id, fields in claimed:
        r.xack("orders", "order-processors", message_id)
    assert r.xpending("orders", "order-processors")["pending"] == 0

    # trim_stream and stream_info.
    r.xtrim("orders", maxlen=10000, approximate=True)
    info = r.xinfo_stream("orders")
    assert info["length"] == 4 and info["groups"] == 1, info
    assert info["first-entry"][1]["type"] == "order.created", info
    assert info["last-entry"][1]["data"], info


def seed_three_walrus(host, port):
    """Article 3: walrus Stream.add from several sensors, a consumer group read and ack."""
    rdb = Database(host=host, port=port)
    stream_key = "app:event"
    stream = rdb.Stream(stream_key)
    ids = [stream.add({"sensor_id": sensor, "temp": 0.5, "humidity": 0.25})
           for sensor in ("sensor1", "sensor2", "sensor3")]
    cg = rdb.consumer_group("cg-app", [stream_key], consumer="consumer-1")
    cg.create()
    seen = []
    for _ in range(10):
        streams = cg.read(1, block=500)
        if not streams:
            break
        for stream_id, messages in streams:
            for message_id, message in messages:
                assert message[b"sensor_id"].startswith(b"sensor"), message
                cg.streams[stream_key].ack(message_id)
                seen.append(message_id)
    assert seen == ids, (seen, ids)
    assert rdb.xpending(stream_key, "cg-app")["pending"] == 0


def tls_with_a_password(host, port, ca):
    """redis-py over TLS (ssl=True) with AUTH: a consumer group's round trip; a plain
    connection and a wrong password are refused."""
    r = redis.Redis(host=host, port=port, ssl=True, ssl_ca_certs=ca, password="tls-pw",
                    decode_responses=True)
    first = r.xadd("secure", {"reading": "1"})
    r.xadd("secure", {"reading": "2"})
    r.xgroup_create("secure", "g", id="0")
    got = r.xreadgroup("g", "c", {"secure": ">"}, count=10)
    ids = [entry_id for entry_id, _ in got[0][1]]
    assert ids[0] == first and len(ids) == 2, got
    assert r.xack("secure", "g", *ids) == 2
    assert r.xpending("secure", "g")["pending"] == 0
    try:
        redis.Redis(host=host, port=port, password="tls-pw", socket_timeout=2).ping()
        raise AssertionError("a plain connection was served")
    except (redis.ConnectionError, redis.TimeoutError):
        pass
    try:
        redis.Redis(host=host, port=port, ssl=True, ssl_ca_certs=ca, password="wrong").ping()
        raise AssertionError("a wrong password was accepted")
    except redis.AuthenticationError:
        pass


def stop(nodes):
    """Stops the nodes of start_cluster that are still running."""
    for proc, _, _ in nodes:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=10)


def report(results):
    """Prints the count of passed and failed checks and exits non-zero if any failed."""
    passed = sum(results)
    failed = len(results) - passed
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


def run(name, check, *args):
    try:
        check(*args)
        print(f"PASS {name}")
        return True
    except Exception as e:  # report every seed, then fail
        print(f"FAIL {name}: {type(e).__name__}: {e}")
        return False


def on_one_node(binary, checks):
    """Runs each check(host, port) against one node; returns the results."""
    results = []
    with tempfile.TemporaryDirectory() as data_dir:
        proc, host, port, _ = start_server(binary, data_dir)
        try:
            for check in checks:
                results.append(run(f"{check.__name__} (one node)", check, host, port))
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    return results


def via_a_follower(nodes, checks):
    """Runs each check(host, port) against a follower of start_cluster's cluster (which
    forwards writes to the leader); returns the results."""
    follower = [n for n in nodes if replication(n[1], n[2]).get("role") == "slave"][0]
    return [run(f"{check.__name__} (via a follower)", check, follower[1], follower[2])
            for check in checks]


def on_a_node_and_a_follower(binary, checks):
    """on_one_node, then via_a_follower of a fresh three-node cluster; reports and exits."""
    results = on_one_node(binary, checks)
    with tempfile.TemporaryDirectory() as root:
        nodes = start_cluster(binary, root)
        try:
            results += via_a_follower(nodes, checks)
        finally:
            stop(nodes)
    report(results)


def main():
    binary = sys.argv[1]
    checks = [seed_one_sensor_stream, seed_two_event_processing, seed_three_walrus]
    results = on_one_node(binary, checks)
    # TLS with a password; the certificates from `rill dev certs`, built next to rill-server.
    with tempfile.TemporaryDirectory() as root:
        cli = os.path.join(os.path.dirname(binary), "rill")
        certs = os.path.join(root, "certs")
        subprocess.run([cli, "dev", "certs", certs], check=True, stdout=subprocess.DEVNULL)
        tls = ["--requirepass", "tls-pw",
               "--tls-cert-file", os.path.join(certs, "node.pem"),
               "--tls-key-file", os.path.join(certs, "node-key.pem"),
               "--tls-ca-cert-file", os.path.join(certs, "ca.pem")]
        proc, host, port, _ = start_server(binary, os.path.join(root, "data"), extra=tls)
        try:
            results.append(run("tls_with_a_password", tls_with_a_password, host, port,
                               os.path.join(certs, "ca.pem")))
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    # The same code, unchanged, against a follower of a three-node cluster (it forwards to the
    # leader), then redis-py's Sentinel client through the leader's death.
    with tempfile.TemporaryDirectory() as root:
        nodes = start_cluster(binary, root)
        try:
            results += via_a_follower(nodes, checks)
            results.append(run("redis_cluster_client", redis_cluster_client, nodes))
            results.append(run("sentinel_failover", sentinel_failover, nodes))
        finally:
            stop(nodes)
    report(results)


if __name__ == "__main__":
    main()
