"""Which kind of DICOM object an instance is, by its SOP Class UID."""

from __future__ import annotations

from enum import StrEnum

from pydicom.dataset import Dataset

from ..errors import UnsupportedError

SEGMENTATION_STORAGE = "1.2.840.10008.5.1.4.1.1.66.4"
LABEL_MAP_SEGMENTATION_STORAGE = "1.2.840.10008.5.1.4.1.1.66.7"
RT_STRUCTURE_SET_STORAGE = "1.2.840.10008.5.1.4.1.1.481.3"
ENCAPSULATED_STL_STORAGE = "1.2.840.10008.5.1.4.1.1.104.3"

SEGMENTATION_SOP_CLASSES = (SEGMENTATION_STORAGE, LABEL_MAP_SEGMENTATION_STORAGE)
#: The SOP classes of every source segmesh converts.
SOURCE_SOP_CLASSES = (*SEGMENTATION_SOP_CLASSES, RT_STRUCTURE_SET_STORAGE)


class Kind(StrEnum):
    """The kinds of source segmesh converts, named by their Modality."""

    SEG = "SEG"
    RTSTRUCT = "RTSTRUCT"


def kind_of(dataset: Dataset) -> Kind:
    """The kind of ``dataset``; raises :class:`UnsupportedError` (415) for anything else."""
    sop_class_uid = str(dataset.get("SOPClassUID", ""))
    if sop_class_uid in SEGMENTATION_SOP_CLASSES:
        return Kind.SEG
    if sop_class_uid == RT_STRUCTURE_SET_STORAGE:
        return Kind.RTSTRUCT
    modality = dataset.get("Modality", "")
    raise UnsupportedError(
        "Not a DICOM SEG or RT-STRUCT",
        f"SOP Class UID {sop_class_uid or '(none)'}, modality {modality or '(none)'}",
    )
