"""redis-py's transactions against Rill: its default pipeline() (MULTI ... EXEC), watch() with
WatchError, the transaction() helper, EXECABORT, DISCARD, and FLUSHALL; on one node, then
through a follower of a three-node cluster (the follower forwards EXEC to the leader).

Usage: python3 tests/python/transactions.py path/to/rill-server
"""

import sys
import time

import redis

from seeds import on_a_node_and_a_follower


def default_pipeline(host, port):
    """pipeline() is a transaction by default: its replies come back from one EXEC."""
    r = redis.Redis(host=host, port=port, decode_responses=True)
    r.delete("tx:pipe")
    with r.pipeline() as p:
        p.xadd("tx:pipe", {"n": 1}, id="1-1")
        p.xadd("tx:pipe", {"n": 2}, id="1-1")  # refused inside EXEC; the others still run
        p.xlen("tx:pipe")
        results = p.execute(raise_on_error=False)
    assert results[0] == "1-1", results
    assert isinstance(results[1], redis.ResponseError), results
    assert "equal or smaller" in str(results[1]), results
    assert results[2] == 1, results
    # Raised by default, as redis-py does for Redis.
    with r.pipeline() as p:
        p.xadd("tx:pipe", {"n": 3}, id="1-1")
        try:
            p.execute()
            raise AssertionError("the failed XADD was not raised")
        except redis.ResponseError:
            pass


def watch_conflict(host, port):
    """A watched stream changed by another client makes EXEC fail with WatchError, and
    nothing of the transaction runs; unchanged, it runs."""
    r = redis.Redis(host=host, port=port, decode_responses=True)
    other = redis.Redis(host=host, port=port, decode_responses=True)
    r.delete("tx:watch")
    r.xadd("tx:watch", {"n": 0})
    with r.pipeline() as p:
        p.watch("tx:watch")
        length = p.xlen("tx:watch")  # immediate: after watch() the pipeline runs commands
        assert length == 1, length
        other.xadd("tx:watch", {"n": "other"})
        p.multi()
        p.xadd("tx:watch", {"n": "mine"})
        try:
            p.execute()
            raise AssertionError("EXEC ran although a watched key changed")
        except redis.WatchError:
            pass
    assert r.xlen("tx:watch") == 2, r.xlen("tx:watch")
    with r.pipeline() as p:
        p.watch("tx:watch")
        p.multi()
        p.xadd("tx:watch", {"n": "mine"})
        assert len(p.execute()) == 1
    assert r.xlen("tx:watch") == 3


def transaction_helper(host, port):
    """r.transaction() retries its function until EXEC runs; with a writer in the way once,
    it runs twice."""
    r = redis.Redis(host=host, port=port, decode_responses=True)
    other = redis.Redis(host=host, port=port, decode_responses=True)
    r.delete("tx:counter")
    calls = []

    def append_length(pipe):
        length = pipe.xlen("tx:counter")
        calls.append(length)
        if len(calls) == 1:
            other.xadd("tx:counter", {"n": "interloper"})
        pipe.multi()
        pipe.xadd("tx:counter", {"length_seen": length})

    r.transaction(append_length, "tx:counter")
    assert calls == [0, 1], calls
    entries = r.xrange("tx:counter")
    assert [fields for _, fields in entries] == [{"n": "interloper"}, {"length_seen": "1"}], entries


def errors_and_discard(host, port):
    """Redis's replies and errors around MULTI: a command refused while queuing aborts EXEC;
    DISCARD drops the queue; the nesting and misuse errors."""
    r = redis.Redis(host=host, port=port, decode_responses=True)
    r.delete("tx:err")
    assert r.execute_command("MULTI") == "OK"
    try:
        r.execute_command("MULTI")
        raise AssertionError("nested MULTI accepted")
    except redis.ResponseError as e:
        assert str(e) == "MULTI calls can not be nested", e
    assert r.execute_command("XADD", "tx:err", "*", "a", "1") == "QUEUED"
    try:
        r.execute_command("NOSUCHCOMMAND")
        raise AssertionError("unknown command queued")
    except redis.ResponseError as e:
        assert "unknown command" in str(e), e
    try:
        r.execute_command("XLEN")
        raise AssertionError("wrong arity queued")
    except redis.ResponseError as e:
        assert "wrong number of arguments" in str(e), e
    try:
        r.execute_command("EXEC")
        raise AssertionError("EXEC ran after queuing errors")
    except redis.exceptions.ExecAbortError as e:
        assert "Transaction discarded because of previous errors" in str(e), e
    assert r.xlen("tx:err") == 0
    assert r.execute_command("MULTI") == "OK"
    assert r.execute_command("XADD", "tx:err", "*", "a", "1") == "QUEUED"
    assert r.execute_command("DISCARD") == "OK"
    assert r.xlen("tx:err") == 0
    for command, text in [("EXEC", "EXEC without MULTI"), ("DISCARD", "DISCARD without MULTI")]:
        try:
            r.execute_command(command)
            raise AssertionError(f"{command} without MULTI accepted")
        except redis.ResponseError as e:
            assert str(e) == text, e
    # Server commands queue too, and answer in their places.
    assert r.execute_command("MULTI") == "OK"
    r.execute_command("PING")  # redis-py reads PING's reply as "is it PONG?": False here
    assert r.execute_command("XLEN", "tx:err") == "QUEUED"
    assert r.execute_command("ECHO", "hi") == "QUEUED"
    assert r.execute_command("EXEC") == ["PONG", 0, "hi"]


def flushall(host, port):
    """FLUSHALL and FLUSHDB ASYNC remove every stream, groups included."""
    r = redis.Redis(host=host, port=port, decode_responses=True)
    r.xadd("tx:flush:a", {"a": 1})
    r.xgroup_create("tx:flush:a", "g", id="0")
    r.xadd("tx:flush:b", {"b": 1})
    assert r.flushall() is True
    assert r.keys("tx:flush:*") == [], r.keys("tx:flush:*")
    r.xadd("tx:flush:a", {"a": 1})
    assert r.flushdb(asynchronous=True) is True
    # DBSIZE counts this node's own state (no read barrier): a follower has applied the flush
    # it forwarded moments after the leader acknowledged it.
    deadline = time.time() + 2
    while r.dbsize() != 0 and time.time() < deadline:
        time.sleep(0.01)
    assert r.dbsize() == 0


CHECKS = [default_pipeline, watch_conflict, transaction_helper, errors_and_discard, flushall]


def main():
    on_a_node_and_a_follower(sys.argv[1], CHECKS)


if __name__ == "__main__":
    main()
