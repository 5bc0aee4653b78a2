"""A stored model's printability report: kept with the instance as it is stored (the report the
worker made from its mesh and voxels), or, where none is kept (a model stored before, or a
host that did not keep it), computed from the stored STL (no voxels: no wall estimate)."""

from __future__ import annotations

import json
import logging
from typing import Any

from ...dicom.sop_classes import ENCAPSULATED_STL_STORAGE
from ...errors import SegMeshError, UnsupportedError
from ...mesh.printability import Printability
from ...work import StoredModelPrintability
from .. import store
from ..host import Host, read_json_metadata
from .context import TaskContext

#: The instance metadata holding a stored model's report (``SegMeshPrintability``).
PRINTABILITY_METADATA = 4604

logger = logging.getLogger(__name__)


def keep_printability(host: Host, instance_id: str, report: Printability, new: bool) -> None:
    """Keep ``report`` with the stored model ``instance_id``, ``new`` where this request stored
    it (Orthanc's ``Status`` "Success"), replacing another kept for a model stored again
    (``AlreadyStored``). A host that refuses (say, its database cannot take the metadata)
    costs only the kept copy: the report is computed from the STL when asked, so the failure
    is logged and the model stays."""
    value = json.dumps(report.to_json()).encode("utf-8")
    path = ("instances", instance_id, PRINTABILITY_METADATA)
    try:
        # Created in one call, where a new model has none: a read first would double the
        # host calls of a job storing a thousand models.
        if host.create_metadata(*path, value) if new else host.write_metadata(*path, value, None):
            return
        current = host.read_metadata("instances", instance_id, PRINTABILITY_METADATA)
        if current is not None and current.data != value:
            host.write_metadata(
                "instances", instance_id, PRINTABILITY_METADATA, value, current.etag
            )
    except (SegMeshError, OSError) as error:
        logger.warning("The printability of model %s was not kept: %s", instance_id, error)


def stored_printability(instance_id: str, context: TaskContext) -> dict[str, Any]:
    """The report of a stored model with its ``Source``: "model" (kept as it was stored) or
    "stl" (computed now from its STL in a worker); 404 where unknown, 415 where the instance
    is no Encapsulated STL."""
    host = context.host
    stored = store.instance_stored_file(host, instance_id)
    sop_class_uid = host.sop_class_uid(instance_id)
    if sop_class_uid != ENCAPSULATED_STL_STORAGE:
        raise UnsupportedError("Not an Encapsulated STL instance", f"SOP Class UID {sop_class_uid}")
    kept = read_json_metadata(host, "instances", instance_id, PRINTABILITY_METADATA)
    if kept is not None:
        return {**kept, "Source": "model"}
    with store.instance_path(host, stored) as path:
        report = context.workers.run(StoredModelPrintability(path=path))
    return {**report.to_json(), "Source": "stl"}
