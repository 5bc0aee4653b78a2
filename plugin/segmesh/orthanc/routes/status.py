"""``GET /instances/{id}/segmesh/status``: what was generated from this instance, when, with
which parameters and by which job, or the error; and its label-map attachment."""

from __future__ import annotations

from ...service.jobs import JobRunner
from ...service.source_status import source_status
from ..http import INSTANCE_ROUTE, Answer, Request, register_route


def register(runner: JobRunner) -> None:
    """Register the route (see :func:`source_status`)."""

    def status(request: Request) -> Answer:
        return Answer.json(source_status(request.groups[0], runner))

    register_route(f"{INSTANCE_ROUTE}/status", ("GET",), status)
