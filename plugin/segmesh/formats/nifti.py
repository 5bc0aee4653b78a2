"""NIfTI-1 files: label maps and image volumes out, label maps in.

The NIfTI world is RAS: segmesh's LPS affines become RAS by negating x and y (and back).
NIfTI arrays are indexed [i, j, k]; label maps are [k, j, i]."""

from __future__ import annotations

import gzip
import io
import zlib
from collections.abc import Mapping
from typing import Any

import nibabel as nib
import numpy as np
import numpy.typing as npt
from isal import isal_zlib

from ..dicom.color import default_color
from ..errors import BadRequestError, BrokenFileError, UnprocessableError
from ..geometry import VolumeGeometry
from ..labelmap import LabelMap, Segment
from ..settings import Settings
from .label_volume import (
    LabelVolume,
    check_affine,
    check_size,
    check_voxels,
    label_values,
    spatial_shape,
)

#: LPS to RAS: negate x and y.
#: LPS to RAS and back: negate x and y.
LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])


def ras_affine(labelmap: LabelMap) -> npt.NDArray[np.float64]:
    """The NIfTI affine: [i, j, k, 1] to RAS mm."""
    return np.asarray(LPS_TO_RAS @ labelmap.geometry.affine, dtype=np.float64)


#: The largest dimension NIfTI-1 holds (its header's int16 ``dim``); NIfTI-2's are int64.
NIFTI1_MAX_DIMENSION = int(np.iinfo(nib.Nifti1Header.template_dtype["dim"].base).max)


def nifti_bytes(data: npt.NDArray[Any], affine: npt.NDArray[np.float64]) -> bytes:
    """``data`` (i, j, k[, layer]) with the RAS ``affine`` as a gzip NIfTI-1 file, or NIfTI-2
    where a dimension exceeds :data:`NIFTI1_MAX_DIMENSION` voxels."""
    # NIfTI-1 wherever it fits: more tools read it than NIfTI-2.
    fits = max(data.shape) <= NIFTI1_MAX_DIMENSION
    image = (nib.Nifti1Image if fits else nib.Nifti2Image)(data, affine)
    image.header.set_xyzt_units("mm")
    image.set_qform(affine, code=1)
    image.set_sform(affine, code=1)
    image.update_header()
    # The bytes nibabel's to_bytes() makes (unscaled: slope 1, intercept 0), without its copy
    # of the volume: the header, then the voxels straight from ``data`` into the compressor.
    header = image.header.copy()
    header.set_data_offset(header.single_vox_offset)
    header.set_slope_inter(1.0, 0.0)
    written = io.BytesIO()
    header.write_to(written)
    head = written.getvalue().ljust(int(header.get_data_offset()), b"\0")
    # (i, j, k) in Fortran order is the C order of the (k, j, i) volume it usually views.
    voxels = np.asfortranarray(data).ravel(order="F")
    # ISA-L's deflate in gzip form (wbits 31): zlib's level-1 stream in a quarter of the time.
    compressor = isal_zlib.compressobj(1, isal_zlib.DEFLATED, 31)
    return compressor.compress(head) + compressor.compress(voxels) + compressor.flush()


def to_nifti(labelmap: LabelMap) -> bytes:
    """A gzip NIfTI file (:func:`nifti_bytes`): (i, j, k) for one layer, (i, j, k, layer) for
    several."""
    layers = labelmap.layers
    data = layers[0].T if layers.shape[0] == 1 else np.transpose(layers, (3, 2, 1, 0))
    return nifti_bytes(data, ras_affine(labelmap))


def image_to_nifti(labelmap: LabelMap, image: npt.NDArray[Any]) -> bytes:
    """The image volume (slices, rows, columns) as a gzip NIfTI file (:func:`nifti_bytes`) on
    the label map's grid."""
    return nifti_bytes(image.T, ras_affine(labelmap))


GZIP_MAGIC = b"\x1f\x8b"


def _image(data: bytes) -> nib.Nifti1Image:
    if data[:2] == GZIP_MAGIC:
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as error:
            raise BrokenFileError("Not a NIfTI file", f"broken gzip stream: {error}") from error
    for image_class in (nib.Nifti1Image, nib.Nifti2Image):
        try:
            return image_class.from_bytes(data)
        except Exception:  # nibabel raises many types for foreign bytes: try the next format
            continue
    raise BrokenFileError("Not a NIfTI file", "neither NIfTI-1 nor NIfTI-2")


def world_affine(image: nib.Nifti1Image) -> npt.NDArray[np.float64]:
    """The 4x4 RAS affine: sform where sform_code > 0, else qform where qform_code > 0;
    422 where neither is set, or where the chosen one is singular (say, a zero voxel size)."""
    header = image.header
    sform, sform_code = header.get_sform(coded=True)
    qform, qform_code = header.get_qform(coded=True)
    if sform is not None and int(sform_code) > 0:
        return check_affine(sform, "NIfTI", "sform")
    if qform is not None and int(qform_code) > 0:
        return check_affine(qform, "NIfTI", "qform")
    raise UnprocessableError(
        "No NIfTI orientation", "sform_code and qform_code are both 0: no world coordinates"
    )


def read_nifti_labels(data: bytes, settings: Settings) -> LabelVolume:
    """The label map of a NIfTI-1 or NIfTI-2 file (gzip or not) on its own grid.

    400 for a file that is not NIfTI or not integer labels, 413 above MaxNiftiMegabytes or
    MaxVoxels, 422 for a 4-D file or one without world coordinates.
    """
    check_size(data, settings.max_nifti_megabytes, "NIfTI")
    image = _image(data)
    shape = spatial_shape(image.shape, "NIfTI")
    check_voxels(shape, settings.max_voxels)
    lps = LPS_TO_RAS @ world_affine(image)
    values = label_values(np.asanyarray(image.dataobj).reshape(shape))
    version = "NIfTI-2" if isinstance(image, nib.Nifti2Image) else "NIfTI-1"
    return LabelVolume(values[np.newaxis], lps, (), version)


def nifti_labelmap(
    data: bytes,
    labels: Mapping[int, str],
    frame_of_reference_uid: str,
    settings: Settings,
) -> LabelMap:
    """The label map of a NIfTI file on its own grid; ``labels`` names values (others are
    "Label n"). Errors as :func:`read_nifti_labels`; 400 for labels absent from the file.
    """
    read = read_nifti_labels(data, settings)
    present = read.numbers
    unknown = sorted(set(labels) - set(present))
    if unknown:
        raise BadRequestError("Unknown label", f"values {unknown} do not occur in the NIfTI")
    numbers = sorted(labels) if labels else present
    segments = tuple(
        Segment(number, labels.get(number, f"Label {number}"), default_color(number))
        for number in numbers
    )
    # [i, j, k] -> [k, j, i]
    volume = np.ascontiguousarray(read.layers[0].transpose(2, 1, 0))
    lps = read.affine
    k = np.arange(volume.shape[0], dtype=np.float64)[:, None]
    geometry = VolumeGeometry(
        shape=(volume.shape[0], volume.shape[1], volume.shape[2]),
        affine=lps,
        frame_of_reference_uid=frame_of_reference_uid,
        slice_positions=lps[:3, 3] + k * lps[:3, 2],
    )
    return LabelMap(volume[np.newaxis], geometry, segments)
