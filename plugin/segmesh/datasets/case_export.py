"""One case of a training dataset, exported in a worker (:class:`segmesh.work.ExportCase`): a
SEG or RT-STRUCT's label map and its image series on the series' grid (or resampled to one
spacing), its segments mapped to the training labels, appended to the dataset's file. One case
at a time is in memory."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..dicom.part10 import read_image
from ..images.image_volume import image_volume
from ..options import Grid, LabelMapOptions
from ..settings import Settings
from ..sources import labelmap_of_file
from .dataset_request import DatasetFormat
from .hdf5_dataset import add_hdf5_case
from .nnunet_zip import add_nnunet_case
from .resampling import resample_case
from .training_labelmap import training_labelmap
from .training_labels import TrainingLabels


@dataclass(frozen=True)
class CaseExported:
    """What comes back: the grid written ((slices, rows, columns), (x, y, z) mm), the image's
    Modality, each segment used with its training label, and the labels of the
    segments that matched no training label (left out)."""

    case: str
    shape: tuple[int, int, int]
    spacing: tuple[float, float, float]
    modality: str
    segments: tuple[Mapping[str, Any], ...]
    unmatched: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        """The case's entry in the job's result and the dataset's report."""
        return {
            "Case": self.case,
            "Shape": list(self.shape),
            "Spacing": list(self.spacing),
            "Modality": self.modality,
            "Segments": list(self.segments),
            "Unmatched": list(self.unmatched),
        }


def export_case(
    *,
    case: str,
    source_path: str,
    image_files: Sequence[bytes],
    labels: TrainingLabels,
    spacing: tuple[float, float, float] | None,
    format: DatasetFormat,
    output_path: str,
    dataset_name: str,
    uids: Mapping[str, str],
    settings: Settings,
) -> CaseExported:
    """Read the source's Part-10 file at ``source_path`` on the grid of ``image_files`` (its
    image series), map its segments to ``labels``, resample to ``spacing`` (x, y, z) mm where
    given, and append the case as ``case`` to the ``format`` file at ``output_path`` (with
    ``uids``, the source's identifiers, in HDF5). 422 where the case cannot be exported (no
    grid, overlapping or doubled labels), 400 for an unreadable file."""
    images = [read_image(file) for file in image_files]
    labelmap = labelmap_of_file(source_path, images, LabelMapOptions(grid=Grid.SOURCE), settings)
    case_labels = labels.assign(labelmap.segments)
    count = len(labels.labels)
    label_volume = training_labelmap(labelmap, case_labels, count)
    image = image_volume(images, labelmap.geometry)
    geometry = labelmap.geometry
    modality = str(images[0].get("Modality", "") or "")
    source_labels = {segment.number: segment.label for segment in labelmap.segments}
    del images, labelmap
    if spacing is not None:
        resampled = resample_case(geometry, image, label_volume, spacing)
        geometry, image, label_volume = resampled.geometry, resampled.image, resampled.labels
    if format is DatasetFormat.NNUNET:
        add_nnunet_case(output_path, dataset_name, case, image, label_volume, geometry)
    else:
        add_hdf5_case(output_path, case, image, label_volume, geometry, uids)
    names = {label.value: label.name for label in labels.labels}
    segments = tuple(
        {
            "Number": number,
            "Label": source_labels[number],
            "TrainingLabel": names[value],
            "Value": value,
        }
        for number, value in sorted(case_labels.values.items())
    )
    return CaseExported(
        case, geometry.shape, geometry.spacing, modality, segments, case_labels.unmatched
    )
