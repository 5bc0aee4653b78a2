"""Where a request's time goes, stage by stage: answered as an HTTP ``Server-Timing`` header
(which browsers' developer tools and the benchmarks read), so that a slow first request shows
its index calls, file access, worker hand-over, decoding and encoding apart.

Stages are recorded in a context variable, so every thread (Orthanc's REST threads, a job's)
records only its own request's; outside :func:`recording` nothing is kept.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

#: (stage, seconds), in the order they ended.
Stages = list[tuple[str, float]]

_RECORDING: ContextVar[Stages | None] = ContextVar("segmesh_stages", default=None)


def add(name: str, seconds: float) -> None:
    """Record ``seconds`` spent in stage ``name`` (stages of one name add up)."""
    stages = _RECORDING.get()
    if stages is not None:
        stages.append((name, seconds))


@contextmanager
def stage(name: str) -> Iterator[None]:
    """Record the wall time of the ``with`` block as stage ``name``."""
    start = time.perf_counter()
    try:
        yield
    finally:
        add(name, time.perf_counter() - start)


@contextmanager
def recording() -> Iterator[Stages]:
    """Record the stages of the ``with`` block (of this thread) into the list yielded."""
    stages: Stages = []
    token = _RECORDING.set(stages)
    try:
        yield stages
    finally:
        _RECORDING.reset(token)


def server_timing(stages: Iterable[tuple[str, float]]) -> str:
    """The stages as a ``Server-Timing`` header value: ``name;dur=ms``, one per name, in the
    order each first ended."""
    totals: dict[str, float] = {}
    for name, seconds in stages:
        totals[name] = totals.get(name, 0.0) + seconds
    return ", ".join(f"{name};dur={seconds * 1000:.1f}" for name, seconds in totals.items())
