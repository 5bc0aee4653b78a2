"""What ``POST /segmesh/datasets`` asks for (parsed from its JSON body by
:func:`segmesh.requests.dataset_body.dataset_request`).

Fields: ``Resources`` (Orthanc ids of studies, series or SEG/RT-STRUCT instances) or ``Query``
(the body of Orthanc's ``/tools/find``), ``Format`` (``nnunet`` or ``hdf5``), ``Labels`` (see
:mod:`.training_labels`), ``Spacing`` ([x, y, z] mm: every case resampled to it), ``CaseNames``
(``Hash``, the default, or ``Number``), ``DatasetName`` and ``ChannelName`` (nnU-Net's).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from .training_labels import TrainingLabels


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
