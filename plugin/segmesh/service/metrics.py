"""segmesh's figures among Orthanc's Prometheus metrics (``GET /tools/metrics-prometheus``).

Published through the host's ``publish(name, value)`` (``orthanc.SetMetricsValue``, see
:func:`segmesh.orthanc.host.set_metric`). orthanc-python cannot register the callback Orthanc
calls before it answers that route, so the gauges are published once a second, from a thread
of the :class:`~.lifecycle.Lifecycle`; totals as they grow.

- ``segmesh_jobs_pending``, ``segmesh_jobs_running``: this node's jobs now;
- ``segmesh_jobs_failed_total``: the jobs that failed on this node since Orthanc started;
- ``segmesh_workers_busy``: worker calls running or waiting for a worker;
- ``segmesh_cache_bytes``: what the label-map cache holds;
- ``segmesh_decode_seconds_total``, ``segmesh_mesh_seconds_total``: wall seconds spent
  decoding label maps and building models since Orthanc started; of the latter, in the
  thread storing the models, ``segmesh_models_waiting_seconds_total`` waiting for the workers
  to build them, ``segmesh_models_storing_seconds_total`` storing their files and
  ``segmesh_models_reports_seconds_total`` keeping their printability reports.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TypeVar

T = TypeVar("T")

#: Seconds between two publications of the gauges.
PERIOD_SECONDS = 1.0


def _unpublished(name: str, value: float) -> None:
    """Where no host publishes metrics (the tests)."""


class Metrics:
    """Gauges read when published, and totals published as they grow, by ``publish(name,
    value)``."""

    def __init__(self, publish: Callable[[str, float], None] = _unpublished) -> None:
        self._publish = publish
        self._lock = threading.Lock()
        self._totals: dict[str, float] = {}
        self._gauges: dict[str, Callable[[], float]] = {}

    def gauge(self, name: str, read: Callable[[], float]) -> None:
        """Publish ``read()`` as ``name`` (from :meth:`publish`)."""
        self._gauges[name] = read

    def add(self, name: str, amount: float) -> None:
        """Add ``amount`` to the total ``name``, and publish it."""
        with self._lock:
            total = self._totals[name] = self._totals.get(name, 0.0) + amount
        self._publish(name, total)

    @contextmanager
    def timed(self, name: str) -> Iterator[None]:
        """Add the wall seconds of the ``with`` block to the total ``name``."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self.add(name, time.perf_counter() - start)

    def timed_items(self, items: Iterable[T], name: str) -> Iterator[T]:
        """Each of ``items``, the wall seconds spent waiting for each added to ``name``."""
        iterator = iter(items)
        while True:
            start = time.perf_counter()
            try:
                item = next(iterator)
            except StopIteration:
                return
            finally:
                self.add(name, time.perf_counter() - start)
            yield item

    def publish(self) -> None:
        """Publish every gauge and total now."""
        with self._lock:
            totals = dict(self._totals)
        for name, read in self._gauges.items():
            self._publish(name, read())
        for name, total in totals.items():
            self._publish(name, total)

    def publish_until(self, stopping: threading.Event) -> None:
        """Publish every :data:`PERIOD_SECONDS` until ``stopping`` is set."""
        while not stopping.wait(PERIOD_SECONDS):
            self.publish()
