"""The Orthanc adapter: the only part of segmesh that imports ``orthanc``, in three modules.

- this one: registration, which puts segmesh's service (:mod:`segmesh.service`) together;
- :mod:`.host`: the service's host (:class:`segmesh.service.host.Host`) spoken to Orthanc,
  with Orthanc's log and metrics;
- :mod:`.http`: typed requests, answers and the error mapping on the running orthanc-python,
  and :mod:`.routes`, the REST routes, one module per family, on it.
"""

from __future__ import annotations

import logging
import platform
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orthanc

from .. import __version__
from ..requests.storing_kinds import INSTANCE_MODELS, KINDS
from ..seg.decoders import available_decoders
from ..service.automatic import AutomaticRuns, products
from ..service.cache import LabelMapCache
from ..service.jobs import JobRunner, JobStore
from ..service.lifecycle import Lifecycle
from ..service.metrics import Metrics
from ..service.tasks.context import TaskContext
from ..service.workers import WorkerPool
from ..settings import Settings
from ..worker_io.loopback import Loopback
from . import host, http, routes
from .query import QueryDecoding
from .revisions import RevisionedMetadata, overwrites_instances

logger = logging.getLogger(__name__)


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
    host.install_log()
    configuration = host.configuration()
    settings = Settings.from_configuration(configuration)
    workers = WorkerPool(settings.workers)
    loopback = Loopback.of(configuration, host.rest_api_token())
    writes = RevisionedMetadata(
        loopback,
        bool(configuration.get("CheckRevisions", False)),
        overwrites_instances(configuration),
    )
    orthanc_host = host.OrthancHost(writes)
    cache = LabelMapCache(settings.cache_megabytes)
    metrics = Metrics(host.set_metric)
    context = TaskContext(settings, workers, cache, orthanc_host, metrics)
    http.use_query_decoding(QueryDecoding(loopback, host.orthanc_version))
    node = f"{configuration.get('Name', 'Orthanc')}:{configuration.get('HttpPort', 8042)}"
    runner = JobRunner(context, JobStore(orthanc_host), node, KINDS)
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
            orthanc_host,
        )
    lifecycle = Lifecycle(orthanc_host, workers, runner, automatic, metrics)
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
        if hasattr(orthanc, "SetRootUri"):  # every release tested has it
            orthanc.SetRootUri(handlers.root_uri)
    lifecycle.begin()
    if not writes.checks_revisions:
        logger.warning(
            "segmesh: Orthanc's CheckRevisions is false: job records are not protected "
            'against two nodes writing at once; set "CheckRevisions": true'
        )
    decoders = available_decoders()
    logger.warning(
        "segmesh %s loaded on %s, Python %s, %s (MaxVoxels %d); decoders available: %s; "
        "missing: %s",
        __version__,
        http.variant(),
        platform.python_version(),
        workers.describe(),
        settings.max_voxels,
        ", ".join(name for name, ok in decoders.items() if ok) or "none",
        ", ".join(name for name, ok in decoders.items() if not ok) or "none",
    )
    return handlers
