"""Imports: a posted label map stored as DICOM SEG, LABELMAP SEG or RT-STRUCT on a stored
series' grid, in the series' study (what the import route and its job run).

The worker reads the series' headers itself and writes every object; this process stores them
in order, checking for cancellation and reporting progress between objects, and deletes what it
stored where the series goes meanwhile (:class:`.outputs.SourceOutputs`).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from typing import Any

from ...imports import ImportOptions, ImportResult
from ...work import ImportLabelMap
from .. import store
from .context import TaskContext
from .outputs import SourceOutputs


@dataclass(frozen=True)
class ImportRequest:
    """The posted ``file`` and the parsed ``options``
    (:func:`segmesh.requests.storing_bodies.import_request`)."""

    file: bytes
    options: ImportOptions


def _skipped(result: ImportResult) -> list[dict[str, Any]]:
    """The file's labels left out, then those no target wrote (without voxels)."""
    labels = {segment.number: segment.label for segment in result.segments}
    empty = sorted({n for written in result.written for n in written.empty})
    return [
        {"Segment": value, "Label": label, "Reason": reason}
        for value, label, reason in result.skipped
    ] + [{"Segment": n, "Label": labels.get(n, ""), "Reason": "empty"} for n in empty]


def import_labelmap_file(
    series_id: str, request: ImportRequest, context: TaskContext
) -> dict[str, Any]:
    """Store ``request``'s label map as its targets on the grid of ``series_id``.

    Answers as a conversion does, ``{"Series", "Instances": [{"ID", "Status", "SOPClassUID",
    "Series", "Segments"}], "Skipped"}`` (``Series``: the first target's), with ``"Grid"``
    (how the file lay on the series: :class:`segmesh.imports.Placement`) and ``"File"`` (the
    format read). ``Status`` "AlreadyStored" for objects the same import stored before.
    """
    image_files = store.stored_series_files(context.host, series_id)
    with tempfile.TemporaryDirectory(prefix="segmesh-import-") as folder:
        result = context.workers.run(
            ImportLabelMap(
                file=request.file,
                options=request.options,
                image_files=image_files,
                settings=context.settings,
                output_folder=folder,
            )
        )
        instances = _stored(result, series_id, context)
    return {
        "Series": instances[0]["Series"] if instances else "",
        "Instances": instances,
        "Skipped": _skipped(result),
        "Grid": result.placement.to_json(),
        "File": result.file_format,
    }


def _stored(result: ImportResult, series_id: str, context: TaskContext) -> list[dict[str, Any]]:
    """Store the written files in order (each sent from the page cache); their answers. What
    this import stored is deleted again where it fails or is cancelled before the last."""
    objects = [obj for written in result.written for obj in written.objects]
    outputs = SourceOutputs([("series", series_id)], context.host)
    instances = []
    try:
        for done, written in enumerate(objects, start=1):
            context.check_cancelled()
            stored = outputs.store_file(written.path)
            instances.append(
                {
                    "ID": stored["ID"],
                    "Status": stored.get("Status", ""),
                    "SOPClassUID": written.sop_class_uid,
                    "Series": stored["ParentSeries"],
                    "Segments": list(written.segments),
                }
            )
            context.progress(done, len(objects))
        outputs.finish()
    except BaseException:
        # Cancelled, or Orthanc refused one: the import stores all of its objects or none.
        outputs.discard()
        raise
    return instances
