"""``POST /instances/{id}/segmesh/convert``: a SEG or RT-STRUCT converted and stored (the work
is in :mod:`..tasks.conversions`)."""

from __future__ import annotations

from ..http import INSTANCE_ROUTE, Answer, Request, register_route
from ..tasks.context import TaskContext
from ..tasks.conversions import ConvertRequest, convert_source


def register(context: TaskContext) -> None:
    """Register the conversion route, bound to ``context``."""

    def post_convert(request: Request) -> Answer:
        parsed = ConvertRequest.from_body(request.json_body())
        return Answer.json(convert_source(request.groups[0], parsed, context))

    register_route(f"{INSTANCE_ROUTE}/convert", ("POST",), post_convert)
