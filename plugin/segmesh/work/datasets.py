"""A training dataset made in the workers: each case appended to the dataset's file, then the
file finished with its index and report."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..datasets.case_export import CaseExported, export_case
from ..datasets.dataset_request import DatasetFormat
from ..datasets.hdf5_dataset import finish_hdf5
from ..datasets.nnunet_zip import finish_nnunet_zip
from ..datasets.training_labels import TrainingLabels
from ..settings import Settings


@dataclass(frozen=True, slots=True)
class ExportCase:
    """One case, named ``case``: the source's Part-10 file at ``source_path`` on the grid of its
    image series' ``image_files`` (or resampled to ``spacing`` (x, y, z) mm; None: the series'
    own), its segments mapped to ``labels``, appended to the ``format`` file at
    ``output_path``. ``uids`` are the source's identifiers kept with the case (HDF5
    attributes). Errors as :func:`segmesh.datasets.case_export.export_case`."""

    case: str
    source_path: str
    image_files: Sequence[bytes]
    labels: TrainingLabels
    spacing: tuple[float, float, float] | None
    format: DatasetFormat
    output_path: str
    dataset_name: str
    uids: Mapping[str, str]
    settings: Settings

    def run(self) -> CaseExported:
        """The case appended; what it holds."""
        return export_case(
            case=self.case,
            source_path=self.source_path,
            image_files=self.image_files,
            labels=self.labels,
            spacing=self.spacing,
            format=self.format,
            output_path=self.output_path,
            dataset_name=self.dataset_name,
            uids=self.uids,
            settings=self.settings,
        )


@dataclass(frozen=True, slots=True)
class FinishNnunetZip:
    """The nnU-Net zip at ``path`` finished: ``dataset_name/dataset.json`` (``channel``'s name,
    ``labels``, ``cases`` in all) and ``dataset_name/report.json`` (``report``)."""

    path: str
    dataset_name: str
    channel: str
    labels: Mapping[str, int]
    cases: int
    report: Mapping[str, Any]

    def run(self) -> None:
        """Both appended."""
        finish_nnunet_zip(
            self.path, self.dataset_name, self.channel, self.labels, self.cases, self.report
        )


@dataclass(frozen=True, slots=True)
class FinishHdf5:
    """The HDF5 dataset at ``path`` finished: its ``case_names`` in order, the slice index,
    the ``labels`` and the ``report``."""

    path: str
    case_names: Sequence[str]
    labels: Mapping[str, int]
    report: Mapping[str, Any]

    def run(self) -> None:
        """The top level written."""
        finish_hdf5(self.path, self.case_names, self.labels, self.report)
