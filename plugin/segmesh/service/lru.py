"""A thread-safe least-recently-used store within a byte budget."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

Key = TypeVar("Key", bound=Hashable)
Value = TypeVar("Value")


class ByteBudgetLRU(Generic[Key, Value]):
    """Values by key, the least recently used evicted first once ``max_bytes`` is exceeded.

    ``size_of`` gives a value's size in bytes. Concurrent misses on one key wait for a single
    load instead of loading the same value in parallel. A value larger than the whole budget
    is returned but not kept.
    """

    def __init__(self, max_bytes: int, size_of: Callable[[Value], int]) -> None:
        self.max_bytes = max_bytes
        self._size_of = size_of
        self._entries: OrderedDict[Key, tuple[Value, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self._loading: dict[Key, threading.Lock] = {}

    @property
    def bytes_held(self) -> int:
        """Bytes held by the entries now."""
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: Key) -> bool:
        return key in self._entries

    def _lookup(self, key: Key) -> Value | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            self._entries.move_to_end(key)
            return entry[0]

    def peek(self, key: Key) -> Value | None:
        """The value of ``key`` where held (made the most recently used), else None."""
        return self._lookup(key)

    def put(self, key: Key, value: Value) -> None:
        """Hold ``value`` for ``key`` (replacing what it held), within the budget."""
        self._store(key, value)

    def get(self, key: Key, load: Callable[[], Value]) -> Value:
        """The value of ``key``, from ``load()`` on a miss."""
        value = self._lookup(key)
        if value is not None:
            return value
        with self._lock:
            loading = self._loading.setdefault(key, threading.Lock())
        try:
            with loading:
                value = self._lookup(key)
                if value is None:
                    value = load()
                    self._store(key, value)
        finally:
            with self._lock:
                self._loading.pop(key, None)
        return value

    def _store(self, key: Key, value: Value) -> None:
        size = self._size_of(value)
        if size > self.max_bytes:
            return
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= old[1]
            while self._entries and self._bytes + size > self.max_bytes:
                _, (_, evicted_size) = self._entries.popitem(last=False)
                self._bytes -= evicted_size
            self._entries[key] = (value, size)
            self._bytes += size

    def count(self, predicate: Callable[[Key], bool]) -> int:
        """How many entries have a key matching ``predicate``."""
        with self._lock:
            return sum(1 for key in self._entries if predicate(key))

    def discard(self, predicate: Callable[[Key], bool]) -> None:
        """Drop every entry whose key matches ``predicate``."""
        with self._lock:
            for key in [key for key in self._entries if predicate(key)]:
                self._bytes -= self._entries.pop(key)[1]
