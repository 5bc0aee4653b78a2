"""``POST /instances/{id}/segmesh/convert``: a SEG or RT-STRUCT converted and stored, now or
as a job (the work is in :mod:`segmesh.service.tasks.conversions`)."""

from __future__ import annotations

from ...requests.storing_kinds import CONVERSION
from ...service.jobs import JobRunner
from ...service.tasks.context import TaskContext
from ..http import INSTANCE_ROUTE, register_route
from .storing import storing_route


def register(context: TaskContext, runner: JobRunner) -> None:
    """Register the conversion route, bound to ``context`` and the job ``runner``."""
    register_route(
        f"{INSTANCE_ROUTE}/convert", ("POST",), storing_route(CONVERSION, context, runner)
    )
