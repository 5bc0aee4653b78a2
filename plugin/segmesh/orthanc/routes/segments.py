"""``GET /instances/{id}/segmesh/segments``: what a SEG or RT-STRUCT holds."""

from __future__ import annotations

from ...service.tasks.context import TaskContext
from ...service.tasks.labelmaps import source_description
from ..http import INSTANCE_ROUTE, Answer, Request, register_route


def register(context: TaskContext) -> None:
    """Register the route, bound to ``context`` (whose cache keeps the descriptions)."""

    def segments(request: Request) -> Answer:
        """Kind, segments, frame of reference and referenced series of one instance."""
        description = source_description(request.groups[0], context)
        present = {
            uid: context.host.series_id_of_uid(uid) for uid in description.referenced_series_uids
        }
        text = description.to_json_text(
            [identifier for identifier in present.values() if identifier],
            [uid for uid, identifier in present.items() if identifier is None],
        )
        return Answer(text.encode(), "application/json")

    register_route(f"{INSTANCE_ROUTE}/segments", ("GET",), segments)
