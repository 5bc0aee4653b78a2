"""``GET /instances/{id}/segmesh/segments``: what a SEG or RT-STRUCT holds."""

from __future__ import annotations

from ...sources import describe
from .. import store
from ..http import INSTANCE_ROUTE, Answer, Request, register_route


def segments(request: Request) -> Answer:
    """Kind, segments, frame of reference and referenced series of one instance."""
    dataset = store.read_instance(request.groups[0], stop_before_pixels=True)
    description = describe(dataset)
    present = {uid: store.series_id_of_uid(uid) for uid in description.referenced_series_uids}
    return Answer.json(
        description.to_json(
            [identifier for identifier in present.values() if identifier],
            [uid for uid, identifier in present.items() if identifier is None],
        )
    )


def register() -> None:
    """Register the route."""
    register_route(f"{INSTANCE_ROUTE}/segments", ("GET",), segments)
