"""The storing kinds: each parses its body (a 400 before any work) into the service's task,
now for a synchronous request, or again in a job, from the body the job kept (see
:mod:`segmesh.service.tasks.storing`). Registration hands :data:`KINDS` to the job runner."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import BadRequestError
from ..service.tasks.attached_labelmaps import store_labelmap_attachment
from ..service.tasks.conversions import convert_source
from ..service.tasks.datasets import export_dataset
from ..service.tasks.imports import import_labelmap_file
from ..service.tasks.models import store_nifti_models, store_series_model, store_source_models
from ..service.tasks.storing import (
    CONVERSION_KIND,
    DATASET_KIND,
    INSTANCE_LABELMAP_KIND,
    INSTANCE_MODELS_KIND,
    LABEL_IMPORT_KIND,
    NIFTI_MODELS_KIND,
    SERIES_MODEL_KIND,
    Prepared,
    StoringKind,
)
from .dataset_body import dataset_request
from .mesh_fields import threshold_options
from .storing_bodies import (
    convert_request,
    import_request_of_body,
    nifti_file,
    nifti_labels,
    optional_uid,
    store_options,
)


def _instance_models(instance_id: str, body: Mapping[str, Any]) -> Prepared:
    options = store_options(body)
    return lambda context: store_source_models(instance_id, options, context)


def _series_model(series_id: str, body: Mapping[str, Any]) -> Prepared:
    threshold = threshold_options(body)
    # The threshold keeps the largest bodies on the whole mask: not again on its crop.
    options = store_options({**body, "Segments": None, "Merge": False, "KeepLargest": None})
    return lambda context: store_series_model(series_id, threshold, options, context)


def _nifti_models(study_id: str, body: Mapping[str, Any]) -> Prepared:
    nifti = nifti_file(body)
    labels = nifti_labels(body.get("Labels", {}))
    options = store_options({**body, "Segments": sorted(labels) or None})
    frame_of_reference_uid = optional_uid(body.get("FrameOfReferenceUID"), "FrameOfReferenceUID")
    return lambda context: store_nifti_models(
        study_id, nifti, labels, frame_of_reference_uid, options, context
    )


def _label_import(series_id: str, body: Mapping[str, Any]) -> Prepared:
    request = import_request_of_body(body)
    return lambda context: import_labelmap_file(series_id, request, context)


def _dataset(study_id: str, body: Mapping[str, Any]) -> Prepared:
    request = dataset_request(body)
    return lambda context: export_dataset(request, context)


def _instance_labelmap(instance_id: str, body: Mapping[str, Any]) -> Prepared:
    if body:
        raise BadRequestError("Bad parameters", "the label-map attachment takes none")
    return lambda context: store_labelmap_attachment(instance_id, context)


def _conversion(instance_id: str, body: Mapping[str, Any]) -> Prepared:
    request = convert_request(body)
    return lambda context: convert_source(instance_id, request, context)


INSTANCE_MODELS = StoringKind(INSTANCE_MODELS_KIND, "instances", _instance_models)
SERIES_MODEL = StoringKind(SERIES_MODEL_KIND, "series", _series_model)
NIFTI_MODELS = StoringKind(NIFTI_MODELS_KIND, "studies", _nifti_models)
CONVERSION = StoringKind(CONVERSION_KIND, "instances", _conversion)
LABEL_IMPORT = StoringKind(LABEL_IMPORT_KIND, "series", _label_import)
#: A training dataset; its record lives on the study of its first source.
DATASET = StoringKind(DATASET_KIND, "studies", _dataset)
#: The automatic ``LabelMap`` run's job (no route: it has no body).
INSTANCE_LABELMAP = StoringKind(INSTANCE_LABELMAP_KIND, "instances", _instance_labelmap)

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
