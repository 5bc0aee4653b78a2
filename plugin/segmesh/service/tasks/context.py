"""What every task runs with: the settings, the worker pool, the label-map cache, the host, and
a job's hooks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ...errors import SegMeshError
from ...settings import Settings
from ..cache import LabelMapCache
from ..host import Host
from ..metrics import Metrics
from ..workers import WorkerPool


class CancelledError(SegMeshError):
    """The job was cancelled (``DELETE /segmesh/jobs/{id}``) before it finished."""

    http_status = 409


def _no_progress(done: int, total: int) -> None:
    """Synchronous requests report no progress."""


def _never_cancelled() -> bool:
    return False


@dataclass(frozen=True)
class TaskContext:
    """``cache`` holds loaded label maps; ``host`` is the archive segmesh reads from and
    stores into (:mod:`..host`); ``metrics`` counts decoding and meshing time;
    ``progress(done, total)`` is called as units of work (say,
    models) finish; ``cancelled()`` is asked between them."""

    settings: Settings
    workers: WorkerPool
    cache: LabelMapCache
    host: Host
    metrics: Metrics = field(default_factory=Metrics)
    progress: Callable[[int, int], None] = _no_progress
    cancelled: Callable[[], bool] = _never_cancelled

    def check_cancelled(self) -> None:
        """Raise :class:`CancelledError` where the job was cancelled."""
        if self.cancelled():
            raise CancelledError("Cancelled", "the job was cancelled before it finished")
