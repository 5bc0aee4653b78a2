"""Unit tests of the byte-budget LRU behind the label map cache."""

from __future__ import annotations

import threading
import time

from segmesh.service.lru import ByteBudgetLRU


def test_least_recently_used_is_evicted_first() -> None:
    lru: ByteBudgetLRU[str, bytes] = ByteBudgetLRU(10, len)
    lru.get("a", lambda: b"aaaa")
    lru.get("b", lambda: b"bbbb")
    lru.get("a", lambda: b"never loaded again")  # a is now the most recent
    lru.get("c", lambda: b"cccc")  # 12 bytes > 10: b goes
    assert "a" in lru
    assert "b" not in lru
    assert "c" in lru
    assert lru.bytes_held == 8


def test_a_hit_does_not_load() -> None:
    loads: list[str] = []

    def load() -> bytes:
        loads.append("a")
        return b"x"

    lru: ByteBudgetLRU[str, bytes] = ByteBudgetLRU(100, len)
    for _ in range(3):
        assert lru.get("a", load) == b"x"
    assert loads == ["a"]


def test_a_value_over_the_budget_is_served_not_kept() -> None:
    lru: ByteBudgetLRU[str, bytes] = ByteBudgetLRU(4, len)
    lru.get("small", lambda: b"ab")
    assert lru.get("big", lambda: b"abcdefgh") == b"abcdefgh"
    assert "big" not in lru
    assert "small" in lru


def test_discard_by_predicate() -> None:
    lru: ByteBudgetLRU[tuple[str, int], bytes] = ByteBudgetLRU(100, len)
    for key in [("x", 1), ("x", 2), ("y", 1)]:
        lru.get(key, lambda: b"123")
    assert lru.count(lambda key: key[0] == "x") == 2
    lru.discard(lambda key: key[0] == "x")
    assert len(lru) == 1
    assert lru.bytes_held == 3
    assert lru.count(lambda key: key[0] == "x") == 0
    assert lru.count(lambda key: key[0] == "y") == 1


def test_concurrent_misses_load_once() -> None:
    loads: list[int] = []

    def slow_load() -> bytes:
        loads.append(1)
        time.sleep(0.1)
        return b"value"

    lru: ByteBudgetLRU[str, bytes] = ByteBudgetLRU(100, len)
    threads = [threading.Thread(target=lru.get, args=("k", slow_load)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert loads == [1]
