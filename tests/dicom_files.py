"""The SEG and RT-STRUCT files of the shared test data, found by SOP Class UID."""

from __future__ import annotations

from io import BytesIO
from pathlib import Path

import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ImplicitVRLittleEndian

from segmesh.dicom.sop_classes import RT_STRUCTURE_SET_STORAGE, SEGMENTATION_SOP_CLASSES
from tests.testdata import TESTDATA


def source_files() -> list[Path]:
    """Every SEG and RT-STRUCT under shared/testdata (empty where it is absent)."""
    found = []
    for path in sorted(TESTDATA.rglob("*")) if TESTDATA.exists() else []:
        if not path.is_file() or path.suffix in (".md", ".gz", ".nii", ".txt"):
            continue
        try:
            dataset = pydicom.dcmread(path, stop_before_pixels=True, force=True)
        except Exception:
            continue
        if str(dataset.get("SOPClassUID", "")) in (
            *SEGMENTATION_SOP_CLASSES,
            RT_STRUCTURE_SET_STORAGE,
        ):
            found.append(path)
    return found


def part10_bytes(path: Path) -> bytes:
    """The file as Orthanc accepts it: files without a Part-10 header get one, content unchanged."""
    data = path.read_bytes()
    if data[128:132] == b"DICM":
        return data
    dataset: Dataset = pydicom.dcmread(BytesIO(data), force=True)
    dataset.file_meta = FileMetaDataset()
    dataset.file_meta.MediaStorageSOPClassUID = dataset.SOPClassUID
    dataset.file_meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID
    dataset.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
    buffer = BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()
