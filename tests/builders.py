"""Builders of the synthetic inputs that tests and benchmarks share: CT series, highdicom SEGs,
RT-STRUCTs of masks, and label maps of many ellipsoids.

CT slices come from the demo phantom's :func:`segmesh.demo.ct_slices` (the package never
imports tests). Arrays are (slices, rows, columns) unless said otherwise; lengths are mm in
patient LPS; PixelSpacing is (row spacing, column spacing). Benchmarks import this module as
``from tests.builders import ...`` with the project folder on ``sys.path``.
"""

from __future__ import annotations

import copy
import datetime
import math
from collections.abc import Sequence

import highdicom as hd
import numpy as np
import numpy.typing as npt
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes
from pydicom.sr.coding import Code
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from segmesh.demo import ct_slices, study_attributes
from segmesh.geometry import geometry_from_images
from segmesh.rtstruct.writer import RoiMask, write_rtstruct

AXIAL = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)


def study_dataset(
    patient_name: str = "Test^Builders",
    patient_id: str = "BUILDERS",
    study_instance_uid: str | None = None,
) -> Dataset:
    """Patient and study attributes for :func:`ct_series` (a new StudyInstanceUID by default)."""
    return study_attributes(patient_name, patient_id, study_instance_uid or generate_uid())


def ct_images(
    positions: npt.ArrayLike,
    pixel_spacing: tuple[float, float],
    pixels: npt.NDArray[np.integer],
    orientation: Sequence[float] = AXIAL,
    *,
    slice_thickness: float | None = None,
    rescale_intercept: float = 0,
    study: Dataset | None = None,
    frame_of_reference_uid: str | None = None,
    series_instance_uid: str | None = None,
    sop_instance_uids: Sequence[str] | None = None,
) -> list[Dataset]:
    """CT images at given planes, in that order.

    ``positions`` (slices, 3) ImagePositionPatient; ``pixel_spacing`` (row, column) mm;
    ``pixels`` (slices, rows, columns) int16 stored values (HU = value + ``rescale_intercept``);
    ``orientation`` (6,) ImageOrientationPatient. New UIDs where none are given.
    """
    count = len(pixels)
    return ct_slices(
        pixels,
        positions,
        pixel_spacing,
        study if study is not None else study_dataset(),
        series_instance_uid=series_instance_uid or generate_uid(),
        frame_of_reference_uid=frame_of_reference_uid or generate_uid(),
        sop_instance_uids=sop_instance_uids or [generate_uid() for _ in range(count)],
        orientation=orientation,
        slice_thickness=slice_thickness,
        rescale_intercept=rescale_intercept,
        series_description="Synthetic CT",
    )


def ct_series(
    shape: tuple[int, int, int],
    spacing: tuple[float, float, float],
    origin: Sequence[float] = (0.0, 0.0, 0.0),
    orientation: Sequence[float] = AXIAL,
    *,
    pixels: npt.NDArray[np.integer] | None = None,
    rescale_intercept: float = 0,
    study: Dataset | None = None,
    frame_of_reference_uid: str | None = None,
) -> list[Dataset]:
    """A CT series on a regular grid, in slice order.

    ``shape`` (slices, rows, columns); ``spacing`` (row, column, slice) mm, the slice step
    along the normal of ``orientation`` and the SliceThickness; ``origin`` (3,) the first
    slice's ImagePositionPatient, mm (positions rounded to 1e-6 mm); ``pixels`` (slices, rows,
    columns) int16 stored values, zeros by default.
    """
    row_direction = np.array(orientation[:3], dtype=float)
    column_direction = np.array(orientation[3:], dtype=float)
    normal = np.cross(row_direction, column_direction)
    positions = [
        [round(float(v), 6) for v in np.asarray(origin, dtype=float) + k * spacing[2] * normal]
        for k in range(shape[0])
    ]
    return ct_images(
        positions,
        (spacing[0], spacing[1]),
        np.zeros(shape, dtype=np.int16) if pixels is None else pixels,
        orientation,
        slice_thickness=spacing[2],
        rescale_intercept=rescale_intercept,
        study=study,
        frame_of_reference_uid=frame_of_reference_uid,
    )


def seg(
    images: Sequence[Dataset],
    pixel_array: npt.NDArray[np.generic],
    labels: Sequence[str],
    segmentation_type: str = "BINARY",
    *,
    property_types: Sequence[Code] | None = None,
    category: Code = codes.SCT.Organ,
    automatic: bool = False,
    transfer_syntax_uid: str = ExplicitVRLittleEndian,
    series_number: int = 2,
) -> Dataset:
    """A SEG written by highdicom on ``images`` (in slice order), empty frames omitted.

    ``pixel_array`` as highdicom takes it: (slices, rows, columns) bool or segment numbers, or
    (slices, rows, columns, segments) bool (BINARY) or float in [0, 1] (FRACTIONAL). Segments
    are numbered 1, 2, ... after ``labels``; ``property_types`` one a segment (Liver by
    default); ``automatic`` for an AI algorithm (else MANUAL).
    """
    types = property_types or [codes.SCT.Liver] * len(labels)
    algorithm = hd.AlgorithmIdentificationSequence(
        name="builders", version="1", family=codes.DCM.ArtificialIntelligence
    )
    descriptions = [
        hd.seg.SegmentDescription(
            segment_number=number,
            segment_label=label,
            segmented_property_category=category,
            segmented_property_type=property_type,
            algorithm_type=(
                hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC
                if automatic
                else hd.seg.SegmentAlgorithmTypeValues.MANUAL
            ),
            algorithm_identification=algorithm if automatic else None,
        )
        for number, (label, property_type) in enumerate(zip(labels, types, strict=True), 1)
    ]
    return hd.seg.Segmentation(
        source_images=images,
        pixel_array=pixel_array,
        segmentation_type=segmentation_type,
        segment_descriptions=descriptions,
        series_instance_uid=generate_uid(),
        series_number=series_number,
        sop_instance_uid=generate_uid(),
        instance_number=1,
        manufacturer="segmesh",
        manufacturer_model_name="builders",
        software_versions="1",
        device_serial_number="1",
        content_date=datetime.date(2026, 1, 1),
        content_time=datetime.time(12, 0),
        transfer_syntax_uid=transfer_syntax_uid,
        omit_empty_frames=True,
    )


def rtstruct(
    images: Sequence[Dataset], rois: Sequence[RoiMask], label: str = "builders"
) -> Dataset:
    """An RT-STRUCT of ``rois`` (masks (slices, rows, columns) on ``images``' grid), contoured
    by segmesh's writer, in a new series."""
    geometry, _ = geometry_from_images(images)
    return write_rtstruct(list(images), geometry, list(rois), generate_uid(), generate_uid(), label)


def ellipsoid_labels(
    shape: tuple[int, int, int],
    centres: npt.ArrayLike,
    radii: npt.ArrayLike,
    spacing: Sequence[float] = (1.0, 1.0, 1.0),
    origin: Sequence[float] = (0.0, 0.0, 0.0),
) -> npt.NDArray[np.uint8]:
    """(slices, rows, columns) uint8: ellipsoid n (from 1) painted with value n, later ones
    over earlier ones.

    ``centres`` and ``radii`` (N, 3) in (column, row, slice) order, in the units of the grid:
    voxel (k, j, i) stands at ``origin + (i, j, k) * spacing``; the defaults make them voxels.
    Each ellipsoid is evaluated on its bounding box only.
    """
    labels = np.zeros(shape, dtype=np.uint8)
    size = np.array([shape[2], shape[1], shape[0]])
    step, start = np.asarray(spacing, dtype=float), np.asarray(origin, dtype=float)
    for number, (centre, radius) in enumerate(
        zip(np.asarray(centres, float), np.asarray(radii, float), strict=True), 1
    ):
        # One voxel of margin each side: the box holds every voxel inside.
        lo = np.clip(np.floor((centre - radius - start) / step).astype(int) - 1, 0, size)
        hi = np.clip(np.ceil((centre + radius - start) / step).astype(int) + 2, 0, size)
        k, j, i = np.ogrid[lo[2] : hi[2], lo[1] : hi[1], lo[0] : hi[0]]
        x = start[0] + i * step[0]
        y = start[1] + j * step[1]
        z = start[2] + k * step[2]
        inside = (
            ((x - centre[0]) / radius[0]) ** 2
            + ((y - centre[1]) / radius[1]) ** 2
            + ((z - centre[2]) / radius[2]) ** 2
        ) <= 1.0
        labels[lo[2] : hi[2], lo[1] : hi[1], lo[0] : hi[0]][inside] = number
    return labels


def lattice_ellipsoids(
    shape: tuple[int, int, int],
    spacing: Sequence[float],
    origin: Sequence[float],
    count: int = 100,
    seed: int = 0,
) -> npt.NDArray[np.uint8]:
    """(slices, rows, columns) uint8: ``count`` (at most 100) ellipsoids of random sizes on a
    jittered 5 x 5 x 4 lattice, each in its own cell (none hides another), as in
    ``benchmarks/bench_mesh.py``. ``spacing`` (column, row, slice) mm, ``origin`` the first
    voxel's centre."""
    rng = np.random.default_rng(seed)
    cells = (5, 5, 4)
    size = np.array([shape[2] * spacing[0], shape[1] * spacing[1], shape[0] * spacing[2]])
    cell = size / cells
    centres, radii = [], []
    for number in range(1, count + 1):
        index = np.unravel_index(number - 1, cells)
        radius = rng.uniform(0.15, 0.45, 3) * cell
        centre = np.asarray(origin) + (np.array(index) + 0.5) * cell
        centre += rng.uniform(-1, 1, 3) * (cell / 2 - radius - spacing[0])
        centres.append(centre)
        radii.append(radius)
    return ellipsoid_labels(shape, centres, radii, spacing, origin)


def lattice_seg_study(
    shape: tuple[int, int, int],
    spacing: Sequence[float],
    origin: Sequence[float],
    count: int = 100,
    seed: int = 0,
    study: Dataset | None = None,
) -> tuple[list[Dataset], Dataset, npt.NDArray[np.uint8]]:
    """A CT series, a ``count``-segment BINARY SEG of :func:`lattice_ellipsoids` on it
    ("Structure 1", ...), and the label map (slices, rows, columns).

    ``spacing`` (column, row, slice) mm and ``origin`` as :func:`lattice_ellipsoids`; the CT's
    values are 10 x the label (HU -1024 outside the segments).
    """
    labels = lattice_ellipsoids(shape, spacing, origin, count, seed)
    images = ct_series(
        shape,
        (spacing[1], spacing[0], spacing[2]),
        origin,
        pixels=labels.astype(np.int16) * 10,
        rescale_intercept=-1024,
        study=study,
    )
    segmentation = seg(
        images,
        labels,
        [f"Structure {n}" for n in range(1, count + 1)],
        property_types=[codes.SCT.Tissue] * count,
        category=codes.SCT.Tissue,
    )
    return images, segmentation, labels


def scattered_structures(
    shape: tuple[int, int, int],
    count: int,
    overlapping: int = 0,
    radii: tuple[float, float] = (1.6, 3.0),
    seed: int = 0,
) -> tuple[npt.NDArray[np.uint16], npt.NDArray[np.uint16]]:
    """``count`` small ellipsoids (segments 1 to ``count``), each in its own cell of a lattice
    over the grid (slices, rows, columns), radii uniform in ``radii`` voxels (at least three
    slices each), and the last ``overlapping`` of them moved onto earlier ones.

    Returns two (slices, rows, columns) uint16 labellings, each without overlap: ``base``
    (segments 1 to count - overlapping) and ``extra`` (the overlapping ones, each half over the
    structure ``overlapping`` numbers before it). Each ellipsoid is painted on its box only.
    """
    rng = np.random.default_rng(seed)
    per_cell = (math.prod(shape) / count) ** (1 / 3)
    cells = [max(1, int(n // per_cell)) for n in shape]
    while math.prod(cells) < count:
        cells[int(np.argmax(np.array(shape) / cells))] += 1
    cell = np.array(shape) / cells
    order = rng.permutation(math.prod(cells))[:count]
    base = np.zeros(shape, dtype=np.uint16)
    extra = np.zeros(shape, dtype=np.uint16)
    centres: list[npt.NDArray[np.float64]] = []
    for number, flat in enumerate(order, 1):
        radius = rng.uniform(*radii, 3)
        radius = np.minimum(radius, cell / 2 - 0.5)
        centre = (np.array(np.unravel_index(flat, cells)) + 0.5) * cell
        centre += rng.uniform(-1, 1, 3) * np.maximum(cell / 2 - radius - 0.5, 0)
        target = base
        if number > count - overlapping:
            # Half a radius off an earlier structure: the two share voxels.
            centre = centres[number - 1 - overlapping] + np.array([0.0, radius[1] / 2, 0.0])
            target = extra
        centres.append(centre)
        lo = np.maximum(np.floor(centre - radius).astype(int), 0)
        hi = np.minimum(np.ceil(centre + radius).astype(int) + 1, shape)
        k, j, i = np.ogrid[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]]
        inside = (
            ((k - centre[0]) / radius[0]) ** 2
            + ((j - centre[1]) / radius[1]) ** 2
            + ((i - centre[2]) / radius[2]) ** 2
        ) <= 1.0
        target[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]][inside] = number
    return base, extra


def many_segments_seg(
    images: Sequence[Dataset],
    base: npt.NDArray[np.uint16],
    extra: npt.NDArray[np.uint16] | None = None,
    segmentation_type: str = "BINARY",
) -> Dataset:
    """A SEG of ``base`` (slices, rows, columns) segment numbers 1 to n on ``images``, labelled
    "Structure n", and for BINARY the segments of ``extra`` (numbers after base's) overlapping
    them: highdicom writes each labelling apart (a (slices, rows, columns, segments) mask of
    1000 segments would not fit), and their frames and segments are joined here."""
    numbers = int(base.max())
    labels = [f"Structure {n}" for n in range(1, numbers + 1)]
    kinds = [codes.SCT.Tissue] * numbers
    first = seg(images, base, labels, segmentation_type, property_types=kinds)
    if extra is None or not extra.any():
        return first
    assert segmentation_type == "BINARY", "a LABELMAP SEG holds no overlap"
    shifted = np.where(extra > 0, extra - numbers, 0).astype(np.uint16)
    more = int(shifted.max())
    second = seg(
        images,
        shifted,
        [f"Structure {n}" for n in range(numbers + 1, numbers + more + 1)],
        property_types=[codes.SCT.Tissue] * more,
    )
    frame_bits = int(first.Rows) * int(first.Columns)
    assert frame_bits % 8 == 0, "BINARY frames joined on byte boundaries"
    for item in second.SegmentSequence:
        item.SegmentNumber = int(item.SegmentNumber) + numbers
        first.SegmentSequence.append(item)
    shared = second.SharedFunctionalGroupsSequence[0]
    for group in second.PerFrameFunctionalGroupsSequence:
        # highdicom puts a single segment's identification among the shared groups.
        if "SegmentIdentificationSequence" not in group:
            group.SegmentIdentificationSequence = copy.deepcopy(
                shared.SegmentIdentificationSequence
            )
        identification = group.SegmentIdentificationSequence[0]
        identification.ReferencedSegmentNumber = (
            int(identification.ReferencedSegmentNumber) + numbers
        )
        # The first dimension index is the segment number.
        index = list(group.FrameContentSequence[0].DimensionIndexValues)
        group.FrameContentSequence[0].DimensionIndexValues = [index[0] + numbers, *index[1:]]
        first.PerFrameFunctionalGroupsSequence.append(group)
    frames = int(first.NumberOfFrames) + int(second.NumberOfFrames)
    size = frames * frame_bits // 8
    first.PixelData = first.PixelData[: size - int(second.NumberOfFrames) * frame_bits // 8]
    first.PixelData += second.PixelData[: int(second.NumberOfFrames) * frame_bits // 8]
    if len(first.PixelData) % 2:
        first.PixelData += b"\0"
    first.NumberOfFrames = frames
    return first
