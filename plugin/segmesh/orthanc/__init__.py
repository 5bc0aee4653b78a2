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

import orthanc

from .. import __version__
from ..loopback import Loopback
from ..seg.decoders import available_decoders
from ..settings import Settings
from . import events, log, routes, runtime
from .automatic import AutomaticRuns, products
from .cache import LabelMapCache
from .jobs import JobRunner, JobStore
from .revisions import RevisionedMetadata
from .tasks.context import TaskContext
from .tasks.storing import INSTANCE_MODELS
from .workers import WorkerPool

logger = logging.getLogger(__name__)


def register() -> Settings:
    """Read the settings, register every route and log what is available."""
    log.install()
    configuration = json.loads(orthanc.GetConfiguration())
    settings = Settings.from_configuration(configuration)
    workers = WorkerPool(settings.workers)
    loopback = Loopback.of(configuration, orthanc.GenerateRestApiAuthorizationToken())
    metadata = RevisionedMetadata(loopback, bool(configuration.get("CheckRevisions", False)))
    context = TaskContext(settings, workers, LabelMapCache(settings.cache_megabytes), metadata)
    node = f"{configuration.get('Name', 'Orthanc')}:{configuration.get('HttpPort', 8042)}"
    runner = JobRunner(context, JobStore(metadata), node)
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
    events.register(workers, runner, automatic, context.cache)
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
    return settings
