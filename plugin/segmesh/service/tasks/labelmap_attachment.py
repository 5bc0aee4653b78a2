"""The label-map attachment of a source instance (``AutoGenerate.LabelMap``).

It holds the source's decoded label map in segmesh's own file (:mod:`segmesh.labelmap_file`),
made for one key (segmesh's version, the options, the images of the grid), as an attachment
of segmesh's user content type :data:`CONTENT_TYPE`. It lives in Orthanc's database and
storage, so every node of a database reads it and it outlives restarts; Orthanc deletes it
with its instance. A reader whose key differs, or that finds it broken, ignores it (with a
warning) and decodes the source as if it were absent.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from ...formats.labelmap_file import UnusableLabelMapFileError, read_header, read_labelmap_file
from ...geometry import Plane
from ...labelmap import LabelMap, check_voxel_limit
from ...settings import Settings
from ..host import ATTEMPTS, ConflictError, Host, HostError

logger = logging.getLogger(__name__)

#: segmesh's user content type (``UserContentType`` of the Orthanc configuration).
CONTENT_TYPE = 4603
NAME = "SegMeshLabelMap"
MIME_TYPE = "application/vnd.segmesh.labelmap"


def _data(host: Host, instance_id: str) -> bytes | None:
    """The attachment's bytes, None where there is none or it cannot be read."""
    try:
        found = host.read_attachment(instance_id, CONTENT_TYPE)
    except HostError as error:
        logger.warning("segmesh: label-map attachment of %s unreadable: %s", instance_id, error)
        return None
    return None if found is None else found.data


def read(
    host: Host, instance_id: str, key: Mapping[str, Any], settings: Settings
) -> tuple[LabelMap, dict[str, Plane]] | None:
    """The label map and image planes of the attachment where it was made for ``key``; None
    where there is none, or it was made for another key, or it is broken (a warning says
    which). 413 above ``settings.max_voxels``, as decoding the source would answer."""
    data = _data(host, instance_id)
    if data is None:
        return None
    try:
        labelmap, planes = read_labelmap_file(data, key)
    except UnusableLabelMapFileError as error:
        logger.warning("segmesh: label-map attachment of %s ignored: %s", instance_id, error)
        return None
    layers = labelmap.layers.shape
    check_voxel_limit(layers[1:], settings.max_voxels, layers[0])
    return labelmap, planes


def describe(host: Host, instance_id: str) -> dict[str, Any] | None:
    """What the status route shows of the attachment: ``Name``, ``ContentType``, ``Bytes``,
    the ``Key`` it was made for, and the ``Error`` that makes it unusable where it is broken;
    None where there is none."""
    data = _data(host, instance_id)
    if data is None:
        return None
    found: dict[str, Any] = {"Name": NAME, "ContentType": CONTENT_TYPE, "Bytes": len(data)}
    try:
        found["Key"] = read_header(data).get("Key")
        read_labelmap_file(data, found["Key"])  # what a reader of that key would find
    except UnusableLabelMapFileError as error:
        found["Error"] = str(error)
    return found


def write(host: Host, instance_id: str, data: bytes) -> str:
    """Store ``data`` (a label-map file) as the instance's attachment,
    replacing one made for another key by compare-and-set on its revision. "Success", or
    "AlreadyStored" where one made for the same key is there (say, written by another node)."""
    key = read_header(data)["Key"]
    for _ in range(ATTEMPTS):
        current = host.read_attachment(instance_id, CONTENT_TYPE)
        if current is not None:
            try:
                if read_header(current.data).get("Key") == key:
                    return "AlreadyStored"
            except UnusableLabelMapFileError:
                pass  # a broken one is replaced
        if host.write_attachment(
            instance_id, CONTENT_TYPE, data, current.etag if current else None
        ):
            return "Success"
    raise ConflictError("Label-map attachment kept changing", instance_id)
