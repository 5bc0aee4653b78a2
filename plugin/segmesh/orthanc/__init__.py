"""The Orthanc adapter: the only part of segmesh that imports ``orthanc``.

- :mod:`.routes`: the REST routes, one module per family;
- :mod:`.tasks`: the work routes, jobs and automatic runs share;
- :mod:`.store`: reading instances and series out of Orthanc; :mod:`.cache`: decoded label maps;
- :mod:`.http`: typed requests, answers and the error mapping; :mod:`.runtime`: what the
  running orthanc-python offers; :mod:`.log`: Python logging into Orthanc's log.
"""

from __future__ import annotations

import json
import logging
import platform
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orthanc

from .. import __version__
from ..loopback import Loopback
from ..seg.decoders import available_decoders
from ..settings import Settings
from . import http, log, routes, runtime
from .automatic import AutomaticRuns, products
from .cache import LabelMapCache
from .jobs import JobRunner, JobStore
from .lifecycle import Lifecycle
from .metrics import Metrics
from .query import QueryDecoding
from .revisions import RevisionedMetadata, overwrites_instances
from .tasks.context import TaskContext
from .tasks.storing import INSTANCE_MODELS
from .workers import WorkerPool

logger = logging.getLogger(__name__)


def _orthanc_version() -> str:
    return str(json.loads(orthanc.RestApiGet("/system"))["Version"])


@dataclass(frozen=True)
class SingleSlotHandlers:
    """segmesh's handlers for the callbacks orthanc-python gives each plugin one of: a site's
    script that registers its own calls these from them.

    ``on_stored_instance(dicom, instance_id)`` is None unless automatic runs are configured;
    ``explorer_javascript`` is segmesh's extension of Orthanc Explorer, to be appended to the
    site's own; ``root_uri`` is the viewer, for ``orthanc.SetRootUri``. segmesh needs no change
    callback and no incoming-request filter (:mod:`.lifecycle` says why).
    """

    on_stored_instance: Callable[[Any, str], None] | None
    explorer_javascript: str
    root_uri: str


#: What :func:`register` returned, held for the life of the interpreter (see
#: :data:`.http._REGISTERED`: orthanc-python may drop its own reference at stop).
_LOADED: list[SingleSlotHandlers] = []


def register(single_slots: bool = True) -> SingleSlotHandlers:
    """Read the settings, register every route and log what is available; with
    ``single_slots``, register the stored-instance callback (where needed), the Explorer
    extension and the root URI too."""
    log.install()
    configuration = json.loads(orthanc.GetConfiguration())
    settings = Settings.from_configuration(configuration)
    workers = WorkerPool(settings.workers)
    loopback = Loopback.of(configuration, orthanc.GenerateRestApiAuthorizationToken())
    metadata = RevisionedMetadata(
        loopback,
        bool(configuration.get("CheckRevisions", False)),
        overwrites_instances(configuration),
    )
    cache = LabelMapCache(settings.cache_megabytes)
    metrics = Metrics()
    context = TaskContext(settings, workers, cache, metadata, metrics)
    http.use_query_decoding(QueryDecoding(loopback, _orthanc_version))
    node = f"{configuration.get('Name', 'Orthanc')}:{configuration.get('HttpPort', 8042)}"
    runner = JobRunner(context, JobStore(metadata), node)
    metrics.gauge("segmesh_jobs_pending", lambda: runner.pending)
    metrics.gauge("segmesh_jobs_running", lambda: runner.running)
    metrics.gauge("segmesh_workers_busy", lambda: workers.busy)
    metrics.gauge("segmesh_cache_bytes", lambda: cache.bytes_held)
    routes.register(context, runner)
    automatic = None
    stl = None if settings.auto_stl is None else dict(settings.auto_stl)
    if stl is not None:
        INSTANCE_MODELS.prepare("", stl)  # a bad body stops Orthanc here, clearly
    if stl is not None or settings.auto_labelmap:
        stable_age = int(configuration.get("StableAge", 60))
        automatic = AutomaticRuns(
            products(stl, settings.auto_labelmap),
            settings.auto_generate_timeout,
            stable_age,
            runner,
            metadata,
        )
    lifecycle = Lifecycle(loopback, workers, runner, automatic, metrics)
    handlers = SingleSlotHandlers(
        None if automatic is None else lifecycle.on_stored_instance,
        routes.app.explorer_javascript(),
        routes.app.VIEWER_URI,
    )
    _LOADED.append(handlers)
    if single_slots:
        if handlers.on_stored_instance is not None:
            orthanc.RegisterOnStoredInstanceCallback(handlers.on_stored_instance)
        orthanc.ExtendOrthancExplorer(handlers.explorer_javascript)
        runtime.set_root_uri(handlers.root_uri)
    lifecycle.begin()
    if not metadata.checks_revisions:
        logger.warning(
            "segmesh: Orthanc's CheckRevisions is false: job records are not protected "
            'against two nodes writing at once; set "CheckRevisions": true'
        )
    decoders = available_decoders()
    logger.warning(
        "segmesh %s loaded on %s, Python %s, %s (MaxVoxels %d); decoders available: %s; "
        "missing: %s",
        __version__,
        runtime.variant(),
        platform.python_version(),
        workers.describe(),
        settings.max_voxels,
        ", ".join(name for name, ok in decoders.items() if ok) or "none",
        ", ".join(name for name, ok in decoders.items() if not ok) or "none",
    )
    return handlers
