"""The storing requests, by kind: each is parsed first (a bad body is a 400 before any work),
then run now (a synchronous request) or later, in a job, with the same body.

A job keeps only the kind, the resource and the body (JSON), so that any node can run it
again after a restart by parsing the body anew with the same function.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydicom.uid import UID

from ...datasets.dataset_request import DatasetRequest
from ...errors import BadRequestError
from ...mesh import ThresholdOptions
from .attached_labelmaps import store_labelmap_attachment
from .context import TaskContext
from .conversions import ConvertRequest, convert_source
from .datasets import export_dataset
from .imports import ImportRequest, import_labelmap_file
from .models import StoreOptions, store_nifti_models, store_series_model, store_source_models

#: A parsed request, ready to run.
Prepared = Callable[[TaskContext], dict[str, Any]]


@dataclass(frozen=True)
class StoringKind:
    """``name`` is the job's Kind; ``level`` the resource path the route is under."""

    name: str
    level: str
    prepare: Callable[[str, Mapping[str, Any]], Prepared]


def _instance_models(instance_id: str, body: Mapping[str, Any]) -> Prepared:
    options = StoreOptions.from_body(body)
    return lambda context: store_source_models(instance_id, options, context)


def _series_model(series_id: str, body: Mapping[str, Any]) -> Prepared:
    threshold = ThresholdOptions.from_body(body)
    options = StoreOptions.from_body({**body, "Segments": None, "Merge": False})
    return lambda context: store_series_model(series_id, threshold, options, context)


def _nifti_models(study_id: str, body: Mapping[str, Any]) -> Prepared:
    nifti = _base64(body.get("Nifti"))
    labels = _labels(body.get("Labels", {}))
    options = StoreOptions.from_body({**body, "Segments": sorted(labels) or None})
    frame_of_reference_uid = _uid(body.get("FrameOfReferenceUID"), "FrameOfReferenceUID")
    return lambda context: store_nifti_models(
        study_id, nifti, labels, frame_of_reference_uid, options, context
    )


def _label_import(series_id: str, body: Mapping[str, Any]) -> Prepared:
    request = ImportRequest.from_body(body)
    return lambda context: import_labelmap_file(series_id, request, context)


def _dataset(study_id: str, body: Mapping[str, Any]) -> Prepared:
    request = DatasetRequest.from_body(body)
    return lambda context: export_dataset(request, context)


def _instance_labelmap(instance_id: str, body: Mapping[str, Any]) -> Prepared:
    if body:
        raise BadRequestError("Bad parameters", "the label-map attachment takes none")
    return lambda context: store_labelmap_attachment(instance_id, context)


def _conversion(instance_id: str, body: Mapping[str, Any]) -> Prepared:
    request = ConvertRequest.from_body(body)
    return lambda context: convert_source(instance_id, request, context)


INSTANCE_MODELS = StoringKind("InstanceModels", "instances", _instance_models)
SERIES_MODEL = StoringKind("SeriesModel", "series", _series_model)
NIFTI_MODELS = StoringKind("NiftiModels", "studies", _nifti_models)
CONVERSION = StoringKind("Conversion", "instances", _conversion)
LABEL_IMPORT = StoringKind("LabelMapImport", "series", _label_import)
#: A training dataset; its record lives on the study of its first source.
DATASET = StoringKind("Dataset", "studies", _dataset)
#: The automatic ``LabelMap`` run's job (no route: it has no body).
INSTANCE_LABELMAP = StoringKind("InstanceLabelMap", "instances", _instance_labelmap)

#: Every kind of storing request, by name.
KINDS = {
    kind.name: kind
    for kind in (
        INSTANCE_MODELS,
        SERIES_MODEL,
        NIFTI_MODELS,
        CONVERSION,
        LABEL_IMPORT,
        DATASET,
        INSTANCE_LABELMAP,
    )
}


def is_asynchronous(body: Mapping[str, Any]) -> bool:
    """``"Asynchronous": true`` asks for a job instead of an answer."""
    value = body.get("Asynchronous", False)
    if not isinstance(value, bool):
        raise BadRequestError("Bad parameter Asynchronous", "true or false")
    return value


def _base64(value: Any) -> bytes:
    if not isinstance(value, str) or not value:
        raise BadRequestError("Missing parameter Nifti", "base64 of a .nii or .nii.gz file")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as error:
        raise BadRequestError("Bad parameter Nifti", f"not base64: {error}") from error


def _uid(value: Any, name: str) -> str:
    """An optional UID of the body: "" where absent, 400 where it is not a valid UID."""
    if value is None or value == "":
        return ""
    if not isinstance(value, str) or not UID(value).is_valid:
        raise BadRequestError(f"Bad parameter {name}", f"{value!r} is not a valid UID")
    return value


def _labels(value: Any) -> dict[int, str]:
    """``{"1": "Liver"}`` (JSON keys are strings) to ``{1: "Liver"}``."""
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
