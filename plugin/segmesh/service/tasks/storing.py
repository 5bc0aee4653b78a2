"""The storing kinds, as the service runs them: each parses a request's body first (a bad
body is a 400 before any work), then runs now (a synchronous request) or later, in a job,
with the same body.

A job keeps only the kind, the resource and the body (JSON), so that any node can run it
again after a restart by parsing the body anew with the same function. The parsing lives
above the service (:mod:`segmesh.requests.storing_kinds`), which hands the kinds to the job
runner; the service knows them by name only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .context import TaskContext

#: A parsed request, ready to run.
Prepared = Callable[[TaskContext], dict[str, Any]]

#: The kinds' names, as job records and automatic runs name them.
INSTANCE_MODELS_KIND = "InstanceModels"
SERIES_MODEL_KIND = "SeriesModel"
NIFTI_MODELS_KIND = "NiftiModels"
CONVERSION_KIND = "Conversion"
LABEL_IMPORT_KIND = "LabelMapImport"
DATASET_KIND = "Dataset"
INSTANCE_LABELMAP_KIND = "InstanceLabelMap"


@dataclass(frozen=True)
class StoringKind:
    """``name`` is the job's Kind; ``level`` the resource path the route is under; ``prepare``
    parses a body for a resource (400 where it is bad) into the task to run."""

    name: str
    level: str
    prepare: Callable[[str, Mapping[str, Any]], Prepared]
