"""What ``POST /segmesh/datasets`` asks for, from its JSON body.

Fields: ``Resources`` (Orthanc ids of studies, series or SEG/RT-STRUCT instances) or ``Query``
(the body of Orthanc's ``/tools/find``), ``Format`` (``nnunet`` or ``hdf5``), ``Labels`` (see
:mod:`.training_labels`), ``Spacing`` ([x, y, z] mm: every case resampled to it), ``CaseNames``
(``Hash``, the default, or ``Number``), ``DatasetName`` and ``ChannelName`` (nnU-Net's).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

from ..errors import BadRequestError
from .training_labels import TrainingLabels

FIELDS = (
    "Resources",
    "Query",
    "Format",
    "Labels",
    "Spacing",
    "CaseNames",
    "DatasetName",
    "ChannelName",
)
E = TypeVar("E", bound=StrEnum)
#: nnU-Net v2's dataset folder name: ``Dataset`` and three digits, then a name.
DATASET_NAME = re.compile(r"Dataset\d{3}_[A-Za-z0-9_-]+")


class DatasetFormat(StrEnum):
    """What the finished file is."""

    NNUNET = "nnunet"  # a zip of nnU-Net v2's raw layout
    HDF5 = "hdf5"  # one HDF5 file, a group per case

    @property
    def suffix(self) -> str:
        """The finished file's suffix."""
        return ".zip" if self is DatasetFormat.NNUNET else ".h5"


class CaseNaming(StrEnum):
    """How cases are named: never by a patient's name or id."""

    HASH = "Hash"  # a stable hash of the study's and the source's UIDs
    NUMBER = "Number"  # case_0001, ... in the order the sources are found


@dataclass(frozen=True)
class DatasetRequest:
    """A parsed dataset request (``resources`` or ``query``: exactly one of them)."""

    resources: tuple[str, ...]
    query: Mapping[str, Any] | None
    format: DatasetFormat
    labels: TrainingLabels | None
    spacing: tuple[float, float, float] | None
    case_naming: CaseNaming
    dataset_name: str
    channel_name: str | None

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> DatasetRequest:
        """Parse the body; 400 naming the first bad field."""
        unknown = sorted(set(body) - set(FIELDS))
        if unknown:
            raise BadRequestError("Unknown parameters", f"{unknown}; known: {list(FIELDS)}")
        resources, query = _resources(body.get("Resources")), body.get("Query")
        if (resources is None) == (query is None):
            raise BadRequestError("Bad parameters", "give either Resources or Query")
        if query is not None and not isinstance(query, dict):
            raise BadRequestError("Bad parameter Query", "the JSON body of /tools/find")
        return cls(
            resources=resources or (),
            query=query,
            format=_choice(DatasetFormat, body.get("Format", "nnunet"), "Format"),
            labels=TrainingLabels.from_body(body.get("Labels")),
            spacing=_spacing(body.get("Spacing")),
            case_naming=_choice(CaseNaming, body.get("CaseNames", "Hash"), "CaseNames"),
            dataset_name=_dataset_name(body.get("DatasetName", "Dataset001_segmesh")),
            channel_name=_text(body.get("ChannelName"), "ChannelName"),
        )


def _resources(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(item, str) and item for item in value)
    ):
        raise BadRequestError("Bad parameter Resources", "a non-empty list of Orthanc ids")
    return tuple(dict.fromkeys(value))


def _choice(kind: type[E], value: Any, name: str) -> E:
    try:
        return kind(value)
    except ValueError as error:
        raise BadRequestError(
            f"Bad parameter {name}", f"{value!r}: one of {[item.value for item in kind]}"
        ) from error


def _spacing(value: Any) -> tuple[float, float, float] | None:
    if value is None:
        return None
    if (
        not isinstance(value, list)
        or len(value) != 3
        or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
        or not all(0 < v < 1000 for v in value)
    ):
        raise BadRequestError("Bad parameter Spacing", "[x, y, z] mm, each above 0")
    return (float(value[0]), float(value[1]), float(value[2]))


def _dataset_name(value: Any) -> str:
    if not isinstance(value, str) or not DATASET_NAME.fullmatch(value):
        raise BadRequestError(
            "Bad parameter DatasetName", f"{value!r}: nnU-Net's form, Dataset001_Name"
        )
    return value


def _text(value: Any, name: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise BadRequestError(f"Bad parameter {name}", "a non-empty text")
    return value.strip()
