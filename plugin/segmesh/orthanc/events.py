"""segmesh's one change callback (Orthanc allows one per plugin), fed by Orthanc's change thread:
it never blocks, it only hands events on."""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

import orthanc

from .automatic import AutomaticRuns
from .cache import LabelMapCache
from .jobs import JobRunner
from .workers import WorkerPool

logger = logging.getLogger(__name__)


def _resume(runner: JobRunner) -> None:
    try:
        runner.resume(
            [str(identifier) for identifier in json.loads(orthanc.RestApiGet("/studies"))]
        )
    except Exception:
        logger.exception("segmesh: unfinished jobs could not be resumed")


def register(
    workers: WorkerPool, runner: JobRunner, automatic: AutomaticRuns | None, cache: LabelMapCache
) -> None:
    """Listen to Orthanc's changes: once started, unfinished jobs are run again (and automatic
    runs start); new instances go to the automatic runs; deleted instances leave the label map
    cache; Orthanc's stop ends the job threads and the worker processes."""

    def on_change(change_type: Any, level: Any, resource: str) -> None:
        if change_type == orthanc.ChangeType.NEW_INSTANCE:
            if automatic is not None:
                automatic.stored(resource)
        elif change_type == orthanc.ChangeType.DELETED:
            if level == orthanc.ResourceType.INSTANCE:
                cache.forget(resource)
        elif change_type == orthanc.ChangeType.ORTHANC_STARTED:
            workers.start()
            threading.Thread(target=_resume, args=(runner,), name="segmesh-resume").start()
            if automatic is not None:
                automatic.start()
        elif change_type == orthanc.ChangeType.ORTHANC_STOPPED:
            if automatic is not None:
                automatic.stop()
            runner.shutdown()
            workers.shutdown()

    orthanc.RegisterOnChangeCallback(on_change)
