"""What every task runs with: the settings, the worker pool, the label-map cache, the loopback
REST client, and a job's hooks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ...errors import SegMeshError
from ...loopback import Loopback
from ...settings import Settings
from ..metrics import Metrics
from ..revisions import RevisionedMetadata
from ..workers import WorkerPool

if TYPE_CHECKING:  # the cache holds what tasks load: imported for its type only
    from ..cache import LabelMapCache


class CancelledError(SegMeshError):
    """The job was cancelled (``DELETE /segmesh/jobs/{id}``) before it finished."""

    http_status = 409


def _no_progress(done: int, total: int) -> None:
    """Synchronous requests report no progress."""


def _never_cancelled() -> bool:
    return False


@dataclass(frozen=True)
class TaskContext:
    """``cache`` holds loaded label maps; ``loopback`` writes what needs Orthanc's revision
    check, and stores outputs; ``metrics`` counts decoding and meshing time;
    ``progress(done, total)`` is called as units of work (say,
    models) finish; ``cancelled()`` is asked between them."""

    settings: Settings
    workers: WorkerPool
    cache: LabelMapCache
    loopback: RevisionedMetadata
    metrics: Metrics = field(default_factory=Metrics)
    progress: Callable[[int, int], None] = _no_progress
    cancelled: Callable[[], bool] = _never_cancelled

    @property
    def rest(self) -> Loopback:
        """Orthanc's REST API on the loopback: what workers fetch stored files through."""
        return self.loopback.loopback

    def check_cancelled(self) -> None:
        """Raise :class:`CancelledError` where the job was cancelled."""
        if self.cancelled():
            raise CancelledError("Cancelled", "the job was cancelled before it finished")
