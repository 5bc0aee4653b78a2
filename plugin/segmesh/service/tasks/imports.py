"""Imports: a posted label map stored as DICOM SEG, LABELMAP SEG or RT-STRUCT on a stored
series' grid, in the series' study (what the import route and its job run).

The worker reads the series' headers itself and writes every object; this process stores them
in order, checking for cancellation and reporting progress between objects, and deletes what it
stored where the series goes meanwhile (:class:`.outputs.SourceOutputs`).
"""

from __future__ import annotations

import base64
import binascii
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ...errors import BadRequestError
from ...imports import ImportOptions, ImportResult
from ...work import ImportLabelMap
from .. import store
from .context import TaskContext
from .outputs import SourceOutputs


@dataclass(frozen=True)
class ImportRequest:
    """The posted ``file`` and the parsed ``options``."""

    file: bytes
    options: ImportOptions

    @classmethod
    def of(cls, file: bytes, fields: Mapping[str, Any]) -> ImportRequest:
        """400 for an empty file or bad fields, before any work (the worker's reader checks
        the size limit, which the route checks before too)."""
        if not file:
            raise BadRequestError(
                "Missing label map", "post a NIfTI, NRRD, .npz or .npy file as the body"
            )
        return cls(file, ImportOptions.from_fields(fields))

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> ImportRequest:
        """A JSON body: the fields, and the file as base64 in ``File`` (what a job keeps)."""
        fields = {key: value for key, value in body.items() if key != "File"}
        return cls.of(file_of_body(body), fields)


def job_body(file: bytes, fields: Mapping[str, Any]) -> dict[str, Any]:
    """What a job keeps of an import: :meth:`ImportRequest.from_body` reads it back."""
    return {**fields, "File": base64.b64encode(file).decode("ascii")}


def file_of_body(body: Mapping[str, Any]) -> bytes:
    """The file a JSON body carries as base64 in ``File``."""
    value = body.get("File")
    if not isinstance(value, str) or not value:
        raise BadRequestError("Missing parameter File", "base64 of the label-map file")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as error:
        raise BadRequestError("Bad parameter File", f"not base64: {error}") from error


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
