"""segmesh's REST routes, one module per family; each parses its request (with
:mod:`segmesh.requests`), calls a task or the core, and answers. Resource routes live under
Orthanc's resource paths (``/instances/{id}/segmesh/...``, see :data:`..http.INSTANCE_ROUTE`);
``/segmesh/app/`` serves the viewer.

- :mod:`.segments`: ``GET /instances/{id}/segmesh/segments``;
- :mod:`.labelmap`: ``GET /instances/{id}/segmesh/labelmap``;
- :mod:`.statistics`: ``GET /instances/{id}/segmesh/statistics`` (JSON or CSV);
- :mod:`.overlay`: ``GET /instances/{id}/segmesh/overlay/{imageId}.png``;
- :mod:`.volume`: ``GET /instances/{id}/segmesh/volume`` (grid JSON), ``volume/labels.npy``,
  ``volume/image.npy``: what the viewer's planes are drawn from;
- :mod:`.models`: ``/instances/{id}/segmesh/stl`` and ``model``, ``/series/{id}/segmesh/stl``,
  ``/studies/{id}/segmesh/nifti-stl``;
- :mod:`.thresholds`: ``GET /series/{id}/segmesh/histogram`` and the preview of ``GET
  /series/{id}/segmesh/stl``;
- :mod:`.convert`: ``POST /instances/{id}/segmesh/convert`` (to SEG, LABELMAP, RTSTRUCT);
- :mod:`.imports`: ``POST /series/{id}/segmesh/import`` (a label-map file to SEG, LABELMAP,
  RTSTRUCT);
- :mod:`.datasets`: ``POST /segmesh/datasets`` (a training dataset, by a job) and ``GET
  /segmesh/jobs/{id}/output`` (its file);
- :mod:`.jobs`: ``GET /segmesh/jobs``, ``GET|DELETE /segmesh/jobs/{id}``;
- :mod:`.status`: ``GET /instances/{id}/segmesh/status``: what was generated from it;
- :mod:`.storing`: the handler the storing routes share (now, or a job with `"Asynchronous"`);
- :mod:`.app`: ``GET /segmesh/app/...`` and the Orthanc Explorer extension.
"""

from __future__ import annotations

from ...service.jobs import JobRunner
from ...service.tasks.context import TaskContext
from . import app, convert, datasets, imports, jobs, models, segments, status, thresholds
from .labelmap import LabelMapRoute
from .overlay import OverlayRoute
from .statistics import StatisticsRoute
from .volume import VolumeRoute


def register(context: TaskContext, runner: JobRunner) -> None:
    """Register every route, bound to ``context`` (its label-map cache too) and the jobs."""
    segments.register(context)
    LabelMapRoute(context).register()
    StatisticsRoute(context).register()
    OverlayRoute(context).register()
    VolumeRoute(context).register()
    models.register(context, runner)
    thresholds.register(context)
    convert.register(context, runner)
    imports.register(context, runner)
    datasets.register(context, runner)
    jobs.register(runner)
    status.register(runner)
    app.register()
