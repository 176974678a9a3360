"""Unchanged redis-py clients through the leader's death: a Sentinel producer, a RedisCluster
producer and a consumer group blocked in XREADGROUP, while the leader of a three-node cluster
(default Raft settings) is killed with SIGKILL several times and started again.

For each kill it prints how long each client waited, from the kill to the acknowledgement of
its first XADD sent after the kill (or, for the consumer, to the first entry delivered by a
read sent after the kill; a reply already on its way when the leader died would hide the
pause), and asserts that the median is under 1 s
and the maximum under 1.5 s. The producers mark each XADD with IDMPAUTO and retry it until it
is acknowledged, as a user would; at the end every acknowledged entry is in the stream exactly
once, the consumer has read and acknowledged all of them, and nothing is pending.

Usage: python3 tests/python/failover.py path/to/rill-server
"""

import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import redis
from redis.cluster import RedisCluster
from redis.sentinel import Sentinel

from seeds import free_base

KILLS = 4
MEDIAN_MAX = 1.0
MAX = 1.5
# Errors a client sees while the cluster elects a leader; the loops below retry on them.
PASSING = (redis.ConnectionError, redis.TimeoutError, redis.ResponseError,
           redis.exceptions.ClusterError, redis.exceptions.SlotNotCoveredError)


class Cluster:
    """Three nodes on fixed ports, as deploy/local/run.sh starts them, so that a killed node
    comes back at its address."""

    def __init__(self, binary, root):
        self.binary, self.root = binary, root
        base = free_base()
        self.redis_ports = [base + i for i in range(3)]
        self.grpc_ports = [base + 1000 + i for i in range(3)]
        self.procs = {}
        for node in (1, 2, 3):
            self.start(node)

    def start(self, node):
        members = []
        for n in (1, 2, 3):
            members += ["--member", f"{n}=127.0.0.1:{self.grpc_ports[n - 1]}"
                                    f"/127.0.0.1:{self.redis_ports[n - 1]}"]
        log = open(os.path.join(self.root, f"node{node}.log"), "a")
        self.procs[node] = subprocess.Popen(
            [self.binary, "--node-id", str(node), "--bind", "127.0.0.1",
             "--port", str(self.redis_ports[node - 1]),
             "--grpc-port", str(self.grpc_ports[node - 1]),
             "--dir", os.path.join(self.root, f"node{node}")] + members,
            stdout=log, stderr=log)

    def info(self, node):
        try:
            r = redis.Redis(port=self.redis_ports[node - 1], socket_timeout=1)
            return r.info("replication")
        except (redis.ConnectionError, redis.TimeoutError):
            return {}

    def wait_formed(self, timeout=30):
        """Until every node follows one leader; returns it."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            infos = [self.info(n) for n in (1, 2, 3)]
            leaders = {i.get("rill_leader_id") for i in infos}
            roles = {i.get("rill_role") for i in infos}
            if len(leaders) == 1 and None not in leaders and "" not in leaders \
                    and roles <= {"leader", "follower"} and "leader" in roles:
                return int(leaders.pop())
            time.sleep(0.05)
        raise RuntimeError(f"the cluster did not form: {infos}")

    def kill(self, node):
        self.procs[node].send_signal(signal.SIGKILL)
        self.procs[node].wait(timeout=10)

    def stop(self):
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=10)


class Producer(threading.Thread):
    """XADDs n = 0, 1, 2, ... through `client`, each retried until acknowledged."""

    def __init__(self, name, client, stream):
        super().__init__(daemon=True)
        self.name, self.client, self.stream = name, client, stream
        self.acked = []  # (time acknowledged, n, id, time sent)
        self.errors = []
        self.stopping = threading.Event()

    def run(self):
        n = 0
        while not self.stopping.is_set():
            sent = time.time()
            try:
                entry_id = self.client.xadd(self.stream, {"n": n, "by": self.name},
                                            idmpauto=self.name)
            except PASSING as e:
                self.errors.append(f"{type(e).__name__}: {e}")
                time.sleep(0.01)
                continue
            self.acked.append((time.time(), n, entry_id, sent))
            n += 1
            time.sleep(0.005)


class Consumer(threading.Thread):
    """A consumer group member blocked in XREADGROUP; acknowledges what it reads."""

    def __init__(self, client, stream):
        super().__init__(daemon=True)
        self.client, self.stream = client, stream
        self.delivered = []  # (time, id, time the read that delivered it was sent)
        self.stopping = threading.Event()

    def run(self):
        # After an error, first what this consumer was delivered and did not acknowledge (a
        # reply or an XACK lost with the leader), then new entries again.
        start = "0"
        while not self.stopping.is_set():
            issued = time.time()
            try:
                got = self.client.xreadgroup("g", "c1", {self.stream: start}, count=50,
                                             block=None if start == "0" else 500)
                entries = [e for _, es in got or [] for e in es]
                if start == "0" and not entries:
                    start = ">"
                now = time.time()
                for entry_id, _ in entries:
                    self.delivered.append((now, entry_id, issued))
                if entries:
                    self.client.xack(self.stream, "g", *[entry_id for entry_id, _ in entries])
            except PASSING:
                start = "0"
                time.sleep(0.01)


def first_write_after(producer, t):
    """Seconds from t to the acknowledgement of the producer's first write sent after t. A
    write sent before the kill and acknowledged just after it says nothing of the pause."""
    later = [acked for acked, _, _, sent in list(producer.acked) if sent > t]
    return later[0] - t if later else None


def first_delivery_after(consumer, t):
    """Seconds from t to the first delivery by a read the consumer sent after t. (Not the first
    delivery of an entry written after t: that would time the consumer's backlog, if it had
    one, not the failover.)"""
    later = [d for d, _, issued in list(consumer.delivered) if issued > t]
    return later[0] - t if later else None


def main():
    binary = sys.argv[1]
    root = tempfile.mkdtemp(prefix="rill-failover-")
    cluster = Cluster(binary, root)
    failed = []
    try:
        cluster.wait_formed()
        addrs = [("127.0.0.1", p) for p in cluster.redis_ports]
        sentinel = Sentinel(addrs)
        master = sentinel.master_for("rill", decode_responses=True)
        master.xgroup_create("failover", "g", id="0", mkstream=True)
        rc = RedisCluster(host="127.0.0.1", port=cluster.redis_ports[0], decode_responses=True)
        consumer_client = sentinel.master_for("rill", decode_responses=True)
        producers = [Producer("sentinel", master, "failover"),
                     Producer("cluster", rc, "failover")]
        consumer = Consumer(consumer_client, "failover")
        for t in producers + [consumer]:
            t.start()
        waits = {"sentinel": [], "cluster": [], "consumer": []}
        for kill in range(KILLS):
            time.sleep(1.0)
            leader = cluster.wait_formed()
            killed_at = time.time()
            cluster.kill(leader)
            deadline = time.time() + 10
            while time.time() < deadline and (
                    any(first_write_after(p, killed_at) is None for p in producers)
                    or first_delivery_after(consumer, killed_at) is None):
                time.sleep(0.01)
            for p in producers:
                waits[p.name].append(first_write_after(p, killed_at))
            waits["consumer"].append(first_delivery_after(consumer, killed_at))
            print(f"kill {kill + 1} (node {leader}): " + ", ".join(
                f"{name} {w[-1]:.3f} s" if w[-1] is not None else f"{name} none"
                for name, w in waits.items()), flush=True)
            cluster.start(leader)
        cluster.wait_formed()
        time.sleep(0.5)
        for p in producers:
            p.stopping.set()
            p.join(timeout=30)
        # Everything acknowledged is in the stream once, and the consumer drains it.
        r = redis.Redis(port=cluster.redis_ports[cluster.wait_formed() - 1],
                        decode_responses=True)
        acked = {entry_id for p in producers for _, _, entry_id, _ in p.acked}
        stream = r.xrange("failover")
        ids = [entry_id for entry_id, _ in stream]
        marks = [(f["by"], f["n"]) for _, f in stream]
        if not acked <= set(ids):
            failed.append(f"acknowledged entries lost: {sorted(acked - set(ids))[:5]}")
        if len(marks) != len(set(marks)):
            failed.append(f"{len(marks) - len(set(marks))} duplicate entries")
        deadline = time.time() + 20
        while time.time() < deadline and len({i for _, i, _ in consumer.delivered}) < len(ids):
            time.sleep(0.05)
        consumer.stopping.set()
        consumer.join(timeout=30)
        missing = set(ids) - {i for _, i, _ in consumer.delivered}
        if missing:
            first = sorted(missing)[:3]
            failed.append(f"the consumer did not read {len(missing)} entries, as "
                          f"{first}: {r.xpending_range('failover', 'g', first[0], '+', 3)}, "
                          f"{r.xinfo_groups('failover')}")
        pending = r.xpending("failover", "g")["pending"]
        if pending != 0:
            failed.append(f"{pending} entries still pending")
        for name, w in waits.items():
            if None in w:
                failed.append(f"{name}: no progress within 10 s of a kill")
                continue
            median, worst = statistics.median(w), max(w)
            print(f"{name}: median {median:.3f} s, max {worst:.3f} s over {len(w)} kills")
            if median >= MEDIAN_MAX or worst >= MAX:
                failed.append(f"{name}: median {median:.3f} s, max {worst:.3f} s")
        print(f"{len(ids)} entries, {sum(len(p.acked) for p in producers)} acknowledged")
    finally:
        cluster.stop()
    for f in failed:
        print(f"FAIL {f}")
    if failed:
        print(f"node logs in {root}")
        print("0 passed, 1 failed")
        sys.exit(1)
    shutil.rmtree(root, ignore_errors=True)
    print("PASS failover\n1 passed, 0 failed")


if __name__ == "__main__":
    main()
