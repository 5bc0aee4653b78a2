"""The Orthanc adapter: the only part of segmesh that imports ``orthanc``."""

from __future__ import annotations

import json
import logging
import platform

import orthanc

from .. import __version__
from ..decoders import available_decoders
from ..settings import Settings
from . import app_routes, log, runtime, segments_route, stl_routes
from .cache import LabelMapCache
from .labelmap_route import LabelMapRoute
from .overlay_route import OverlayRoute

logger = logging.getLogger(__name__)


def register() -> Settings:
    """Read the settings, register every route and log what is available."""
    log.install()
    settings = Settings.from_configuration(json.loads(orthanc.GetConfiguration()))
    segments_route.register()
    LabelMapRoute(settings).register()
    cache = LabelMapCache(settings)
    OverlayRoute(cache).register()
    app_routes.register()
    stl_routes.register(settings)
    decoders = available_decoders()
    logger.warning(
        "segmesh %s loaded on %s, Python %s (MaxVoxels %d); decoders available: %s; missing: %s",
        __version__,
        runtime.variant(),
        platform.python_version(),
        settings.max_voxels,
        ", ".join(name for name, ok in decoders.items() if ok) or "none",
        ", ".join(name for name, ok in decoders.items() if not ok) or "none",
    )
    return settings
