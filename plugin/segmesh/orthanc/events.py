"""segmesh's one change callback (Orthanc allows one per plugin), fed by Orthanc's change thread:
it never blocks, it only hands events on."""

from __future__ import annotations

import logging
from typing import Any

import orthanc

from .workers import WorkerPool

logger = logging.getLogger(__name__)


def register(workers: WorkerPool) -> None:
    """Listen to Orthanc's changes: its stop ends the worker processes."""

    def on_change(change_type: Any, level: Any, resource: str) -> None:
        if change_type == orthanc.ChangeType.ORTHANC_STOPPED:
            workers.shutdown()

    orthanc.RegisterOnChangeCallback(on_change)
