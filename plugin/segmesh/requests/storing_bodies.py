"""The JSON bodies of the storing routes: models (``StoreOptions``, a NIfTI's file, labels and
frame of reference), conversions, imports, and ``Asynchronous``."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

from pydicom.dataset import Dataset
from pydicom.uid import UID

from ..conversions import Target
from ..dicom.tags import apply_tags
from ..errors import BadRequestError
from ..service.tasks.conversions import ConvertRequest
from ..service.tasks.imports import ImportRequest
from ..service.tasks.models import StoreOptions
from .import_fields import import_options
from .mesh_fields import mesh_options
from .values import parse_flag, parse_segment_list, parse_tags

#: The fields of a conversion request's body.
CONVERSION_FIELDS = ("To", "Segments", "Split", "Tags", "Asynchronous")


def is_asynchronous(body: Mapping[str, Any]) -> bool:
    """``"Asynchronous": true`` asks for a job instead of an answer."""
    return parse_flag(body.get("Asynchronous", False), "Asynchronous")


def store_options(body: Mapping[str, Any]) -> StoreOptions:
    """Parse ``Segments``, ``Smoothing``, ``Iterations``, ``Decimate``, ``Step`` or
    ``VoxelSize``, ``Merge`` and ``Tags``."""
    segments = parse_segment_list(body.get("Segments"))
    merged = parse_flag(body.get("Merge", False), "Merge")
    tags = parse_tags(body.get("Tags", {}))
    # Validate the overrides before any heavy work.
    apply_tags(Dataset(), tags)
    return StoreOptions(mesh_options(body), segments, merged, tags)


def convert_request(body: Mapping[str, Any]) -> ConvertRequest:
    """Parse a conversion's body; 400 for missing ``To``, unknown fields and bad values, Tags
    included (checked before any work)."""
    unknown = sorted(set(body) - set(CONVERSION_FIELDS))
    if unknown:
        raise BadRequestError(
            "Unknown parameters", f"{unknown}: use {', '.join(CONVERSION_FIELDS)}"
        )
    if "To" not in body:
        raise BadRequestError("Missing parameter To", "SEG, LABELMAP or RTSTRUCT")
    split = parse_flag(body.get("Split", False), "Split")
    tags = parse_tags(body.get("Tags", {}))
    apply_tags(Dataset(), tags)
    target = Target.parse(body["To"])
    return ConvertRequest(target, parse_segment_list(body.get("Segments")), split, tags)


def import_request(file: bytes, fields: Mapping[str, Any]) -> ImportRequest:
    """A posted label map and its fields; 400 for an empty file or bad fields, before any work
    (the worker's reader checks the size limit, which the route checks before too)."""
    if not file:
        raise BadRequestError(
            "Missing label map", "post a NIfTI, NRRD, .npz or .npy file as the body"
        )
    return ImportRequest(file, import_options(fields))


def import_request_of_body(body: Mapping[str, Any]) -> ImportRequest:
    """A JSON body: the fields, and the file as base64 in ``File`` (what a job keeps)."""
    fields = {key: value for key, value in body.items() if key != "File"}
    return import_request(file_of_body(body), fields)


def job_body(file: bytes, fields: Mapping[str, Any]) -> dict[str, Any]:
    """What a job keeps of an import: :func:`import_request_of_body` reads it back."""
    return {**fields, "File": base64.b64encode(file).decode("ascii")}


def file_of_body(body: Mapping[str, Any]) -> bytes:
    """The file a JSON body carries as base64 in ``File``."""
    return _base64(body.get("File"), "File", "base64 of the label-map file")


def nifti_file(body: Mapping[str, Any]) -> bytes:
    """The NIfTI a body carries as base64 in ``Nifti``."""
    return _base64(body.get("Nifti"), "Nifti", "base64 of a .nii or .nii.gz file")


def _base64(value: Any, name: str, wanted: str) -> bytes:
    if not isinstance(value, str) or not value:
        raise BadRequestError(f"Missing parameter {name}", wanted)
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as error:
        raise BadRequestError(f"Bad parameter {name}", f"not base64: {error}") from error


def optional_uid(value: Any, name: str) -> str:
    """An optional UID of the body: "" where absent, 400 where it is not a valid UID."""
    if value is None or value == "":
        return ""
    if not isinstance(value, str) or not UID(value).is_valid:
        raise BadRequestError(f"Bad parameter {name}", f"{value!r} is not a valid UID")
    return value


def nifti_labels(value: Any) -> dict[int, str]:
    """A NIfTI's ``Labels``: ``{"1": "Liver"}`` (JSON keys are strings) to ``{1: "Liver"}``."""
    if not isinstance(value, dict):
        raise BadRequestError("Bad parameter Labels", "an object of label value to name")
    labels = {}
    for key, name in value.items():
        try:
            number = int(key)
        except ValueError as error:
            raise BadRequestError("Bad parameter Labels", f"{key!r} is not a number") from error
        if number < 1 or not isinstance(name, str):
            raise BadRequestError("Bad parameter Labels", f"{key!r}: a positive value and a name")
        labels[number] = name
    return labels
