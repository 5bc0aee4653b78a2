"""Conversions between DICOM objects in the pure core: RT-STRUCT -> SEG, SEG -> RT-STRUCT,
BINARY -> LABELMAP, each written object valid (dciodvfy, pydicom, highdicom) and read back."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pydicom
import pytest
from pydicom.dataset import Dataset
from scipy.ndimage import gaussian_filter

from segmesh.demo import DemoStudy
from segmesh.dicom.segment_codes import interpreted_type, segment_codes
from segmesh.errors import LimitExceededError, UnprocessableError
from segmesh.geometry import geometry_from_images
from segmesh.labelmap import LabelMap, Segment
from segmesh.options import LabelMapOptions
from segmesh.rtstruct import rtstruct_to_labelmap
from segmesh.rtstruct.from_labelmap import labelmap_to_rtstruct
from segmesh.seg import seg_to_labelmap
from segmesh.seg.writer import write_seg
from segmesh.settings import Settings
from segmesh.sources import to_labelmap
from tests import builders
from tests.conftest import encode
from tests.conversion_checks import dice, is_simple, labelmap_of, written_and_read
from tests.rtstruct_synthetic import Series
from tests.testdata import testdata as shared

ALL = LabelMapOptions()
SETTINGS = Settings()
logger = logging.getLogger(__name__)


def read_back(dataset: Dataset, images: list[Dataset]) -> LabelMap:
    return to_labelmap(written_and_read(dataset), images, ALL, SETTINGS)


def assert_same_masks(converted: LabelMap, source: LabelMap, by_label: bool = False) -> None:
    """Every segment of ``source`` has exactly its voxels in ``converted``."""
    assert len(converted.segments) == len(source.segments)
    for theirs, ours in zip(source.segments, converted.segments, strict=True):
        assert (ours.label, ours.color) == (theirs.label, theirs.color)
        if not by_label:
            assert ours.number == theirs.number
        np.testing.assert_array_equal(converted.mask(ours.number), source.mask(theirs.number))


# --- RT-STRUCT -> SEG: voxel for voxel ---------------------------------------------------------


@pytest.mark.parametrize("kind", ["BINARY", "LABELMAP"])
def test_demo_rtstruct_to_seg_is_exact(demo_study: DemoStudy, kind: str) -> None:
    source = to_labelmap(demo_study.rtstruct, demo_study.images, ALL, SETTINGS)
    (seg,) = write_seg(demo_study.rtstruct, source, demo_study.images, kind)
    converted = read_back(seg, demo_study.images)
    np.testing.assert_array_equal(converted.layers, source.layers)
    assert_same_masks(converted, source)
    liver = seg.SegmentSequence[1 if kind == "LABELMAP" else 0]  # LABELMAP lists background 0
    assert liver.SegmentedPropertyCategoryCodeSequence[0].CodeMeaning == "Anatomical Structure"
    assert liver.SegmentedPropertyTypeCodeSequence[0].CodeMeaning == "Organ"
    assert seg.PatientID == demo_study.images[0].PatientID
    assert seg.StudyInstanceUID == demo_study.images[0].StudyInstanceUID
    assert seg.FrameOfReferenceUID == demo_study.geometry.frame_of_reference_uid


THIRD_PARTY = {
    "DicomRTTool": ("DicomRTTool/AnonDICOM", "RS.*.dcm", "CT.*.dcm"),
    "IBSI phantom": ("ibsi/ibsi_1_ct_radiomics_phantom/dicom", "mask/*.dcm", "image/*.dcm"),
    "IBSI STS_002 CT": ("ibsi/ibsi_validation/dicom/STS_002/CT", "mask/*.dcm", "image/*.dcm"),
}


def third_party(name: str) -> tuple[Dataset, list[Dataset]]:
    folder, rtstruct, images = THIRD_PARTY[name]
    path = shared(folder)
    return (
        pydicom.dcmread(next(path.glob(rtstruct))),
        [pydicom.dcmread(p) for p in sorted(path.glob(images))],
    )


@pytest.mark.parametrize("name", list(THIRD_PARTY))
def test_third_party_rtstruct_to_seg_is_exact(name: str) -> None:
    rtstruct, images = third_party(name)
    source = rtstruct_to_labelmap(rtstruct, images, ALL, SETTINGS)
    (binary,) = write_seg(rtstruct, source, images, "BINARY")
    assert_same_masks(read_back(binary, images), source, by_label=True)
    # LABELMAP: overlapping ROIs (DicomRTTool's BODY holds SpinalCord) need Split.
    layers = write_seg(rtstruct, source, images, "LABELMAP", split=True)
    assert len(layers) == source.layers.shape[0]
    for instance in layers:
        converted = read_back(instance, images)
        assert converted.layers.shape[0] == 1
        for segment in converted.segments:
            assert segment.label == source.segment(segment.number).label
            np.testing.assert_array_equal(
                converted.mask(segment.number), source.mask(segment.number)
            )


def test_overlapping_segments_in_one_labelmap_are_named() -> None:
    rtstruct, images = third_party("DicomRTTool")
    source = rtstruct_to_labelmap(rtstruct, images, ALL, SETTINGS)
    with pytest.raises(UnprocessableError, match=r"BODY.*SpinalCord|SpinalCord.*BODY"):
        write_seg(rtstruct, source, images, "LABELMAP")


# --- SEG -> RT-STRUCT: Dice and volume ---------------------------------------------------------


def check_contours(rtstruct: Dataset, labelmap: LabelMap, images: list[Dataset]) -> None:
    """Contours closed, simple, on their slice's plane, referencing that slice's image."""
    geometry = labelmap.geometry
    uids = [str(image.SOPInstanceUID) for image in images]
    listed = rtstruct.ReferencedFrameOfReferenceSequence[0].RTReferencedStudySequence[0]
    series = listed.RTReferencedSeriesSequence[0]
    assert sorted(str(i.ReferencedSOPInstanceUID) for i in series.ContourImageSequence) == sorted(
        uids
    )
    for item in rtstruct.ROIContourSequence:
        for contour in item.ContourSequence:
            assert contour.ContourGeometricType == "CLOSED_PLANAR"
            points = np.array(contour.ContourData, dtype=np.float64).reshape(-1, 3)
            assert len(points) == contour.NumberOfContourPoints >= 3
            kji = geometry.lps_to_index(points)
            k = round(float(kji[0, 2]))
            np.testing.assert_allclose(kji[:, 2], k, atol=1e-3)  # on the slice's plane
            image = contour.ContourImageSequence[0].ReferencedSOPInstanceUID
            assert image == uids[k]
            assert is_simple(kji[:, :2]), f"ROI {item.ReferencedROINumber} self-intersects"


def seg_to_rtstruct_to_labelmap(
    seg: Dataset, images: list[Dataset]
) -> tuple[LabelMap, LabelMap, Dataset]:
    source = seg_to_labelmap(seg, images, ALL, SETTINGS)
    rtstruct = labelmap_to_rtstruct(seg, source, images)
    converted = rtstruct_to_labelmap(written_and_read(rtstruct), images, ALL, SETTINGS)
    check_contours(rtstruct, source, images)
    return source, converted, rtstruct


def assert_close(source: LabelMap, converted: LabelMap) -> dict[str, float]:
    """Dice >= 0.99 (>= 0.95 under 1,000 voxels), volumes within 1%; returns Dice by label."""
    scores = {}
    for segment in source.segments:
        ours = converted.segment(segment.number)
        assert (ours.label, ours.color) == (segment.label, segment.color)
        expected, got = source.mask(segment.number), converted.mask(segment.number)
        scores[segment.label] = dice(expected, got)
        assert scores[segment.label] >= (0.95 if expected.sum() < 1000 else 0.99)
        assert abs(int(got.sum()) - int(expected.sum())) <= 0.01 * expected.sum()
    logger.info("Dice: %s", scores)
    return scores


def test_demo_seg_to_rtstruct(demo_study: DemoStudy) -> None:
    source, converted, rtstruct = seg_to_rtstruct_to_labelmap(demo_study.seg, demo_study.images)
    assert_close(source, converted)
    assert [o.RTROIInterpretedType for o in rtstruct.RTROIObservationsSequence] == ["ORGAN"] * 6


def ring(shape: tuple[int, ...]) -> npt.NDArray[np.bool_]:
    k, j, i = np.ogrid[: shape[0], : shape[1], : shape[2]]
    r2 = (j - 60.3) ** 2 + (i - 70.7) ** 2
    return np.asarray((r2 <= 30**2) & (r2 > 14**2) & (k >= 5) & (k < 30))


def blob(shape: tuple[int, ...]) -> npt.NDArray[np.bool_]:
    k, j, i = np.ogrid[: shape[0], : shape[1], : shape[2]]
    return np.asarray(((k - 20) / 2.0) ** 2 + ((j - 20) / 4.0) ** 2 + ((i - 130) / 4.5) ** 2 <= 1)


def saddle(shape: tuple[int, ...]) -> npt.NDArray[np.bool_]:
    """Squares touching at one corner (diagonal pixels: a saddle for marching squares)."""
    mask = np.zeros(shape, dtype=np.bool_)
    mask[10:14, 90:95, 20:25] = True
    mask[10:14, 95:100, 25:30] = True
    mask[12, 92, 22] = False  # a one-voxel hole
    return mask


def noisy(shape: tuple[int, ...]) -> npt.NDArray[np.bool_]:
    """Irregular organ-sized shape with holes and islands."""
    field = gaussian_filter(np.random.default_rng(3).normal(size=shape), 2.0)
    mask = field > 0.05
    mask[:, :, :80] = False
    return mask


CASES: dict[str, Callable[[tuple[int, ...]], npt.NDArray[np.bool_]]] = {
    "ring with a hole": ring,
    "small blob": blob,
    "diagonal touch": saddle,
    "noisy": noisy,
}


@pytest.mark.parametrize("case", list(CASES))
def test_generated_seg_to_rtstruct(demo_study: DemoStudy, case: str) -> None:
    mask = CASES[case](demo_study.geometry.shape)
    source = labelmap_of(demo_study.geometry, {1: mask})
    (seg,) = write_seg(demo_study.seg, source, demo_study.images, "BINARY")
    seg_source, converted, _ = seg_to_rtstruct_to_labelmap(written_and_read(seg), demo_study.images)
    np.testing.assert_array_equal(seg_source.mask(1), mask)
    scores = assert_close(seg_source, converted)
    if case == "small blob":
        assert mask.sum() < 1000
    logger.info("%s: %d voxels, Dice %s", case, mask.sum(), scores)


# --- BINARY -> LABELMAP --------------------------------------------------------------------------


def many_segments(shape: tuple[int, ...], count: int) -> npt.NDArray[np.uint8]:
    rng = np.random.default_rng(11)
    labels = np.zeros(shape, dtype=np.uint8)
    k, j, i = np.ogrid[: shape[0], : shape[1], : shape[2]]
    for number in range(1, count + 1):
        centre = rng.uniform([3, 10, 10], [shape[0] - 3, shape[1] - 10, shape[2] - 10])
        radii = rng.uniform([2, 4, 4], [8, 14, 14])
        inside = (
            sum(((axis - c) / r) ** 2 for axis, c, r in zip((k, j, i), centre, radii, strict=True))
            <= 1
        )
        labels[inside & (labels == 0)] = number
    return labels


def test_binary_to_labelmap_of_many_segments(
    demo_study: DemoStudy, record_property: Callable[[str, object], None]
) -> None:
    labels = many_segments(demo_study.geometry.shape, 60)
    source = labelmap_of(demo_study.geometry, {n: labels == n for n in range(1, 61)})
    (binary,) = write_seg(demo_study.seg, source, demo_study.images, "BINARY")
    from_binary = read_back(binary, demo_study.images)
    (labelmap,) = write_seg(binary, from_binary, demo_study.images, "LABELMAP")
    from_labelmap = read_back(labelmap, demo_study.images)
    np.testing.assert_array_equal(from_labelmap.layers, from_binary.layers)
    np.testing.assert_array_equal(from_labelmap.layers[0], labels)
    factor = len(encode(labelmap)) / len(encode(binary))
    record_property("labelmap_to_binary_size", round(factor, 3))
    logger.info("LABELMAP / BINARY file size: %.3f", factor)


# --- UIDs, codes -------------------------------------------------------------------------------


def test_uids_are_deterministic(demo_study: DemoStudy) -> None:
    source = to_labelmap(demo_study.rtstruct, demo_study.images, ALL, SETTINGS)
    first = write_seg(demo_study.rtstruct, source, demo_study.images, "BINARY")[0]
    again = write_seg(demo_study.rtstruct, source, demo_study.images, "BINARY")[0]
    fewer = write_seg(demo_study.rtstruct, source, demo_study.images, "BINARY", segments=[1, 2])[0]
    labelmap = write_seg(demo_study.rtstruct, source, demo_study.images, "LABELMAP")[0]
    assert (first.SOPInstanceUID, first.SeriesInstanceUID) == (
        again.SOPInstanceUID,
        again.SeriesInstanceUID,
    )
    assert len({first.SOPInstanceUID, fewer.SOPInstanceUID, labelmap.SOPInstanceUID}) == 3
    seg_source = seg_to_labelmap(demo_study.seg, demo_study.images, ALL, SETTINGS)
    one = labelmap_to_rtstruct(demo_study.seg, seg_source, demo_study.images)
    two = labelmap_to_rtstruct(demo_study.seg, seg_source, demo_study.images)
    assert one.SOPInstanceUID == two.SOPInstanceUID != first.SOPInstanceUID


@pytest.mark.parametrize(
    ("interpreted", "category", "property_type"),
    [
        ("ORGAN", "Anatomical Structure", "Organ"),
        ("EXTERNAL", "Anatomical Structure", "Entire body"),
        ("PTV", "Morphologically Altered Structure", "Planning target volume (observable entity)"),
        ("GTV", "Morphologically Altered Structure", "Gross tumor volume (observable entity)"),
        ("CAVITY", "Anatomical Structure", "Body cavity"),
        ("MARKER", "Tissue", "Tissue"),
        ("", "Tissue", "Tissue"),
    ],
)
def test_interpreted_type_codes(interpreted: str, category: str, property_type: str) -> None:
    got_category, got_type, modifier = segment_codes({"InterpretedType": interpreted})
    assert (got_category.meaning, got_type.meaning, modifier) == (category, property_type, None)
    back = interpreted_type(
        {
            "Category": {"CodeValue": got_category.value, "CodingSchemeDesignator": "SCT"},
            "Type": {"CodeValue": got_type.value, "CodingSchemeDesignator": "SCT"},
        }
    )
    assert back == (interpreted if interpreted not in ("MARKER", "") else "")


def test_selection_and_empty_selection(demo_study: DemoStudy, tmp_path: Path) -> None:
    source = to_labelmap(demo_study.rtstruct, demo_study.images, ALL, SETTINGS)
    (seg,) = write_seg(demo_study.rtstruct, source, demo_study.images, "BINARY", segments=[6, 2])
    assert [item.SegmentLabel for item in seg.SegmentSequence] == ["Spleen", "Aorta"]
    with pytest.raises(UnprocessableError):
        write_seg(demo_study.rtstruct, source, demo_study.images, "BINARY", segments=[])


def test_images_without_type_2_study_attributes_are_left_alone() -> None:
    """highdicom needs PatientBirthDate and the like on the first image; many series lack them."""
    series = Series(np.arange(4)[:, None] * np.array([0.0, 0.0, 2.0]), shape=(24, 32))
    images = series.images()
    for image in images:
        for keyword in ("PatientBirthDate", "SliceThickness"):
            if keyword in image:
                delattr(image, keyword)
    geometry = geometry_from_images(images)[0]
    mask = np.zeros(geometry.shape, dtype=np.bool_)
    mask[1:3, 5:15, 8:20] = True
    source = labelmap_of(geometry, {1: mask})
    (seg,) = write_seg(images[0], source, images, "BINARY")
    assert "PatientBirthDate" not in images[0]
    assert "SliceThickness" not in images[0]
    assert seg.PatientBirthDate == ""
    np.testing.assert_array_equal(read_back(seg, images).mask(1), mask)


def test_overlapping_segments_stacked_above_max_voxels_are_refused() -> None:
    """Overlapping segments go to a BINARY SEG as a (slices, rows, columns, segments) stack:
    413 before it is made where that is above MaxVoxels, written where it fits."""
    images = builders.ct_series((4, 8, 8), (1.0, 1.0, 1.0))
    layers = np.zeros((2, 4, 8, 8), dtype=np.uint8)
    layers[0, 1:3, 2:6, 2:6] = 1
    layers[1, 1:3, 3:7, 3:7] = 2
    segments = (Segment(1, "one", (255, 0, 0)), Segment(2, "two", (0, 255, 0), layer=1))
    labelmap = LabelMap(layers, geometry_from_images(images)[0], segments)
    with pytest.raises(LimitExceededError, match="above MaxVoxels 500"):
        write_seg(images[0], labelmap, images, "BINARY", max_voxels=500)
    (seg,) = write_seg(images[0], labelmap, images, "BINARY", max_voxels=512)
    assert len(seg.SegmentSequence) == 2
