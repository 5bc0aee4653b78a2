"""Label maps as files: the choice of format, and what each answer carries.

Every writer takes a :class:`LabelMap` (and optionally the image volume on the same grid) and
nothing specific to SEG or RT-STRUCT. Array conventions of each format:

- npz and HDF5 keep segmesh's order: ``labels`` (layers, slices, rows, columns), ``image``
  (slices, rows, columns), ``affine`` 4x4 mapping [column, row, slice, 1] to LPS mm.
- NIfTI is (i, j, k[, layer]) with a RAS affine (x and y of LPS negated).
- NRRD is (i, j, k), or (layer, i, j, k) with a "list" axis first, in LPS space, with the
  ``Segment{index}_*`` fields 3D Slicer reads.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy.typing as npt

from ..labelmap import LabelMap
from .hdf5 import to_hdf5
from .nifti import image_to_nifti, to_nifti
from .npz import to_npz
from .nrrd import to_seg_nrrd


class Format(StrEnum):
    """Label map file formats."""

    NIFTI = "nifti"
    NRRD = "nrrd"
    NPZ = "npz"
    HDF5 = "hdf5"


@dataclass(frozen=True)
class ExportedFile:
    """A written file: its bytes, MIME type and file name extension (with the dot)."""

    body: bytes
    mime_type: str
    extension: str


def export(
    labelmap: LabelMap, file_format: Format, image: npt.NDArray[Any] | None = None
) -> ExportedFile:
    """``labelmap`` (and ``image``, (slices, rows, columns) on the same grid) as a file."""
    if image is not None and image.shape != labelmap.geometry.shape:
        raise ValueError(f"image shape {image.shape} is not the grid's {labelmap.geometry.shape}")
    if file_format is Format.NPZ:
        return ExportedFile(to_npz(labelmap, image), "application/octet-stream", ".npz")
    if file_format is Format.HDF5:
        return ExportedFile(to_hdf5(labelmap, image), "application/x-hdf5", ".h5")
    if file_format is Format.NRRD:
        return ExportedFile(to_seg_nrrd(labelmap), "application/octet-stream", ".seg.nrrd")
    if image is None:
        return ExportedFile(to_nifti(labelmap), "application/gzip", ".nii.gz")
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as zipped:
        zipped.writestr("labels.nii.gz", to_nifti(labelmap))
        zipped.writestr("image.nii.gz", image_to_nifti(labelmap, image))
    return ExportedFile(archive.getvalue(), "application/zip", ".zip")
