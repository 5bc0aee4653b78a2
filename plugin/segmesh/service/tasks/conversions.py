"""Conversions of a stored source, stored: RT-STRUCT to SEG, SEG to RT-STRUCT, either to a
LABELMAP SEG. What a route, a job or an automatic run asks for.

The source's label map is built on its referenced series' grid and written in a worker; this
process stores each written object in a new series of the source's study (same frame of
reference), checking for cancellation and reporting progress between objects.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ...conversions import Target, check_not_same, target_of_sop_class
from ...options import Grid, LabelMapOptions
from ...work import ConvertLabelMap
from .context import TaskContext
from .labelmaps import headers, load_labelmap
from .outputs import SourceOutputs


@dataclass(frozen=True)
class ConvertRequest:
    """``target`` (``To``), ``segments`` (None: all), ``split`` (overlapping segments of a
    LABELMAP to several instances) and ``tags`` (attributes to set on every written object);
    parsed by :func:`segmesh.requests.storing_bodies.convert_request`."""

    target: Target
    segments: tuple[int, ...] | None = None
    split: bool = False
    tags: Mapping[str, Any] = field(default_factory=dict)


def convert_source(
    instance_id: str, request: ConvertRequest, context: TaskContext
) -> dict[str, Any]:
    """Convert the SEG or RT-STRUCT ``instance_id`` and store the result.

    Answers ``{"Series", "Instances": [{"ID", "Status", "SOPClassUID", "Segments"}],
    "Skipped": [{"Segment", "Label", "Reason"}]}``; ``Status`` is "AlreadyStored" for objects a
    previous identical request stored (their UIDs are derived, not random).
    """
    # Refused before the label map is decoded, from Orthanc's metadata.
    check_not_same(target_of_sop_class(context.host.sop_class_uid(instance_id)), request.target)
    loaded = load_labelmap(
        instance_id,
        LabelMapOptions(segments=request.segments, grid=Grid.SOURCE),
        context,
        with_images=True,
    )
    assert loaded.images is not None  # grid=source loads the referenced series, or raises
    context.check_cancelled()
    conversion = context.workers.run(
        ConvertLabelMap(
            source=loaded.dataset,
            labelmap=loaded.labelmap,
            images=headers(loaded.images),
            target=request.target,
            segments=request.segments,
            split=request.split,
            tags=request.tags,
            max_voxels=context.settings.max_voxels,
        )
    )
    # The referenced series too, where the label map is on its grid.
    sources = [("instances", instance_id), ("series", loaded.series_id)]
    outputs = SourceOutputs(sources, context.host)
    instances = []
    series_id = ""
    try:
        for done, written in enumerate(conversion.objects, start=1):
            context.check_cancelled()
            stored = outputs.store(written.file)
            series_id = str(stored["ParentSeries"])
            instances.append(
                {
                    "ID": stored["ID"],
                    "Status": stored.get("Status", ""),
                    "SOPClassUID": written.sop_class_uid,
                    "Segments": list(written.segments),
                }
            )
            context.progress(done, len(conversion.objects))
        outputs.finish()
    except BaseException:
        # Cancelled, or Orthanc refused one: a conversion stores all of its objects or none.
        outputs.discard()
        raise
    labels = {segment.number: segment.label for segment in loaded.labelmap.segments}
    # ROIs the label map could not hold (say, of points), then segments without voxels.
    skipped = [
        {"Segment": s.number, "Label": s.label, "Reason": s.reason}
        for s in loaded.description.skipped
        if request.segments is None or s.number in request.segments
    ] + [{"Segment": n, "Label": labels.get(n, ""), "Reason": "empty"} for n in conversion.empty]
    return {"Series": series_id, "Instances": instances, "Skipped": skipped}
