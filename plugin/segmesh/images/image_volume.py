"""The referenced image series as one volume on the label map's grid, rescale applied
(Hounsfield units for CT), for ``include=image``."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from pydicom.dataset import Dataset
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

from ..dicom.attributes import first_item, float_value, functional_group_item
from ..dicom.malformed import as_broken_file
from ..errors import UnprocessableError, UnsupportedError
from ..geometry import VolumeGeometry, geometry_from_images
from .cross_sections import Voxel, checked_voxel


def _rescale(dataset: Dataset, frame: int) -> tuple[float, float]:
    """(RescaleSlope, RescaleIntercept) of one frame: per-frame, shared, then top level."""
    per_frame_groups = dataset.get("PerFrameFunctionalGroupsSequence")
    item = functional_group_item(
        per_frame_groups[frame] if per_frame_groups else None,
        first_item(dataset, "SharedFunctionalGroupsSequence"),
        "PixelValueTransformationSequence",
        "RescaleSlope",
    )
    source = item if item is not None else dataset
    slope = float_value(source.get("RescaleSlope", 1) or 1, "RescaleSlope")
    return slope, float_value(source.get("RescaleIntercept", 0) or 0, "RescaleIntercept")


#: Transfer syntaxes whose Pixel Data is the stored values, little-endian, one after another.
_NATIVE_LITTLE_ENDIAN = frozenset((ImplicitVRLittleEndian, ExplicitVRLittleEndian))


def _native_pixels(dataset: Dataset) -> npt.NDArray[Any] | None:
    """The stored values read straight from the Pixel Data bytes (no copy), where they are
    native little-endian with every allocated bit stored (8, 16 or 32): what pydicom's
    ``pixel_array`` gives them, in a fraction of its time. None for anything else."""
    meta = getattr(dataset, "file_meta", None)
    syntax = meta.get("TransferSyntaxUID") if meta is not None else None
    data = dataset.get("PixelData")
    if syntax not in _NATIVE_LITTLE_ENDIAN or not isinstance(data, bytes):
        return None
    bits = int(dataset.get("BitsAllocated", 0) or 0)
    if bits not in (8, 16, 32) or int(dataset.get("BitsStored", 0) or 0) != bits:
        return None
    frames = int(dataset.get("NumberOfFrames", 1) or 1)
    shape = (frames, int(dataset.Rows), int(dataset.Columns))
    kind = "i" if int(dataset.get("PixelRepresentation", 0) or 0) == 1 else "u"
    dtype = np.dtype(f"<{kind}{bits // 8}")
    count = shape[0] * shape[1] * shape[2]
    if len(data) < count * dtype.itemsize:
        return None  # pydicom says what is missing
    values = np.frombuffer(data, dtype, count).reshape(shape)
    return values if frames > 1 else values[0]


def _pixel_array(dataset: Dataset) -> npt.NDArray[Any]:
    """(rows, columns), or (frames, rows, columns), stored values of a grey-scale image."""
    samples = int(dataset.get("SamplesPerPixel", 1) or 1)
    if samples != 1:
        # (rows, columns, samples) would be taken for frames; a label map has one value a voxel.
        raise UnsupportedError(
            "Not a grey-scale image", f"SamplesPerPixel {samples}: include=image needs 1"
        )
    native = _native_pixels(dataset)
    if native is not None:
        return native
    try:
        return np.asarray(dataset.pixel_array)
    except (AttributeError, ValueError, RuntimeError, NotImplementedError) as error:
        raise UnsupportedError("Cannot decode the image pixels", str(error)) from error


def _stored_planes(
    images: Sequence[Dataset],
    geometry: VolumeGeometry,
    with_pixels: Callable[[int], Dataset] | None,
) -> tuple[bool, Iterator[tuple[npt.NDArray[Any], float, float]]]:
    """Whether every rescale is in whole numbers, and each slice k of ``geometry`` in order:
    its (rows, columns) stored values with its (RescaleSlope, RescaleIntercept)."""
    read = with_pixels or images.__getitem__
    image_geometry, sources = geometry_from_images(images)
    if image_geometry.shape != geometry.shape or not np.allclose(
        image_geometry.affine, geometry.affine, atol=1e-3
    ):
        raise UnprocessableError(
            "Images not on the label map's grid", "include=image needs grid=source"
        )
    rescales = [_rescale(images[dataset], frame) for dataset, frame in sources]
    whole = all(slope.is_integer() and intercept.is_integer() for slope, intercept in rescales)

    def planes() -> Iterator[tuple[npt.NDArray[Any], float, float]]:
        multi_frame: dict[int, npt.NDArray[Any]] = {}  # decoded once, used for many slices
        for (dataset, frame), (slope, intercept) in zip(sources, rescales, strict=True):
            pixels = multi_frame.get(dataset)
            if pixels is None:
                pixels = _pixel_array(read(dataset))
                if pixels.ndim == 3:
                    multi_frame[dataset] = pixels
            yield (pixels[frame] if pixels.ndim == 3 else pixels), slope, intercept

    return whole, planes()


def _whole_rescale(plane: npt.NDArray[Any], slope: float, intercept: float) -> npt.NDArray[Any]:
    """int64 ``plane * slope + intercept`` (whole slope and intercept)."""
    values = plane.astype(np.int64)
    if slope != 1:
        values *= int(slope)
    values += int(intercept)
    return values


def rescaled_slices(
    images: Sequence[Dataset],
    geometry: VolumeGeometry,
    with_pixels: Callable[[int], Dataset] | None = None,
) -> tuple[bool, Iterator[npt.NDArray[Any]]]:
    """Whether every rescale is in whole numbers, and each slice k of ``geometry`` in order:
    (rows, columns) values after the modality rescale, int64 where whole, else float32. One
    slice at a time, so that a caller may reduce them without holding the volume. 422 where
    the images are not on ``geometry``.

    ``with_pixels(n)``, where given, reads image n with its pixels when its slices are
    decoded, so that ``images`` may be headers only and no more than one image's pixels are
    held at a time."""
    whole, planes = _stored_planes(images, geometry, with_pixels)

    def slices() -> Iterator[npt.NDArray[Any]]:
        for plane, slope, intercept in planes:
            if whole:
                yield _whole_rescale(plane, slope, intercept)
            else:
                yield plane * np.float32(slope) + np.float32(intercept)

    return whole, slices()


def _fit_int16(*values: int) -> bool:
    return all(-32768 <= value <= 32767 for value in values)


def _rescale_into_int16(
    target: npt.NDArray[np.int16], plane: npt.NDArray[Any], slope: int, intercept: int
) -> bool:
    """Write ``plane * slope + intercept`` into ``target`` (rows, columns) in int16
    arithmetic, exact where the stored values, each step and the results fit in int16 (CT
    in HU: no int64 or float temporary); False, nothing written, where they do not."""
    if plane.dtype.kind not in "iu" or plane.dtype.itemsize > 2 or not plane.size:
        return False
    low, high = int(plane.min()), int(plane.max())
    steps = (low * slope, high * slope, low * slope + intercept, high * slope + intercept)
    if not _fit_int16(low, high, slope, intercept, *steps):
        return False
    stored = (
        plane.view(np.int16) if plane.dtype == np.uint16 else plane.astype(np.int16, copy=False)
    )
    if slope != 1:
        np.multiply(stored, np.int16(slope), out=target)
        stored = target
    np.add(stored, np.int16(intercept), out=target)
    return True


def image_slices(
    images: Sequence[Dataset],
    geometry: VolumeGeometry,
    with_pixels: Callable[[int], Dataset] | None = None,
) -> Iterator[npt.NDArray[Any]]:
    """Each slice k of :func:`image_volume`, in order, one at a time: (rows, columns) int16
    where its values fit (a buffer, overwritten by the next slice), int64 for a whole rescale
    whose values do not (the volume is then int32), float32 where a rescale is not whole.
    ``with_pixels`` as in :func:`rescaled_slices`. 422 where the images are not on
    ``geometry``."""
    whole, planes = _stored_planes(images, geometry, with_pixels)
    buffer = np.empty(geometry.shape[1:], dtype=np.int16)
    for plane, slope, intercept in planes:
        if not whole:  # float64 for 32-bit stored values: the volume holds float32
            yield (plane * np.float32(slope) + np.float32(intercept)).astype(np.float32, copy=False)
        elif _rescale_into_int16(buffer, plane, int(slope), int(intercept)):
            yield buffer
        else:
            values = _whole_rescale(plane, slope, intercept)
            if values.size and (values.min() < -32768 or values.max() > 32767):
                yield values
            else:
                buffer[...] = values
                yield buffer


@as_broken_file
def image_volume(images: Sequence[Dataset], geometry: VolumeGeometry) -> npt.NDArray[Any]:
    """(slices, rows, columns) pixel values of ``images`` on ``geometry`` with the modality
    rescale applied: int16 (or int32) where slopes and intercepts are whole numbers, as for CT
    in Hounsfield units, else float32. 422 where the images are not on ``geometry``."""
    volume: npt.NDArray[Any] | None = None
    # Slice by slice into int16 while every slice fits (CT in HU does): no whole-volume int32
    # or float64 temporary, no final cast. A slice that does not fit widens the volume once.
    for k, values in enumerate(image_slices(images, geometry)):
        if volume is None:
            volume = np.empty(
                geometry.shape, np.float32 if values.dtype == np.float32 else np.int16
            )
        if values.dtype == np.int64 and volume.dtype == np.int16:
            volume = volume.astype(np.int32)
        volume[k] = values
    if volume is None:  # no slice
        return np.empty(geometry.shape, np.int16)
    return volume


@as_broken_file
def image_cross_sections(
    images: Sequence[Dataset], geometry: VolumeGeometry, voxel: Voxel | None
) -> npt.NDArray[Any]:
    """The values of :func:`image_volume` on the three planes through ``voxel`` (the centre
    where None), laid out as :func:`segmesh.images.cross_sections.cross_sections` says, without the
    volume: each image decoded in turn and only its rows and columns kept. int16 where they
    fit (int32 else) for whole rescales, float32 otherwise. 400 where ``voxel`` is outside."""
    i, j, k = checked_voxel(geometry.shape, voxel)
    whole, planes = _stored_planes(images, geometry, None)
    axial: list[npt.NDArray[Any]] = []
    rows, columns = [], []
    for n, (plane, slope, intercept) in enumerate(planes):
        kept = (plane, plane[j], plane[:, i]) if n == k else (plane[j], plane[:, i])
        if whole:
            values = [_whole_rescale(part, slope, intercept) for part in kept]
        else:
            values = [part * np.float32(slope) + np.float32(intercept) for part in kept]
        if n == k:
            axial = [values.pop(0)]
        rows.append(values[0])
        columns.append(values[1])
    joined = np.concatenate([axial[0].ravel(), np.ravel(rows), np.ravel(columns)])
    if not whole:
        return joined.astype(np.float32)
    fits = joined.size == 0 or (joined.min() >= -32768 and joined.max() <= 32767)
    return joined.astype(np.int16 if fits else np.int32)
