"""The label map of a source, stored as its label-map attachment: what the automatic
``LabelMap`` run does once the source's images are stored."""

from __future__ import annotations

from typing import Any

from ...formats.labelmap_file import write_labelmap_file
from ...options import LabelMapOptions
from ..loaded_source import Origin
from . import labelmap_attachment
from .context import TaskContext
from .labelmaps import load_labelmap

#: The label map the routes ask for by default (every segment, the source grid where stored).
DEFAULT_OPTIONS = LabelMapOptions()


def store_labelmap_attachment(instance_id: str, context: TaskContext) -> dict[str, Any]:
    """Store the label map of ``instance_id`` at the routes' default options as its
    attachment. Answers ``{"Status": "Success" or "AlreadyStored", "Attachment", "Key",
    "Segments"}``, and ``Bytes`` where it wrote the attachment."""
    loaded = load_labelmap(instance_id, DEFAULT_OPTIONS, context)
    context.check_cancelled()
    answer: dict[str, Any] = {
        "Status": "AlreadyStored",
        "Attachment": labelmap_attachment.NAME,
        "Key": dict(loaded.key),
        "Segments": len(loaded.labelmap.segments),
    }
    if loaded.origin is not Origin.ATTACHMENT:
        data = write_labelmap_file(loaded.labelmap, loaded.key, loaded.planes)
        answer["Status"] = labelmap_attachment.write(context.host, instance_id, data)
        answer["Bytes"] = len(data)
    context.progress(1, 1)
    return answer
