"""What marks an object as written by segmesh (models, conversions), so that automatic runs
can skip segmesh's own outputs.

The mark is ``Manufacturer`` (0008,0070) "segmesh": Orthanc keeps it among a series' main
DICOM tags (``/series/{id}`` ``MainDicomTags``, Lua's ``OnStableSeries`` ``tags``), so a script
can tell without reading a file. ``SoftwareVersions`` says "segmesh <version>". The demo study
is an input, not an output: its manufacturer is "segmesh demo".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydicom.dataset import Dataset

from .. import __version__

MANUFACTURER = "segmesh"
MODEL_NAME = "segmesh"
#: The ManufacturerModelName of an imported label map's objects: written by segmesh, but a
#: source (a model's segmentation), whose models automatic runs make as for any other.
IMPORT_MODEL_NAME = "segmesh import"
SOFTWARE_VERSIONS = f"segmesh {__version__}"


def mark_as_written(dataset: Dataset) -> None:
    """Set the equipment attributes (General Equipment, Enhanced General Equipment) to
    segmesh's."""
    dataset.Manufacturer = MANUFACTURER
    dataset.ManufacturerModelName = MODEL_NAME
    dataset.DeviceSerialNumber = "0"
    dataset.SoftwareVersions = SOFTWARE_VERSIONS


def is_written_by_segmesh(tags: Dataset | Mapping[str, Any]) -> bool:
    """Whether a dataset, or Orthanc's main DICOM tags of its series, bear segmesh's mark."""
    return str(tags.get("Manufacturer", "")).strip() == MANUFACTURER


def is_imported(dataset: Dataset) -> bool:
    """Whether a dataset segmesh wrote is an imported label map's (a source, not an output):
    its ManufacturerModelName, which Orthanc's main tags of a series do not hold."""
    return is_written_by_segmesh(dataset) and (
        str(dataset.get("ManufacturerModelName", "")).strip() == IMPORT_MODEL_NAME
    )
