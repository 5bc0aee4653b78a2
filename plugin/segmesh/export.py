"""Label maps as files: NIfTI (.nii.gz), 3D Slicer's .seg.nrrd, NumPy .npz and HDF5.

Every writer takes a :class:`LabelMap` (and optionally the image volume on the same grid) and
nothing specific to SEG or RT-STRUCT. Array conventions of each format:

- npz and HDF5 keep segmesh's order: ``labels`` (layers, slices, rows, columns), ``image``
  (slices, rows, columns), ``affine`` 4x4 mapping [column, row, slice, 1] to LPS mm.
- NIfTI is (i, j, k[, layer]) with a RAS affine (x and y of LPS negated).
- NRRD is (i, j, k), or (layer, i, j, k) with a "list" axis first, in LPS space, with the
  ``Segment{index}_*`` fields 3D Slicer reads.
"""

from __future__ import annotations

import gzip
import io
import json
import zipfile
from collections import OrderedDict
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import h5py
import nibabel as nib
import nrrd
import numpy as np
import numpy.typing as npt
from scipy.ndimage import find_objects

from .labelmap import LabelMap, Segment

#: LPS to RAS: negate x and y.
LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])


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


def segments_json(labelmap: LabelMap) -> str:
    """The segment table as JSON text: Number, Label, Layer, Value, Color and codes."""
    return json.dumps([segment.to_json() for segment in labelmap.segments])


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


def to_npz(labelmap: LabelMap, image: npt.NDArray[Any] | None = None) -> bytes:
    """Arrays ``labels``, ``affine``, ``segments`` (JSON text) and optionally ``image``.

    Uncompressed: writing is then as fast as copying, and label maps are read with mmap."""
    arrays: dict[str, npt.NDArray[Any]] = {
        "labels": labelmap.layers,
        "affine": labelmap.geometry.affine,
        "segments": np.array(segments_json(labelmap)),
    }
    if image is not None:
        arrays["image"] = image
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)  # type: ignore[arg-type]
    return buffer.getvalue()


def ras_affine(labelmap: LabelMap) -> npt.NDArray[np.float64]:
    """The NIfTI affine: [i, j, k, 1] to RAS mm."""
    return np.asarray(LPS_TO_RAS @ labelmap.geometry.affine, dtype=np.float64)


def _nifti_bytes(data: npt.NDArray[Any], affine: npt.NDArray[np.float64]) -> bytes:
    """``data`` (i, j, k[, layer]) with the RAS ``affine`` as a gzip NIfTI-1 file."""
    image = nib.Nifti1Image(data, affine)
    image.header.set_xyzt_units("mm")
    image.set_qform(affine, code=1)
    image.set_sform(affine, code=1)
    raw = image.to_bytes()
    return gzip.compress(raw, compresslevel=1)


def to_nifti(labelmap: LabelMap) -> bytes:
    """A gzip NIfTI-1 file: (i, j, k) for one layer, (i, j, k, layer) for several."""
    layers = labelmap.layers
    data = layers[0].T if layers.shape[0] == 1 else np.transpose(layers, (3, 2, 1, 0))
    return _nifti_bytes(data, ras_affine(labelmap))


def image_to_nifti(labelmap: LabelMap, image: npt.NDArray[Any]) -> bytes:
    """The image volume (slices, rows, columns) as a gzip NIfTI-1 file on the label map's grid."""
    return _nifti_bytes(image.T, ras_affine(labelmap))


def _color_text(segment: Segment) -> str:
    return " ".join(f"{channel / 255:.6f}" for channel in segment.color)


def _code_text(code: Any) -> str:
    if not code:
        return "^^"
    return f"{code['CodingSchemeDesignator']}^{code['CodeValue']}^{code['CodeMeaning']}"


def _terminology(segment: Segment) -> str:
    """Slicer's TerminologyEntry tag: context~category~type~modifier~region context~region~mod."""
    category = _code_text(segment.attributes.get("Category"))
    kind = _code_text(segment.attributes.get("Type"))
    modifier = _code_text(segment.attributes.get("TypeModifier"))
    return (
        "Segmentation category and type - DICOM master list"
        f"~{category}~{kind}~{modifier}~Anatomic codes - DICOM master list~^^~^^"
    )


def _extents(labelmap: LabelMap) -> dict[int, str]:
    """Slicer's ``_Extent`` of each segment, by number: 'i0 i1 j0 j1 k0 k1' of its voxels,
    '0 -1 0 -1 0 -1' where it has none. One pass per layer (find_objects), not per segment."""
    extents = {}
    for layer_index, layer in enumerate(labelmap.layers):
        boxes = find_objects(layer)
        for segment in labelmap.segments:
            if segment.layer != layer_index:
                continue
            box = boxes[segment.value - 1] if segment.value <= len(boxes) else None
            if box is None:
                extents[segment.number] = "0 -1 0 -1 0 -1"
                continue
            k, j, i = box
            extents[segment.number] = (
                f"{i.start} {i.stop - 1} {j.start} {j.stop - 1} {k.start} {k.stop - 1}"
            )
    return extents


def nrrd_header(labelmap: LabelMap) -> OrderedDict[str, Any]:
    """The header of a .seg.nrrd in 3D Slicer's segmentation convention."""
    geometry = labelmap.geometry
    layers = labelmap.layers.shape[0]
    directions = geometry.affine[:3, :3].T  # one row per axis i, j, k
    header: OrderedDict[str, Any] = OrderedDict()
    header["space"] = "left-posterior-superior"
    header["space origin"] = geometry.affine[:3, 3]
    if layers == 1:
        header["kinds"] = ["domain", "domain", "domain"]
        header["space directions"] = directions
    else:
        header["kinds"] = ["list", "domain", "domain", "domain"]
        header["space directions"] = np.vstack([np.full(3, np.nan), directions])
    header["encoding"] = "gzip"
    header["Segmentation_MasterRepresentation"] = "Binary labelmap"
    header["Segmentation_ContainedRepresentationNames"] = "Binary labelmap|"
    header["Segmentation_ReferenceImageExtentOffset"] = "0 0 0"
    extents = _extents(labelmap)
    for index, segment in enumerate(labelmap.segments):
        prefix = f"Segment{index}_"
        header[prefix + "ID"] = f"Segment_{segment.number}"
        header[prefix + "Name"] = segment.label or f"Segment {segment.number}"
        header[prefix + "NameAutoGenerated"] = "0"
        header[prefix + "Color"] = _color_text(segment)
        header[prefix + "ColorAutoGenerated"] = "0"
        header[prefix + "LabelValue"] = str(segment.value)
        header[prefix + "Layer"] = str(segment.layer)
        header[prefix + "Extent"] = extents[segment.number]
        header[prefix + "Tags"] = f"TerminologyEntry:{_terminology(segment)}|"
    return header


def to_seg_nrrd(labelmap: LabelMap) -> bytes:
    """A gzip .seg.nrrd that 3D Slicer opens with names, colours and layers."""
    layers = labelmap.layers
    data = layers[0].T if layers.shape[0] == 1 else np.transpose(layers, (0, 3, 2, 1))
    buffer = io.BytesIO()
    nrrd.write(buffer, data, nrrd_header(labelmap), compression_level=1)
    return buffer.getvalue()


def to_hdf5(labelmap: LabelMap, image: npt.NDArray[Any] | None = None) -> bytes:
    """An HDF5 file: ``labels`` (layers, slices, rows, columns) and optionally ``image``
    (slices, rows, columns), chunked per slice; attributes ``affine`` and ``segments``."""
    _, _, rows, columns = labelmap.layers.shape
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as h5:
        labels = h5.create_dataset(
            "labels",
            data=labelmap.layers,
            chunks=(1, 1, rows, columns),
            compression="gzip",
            compression_opts=1,
        )
        labels.attrs["axes"] = "layer, slice, row, column"
        if image is not None:
            volume = h5.create_dataset(
                "image",
                data=image,
                chunks=(1, rows, columns),
                compression="gzip",
                compression_opts=1,
            )
            volume.attrs["axes"] = "slice, row, column"
        h5.attrs["affine"] = labelmap.geometry.affine
        h5.attrs["affine_maps"] = "[column, row, slice, 1] to LPS mm"
        h5.attrs["segments"] = segments_json(labelmap)
        h5.attrs["FrameOfReferenceUID"] = labelmap.geometry.frame_of_reference_uid
    return buffer.getvalue()
