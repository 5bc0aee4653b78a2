"""What a segment's attributes become in a written RT-STRUCT: ROIGenerationAlgorithm and
ROIGenerationDescription, RTROIInterpretedType of TotalSegmentator-like categories, and holes
written as inner contours."""

from __future__ import annotations

import datetime
from typing import Any

import highdicom as hd
import numpy as np
import numpy.typing as npt
import pytest
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes
from pydicom.uid import generate_uid

from segmesh.dicom.segment_codes import (
    ANATOMICAL_STRUCTURE_123037004,
    interpreted_type,
    segment_codes,
)
from segmesh.geometry import geometry_from_images
from segmesh.labelmap import LabelMap, LayerBuilder, Segment
from segmesh.options import LabelMapOptions
from segmesh.rtstruct import describe_rtstruct, rtstruct_to_labelmap
from segmesh.rtstruct.from_labelmap import labelmap_to_rtstruct
from segmesh.rtstruct.polygon_fill import fill_even_odd
from segmesh.settings import Settings
from segmesh.sources import to_labelmap
from tests.builders import ct_series
from tests.conftest import encode
from tests.conversion_checks import written_and_read
from tests.dciodvfy import dciodvfy_lines

ALL = LabelMapOptions()
SETTINGS = Settings()
SHAPE = (3, 12, 14)  # slices, rows, columns
ALGORITHM_TYPES = ("MANUAL", "SEMIAUTOMATIC", "AUTOMATIC")
LIVER = {"CodeValue": "10200004", "CodingSchemeDesignator": "SCT", "CodeMeaning": "Liver"}
PTV = {"CodeValue": codes.SCT.PlanningTargetVolume.value, "CodingSchemeDesignator": "SCT"}
TOTALSEGMENTATOR_CATEGORY = {
    "CodeValue": "123037004",
    "CodingSchemeDesignator": "SCT",
    "CodeMeaning": "Anatomical Structure",
}


def images() -> list[Dataset]:
    return ct_series(SHAPE, (0.8, 0.9, 2.5), origin=(-5.0, 7.0, 30.0))


def ring_masks() -> npt.NDArray[np.bool_]:
    """(slices, rows, columns, 3) bool: segment 1 a square ring on slice 1 (a hole at its
    centre), segments 2 and 3 small boxes."""
    masks = np.zeros((*SHAPE, 3), dtype=bool)
    masks[1, 2:10, 2:10, 0] = True
    masks[1, 4:7, 4:7, 0] = False
    masks[0:2, 1:3, 11:13, 1] = True
    masks[2, 8:11, 10:13, 2] = True
    return masks


def seg_of_algorithm_types(series: list[Dataset]) -> Dataset:
    """A highdicom SEG whose segments 1, 2, 3 are MANUAL, SEMIAUTOMATIC, AUTOMATIC livers in
    TotalSegmentator's category SCT 123037004."""
    algorithm = hd.AlgorithmIdentificationSequence(
        name="TotalSegmentator", version="2", family=codes.DCM.ArtificialIntelligence
    )
    descriptions = [
        hd.seg.SegmentDescription(
            segment_number=number,
            segment_label=f"{kind.title()} liver",
            segmented_property_category=ANATOMICAL_STRUCTURE_123037004,
            segmented_property_type=codes.SCT.Liver,
            algorithm_type=hd.seg.SegmentAlgorithmTypeValues[kind],
            algorithm_identification=None if kind == "MANUAL" else algorithm,
        )
        for number, kind in enumerate(ALGORITHM_TYPES, 1)
    ]
    return hd.seg.Segmentation(
        source_images=series,
        pixel_array=ring_masks(),
        segmentation_type="BINARY",
        segment_descriptions=descriptions,
        series_instance_uid=generate_uid(),
        series_number=3,
        sop_instance_uid=generate_uid(),
        instance_number=1,
        manufacturer="tests",
        manufacturer_model_name="tests",
        software_versions="1",
        device_serial_number="1",
        content_date=datetime.date(2026, 1, 1),
        content_time=datetime.time(12, 0),
        omit_empty_frames=True,
    )


def test_seg_algorithm_types_become_roi_generation_algorithms() -> None:
    series = images()
    seg = seg_of_algorithm_types(series)
    labelmap = to_labelmap(seg, series, ALL, SETTINGS)
    rtstruct = labelmap_to_rtstruct(seg, labelmap, series)
    # No error and no warning either (an empty or odd ROIGenerationAlgorithm would warn).
    assert dciodvfy_lines(encode(rtstruct)) == []
    read = written_and_read(rtstruct)
    rois = read.StructureSetROISequence
    assert [item.ROIGenerationAlgorithm for item in rois] == list(ALGORITHM_TYPES)
    assert [o.RTROIInterpretedType for o in read.RTROIObservationsSequence] == ["ORGAN"] * 3
    described = describe_rtstruct(read).segments
    assert [s.attributes["GenerationAlgorithm"] for s in described] == list(ALGORITHM_TYPES)
    converted = rtstruct_to_labelmap(read, series, ALL, SETTINGS)
    for number in (1, 2, 3):
        np.testing.assert_array_equal(converted.mask(number), ring_masks()[..., number - 1])


def labelmap_with_attributes(series: list[Dataset], attributes: list[dict[str, Any]]) -> LabelMap:
    """Segments 1, 2, ... with these attributes, each one voxel of slice 0 of ``series``."""
    geometry, _ = geometry_from_images(series)
    builder = LayerBuilder(geometry, np.dtype(np.uint8))
    for number, given in enumerate(attributes, 1):
        mask = np.zeros(SHAPE[1:], dtype=bool)
        mask[number, number] = True
        builder.add(Segment(number, f"ROI {number}", (10, 20, 30), attributes=given), {0: mask})
    return builder.build()


def test_algorithm_of_every_source_and_its_name() -> None:
    cases: list[tuple[dict[str, Any], str, str | None]] = [
        # An imported label map's model.
        (
            {"AlgorithmType": "AUTOMATIC", "AlgorithmName": "TotalSegmentator"},
            "AUTOMATIC",
            "TotalSegmentator",
        ),
        # An RT-STRUCT ROI's own, as some writers spell it.
        ({"GenerationAlgorithm": " semiautomatic"}, "SEMIAUTOMATIC", None),
        ({"AlgorithmType": "", "GenerationAlgorithm": "MANUAL"}, "MANUAL", None),
        # Unknown or not a Defined Term: empty, as type 2 allows.
        ({}, "", None),
        ({"GenerationAlgorithm": "AI"}, "", None),
        # An LO holds 64 characters, one value, no line break.
        (
            {"AlgorithmType": "AUTOMATIC", "AlgorithmName": "nnU-Net\\v2\n" + "x" * 70},
            "AUTOMATIC",
            "nnU-Net/v2 " + "x" * 53,
        ),
    ]
    series = images()
    labelmap = labelmap_with_attributes(series, [given for given, _, _ in cases])
    source = Dataset()
    source.SOPInstanceUID = generate_uid()
    rtstruct = labelmap_to_rtstruct(source, labelmap, series)
    assert dciodvfy_lines(encode(rtstruct)) == []
    read = written_and_read(rtstruct)
    written = [
        (str(item.ROIGenerationAlgorithm), item.get("ROIGenerationDescription"))
        for item in read.StructureSetROISequence
    ]
    assert written == [(algorithm, name) for _, algorithm, name in cases]


# --- RTROIInterpretedType of SEG categories --------------------------------------------------


@pytest.mark.parametrize(
    ("category", "property_type", "expected"),
    [
        (TOTALSEGMENTATOR_CATEGORY, LIVER, "ORGAN"),
        ({"CodeValue": "91723000", "CodingSchemeDesignator": "SCT"}, LIVER, "ORGAN"),
        ({"CodeValue": "91772007", "CodingSchemeDesignator": "SCT"}, LIVER, "ORGAN"),
        # The type says more than the category.
        (TOTALSEGMENTATOR_CATEGORY, PTV, "PTV"),
        ({"CodeValue": "85756007", "CodingSchemeDesignator": "SCT"}, LIVER, ""),
    ],
)
def test_interpreted_type_of_categories(
    category: dict[str, str], property_type: dict[str, str], expected: str
) -> None:
    attributes = {"Category": category, "Type": property_type}
    assert interpreted_type(attributes) == expected
    # A SEG's own codes go to a SEG as they were.
    written_category, written_type, _ = segment_codes(attributes)
    assert (written_category.value, written_type.value) == (
        category["CodeValue"],
        property_type["CodeValue"],
    )


def test_organ_category_written_is_cid_7150s() -> None:
    category, property_type, _ = segment_codes({"InterpretedType": "ORGAN"})
    listed = {code.value for code in codes.cid7150.concepts.values()}
    assert (category.value, category.meaning) == ("91723000", "Anatomical Structure")
    assert category.value in listed
    # 123037004 is SNOMED CT's Body structure, read as an organ but never written.
    assert ANATOMICAL_STRUCTURE_123037004.value not in listed
    assert property_type.value == codes.SCT.Organ.value


# --- holes ---------------------------------------------------------------------------------


def signed_area(points: npt.NDArray[np.float64]) -> float:
    """Shoelace area of a closed (N, 2) polygon: positive counter-clockwise."""
    x, y = points[:, 0], points[:, 1]
    return 0.5 * float(np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y))


def test_a_hole_is_its_own_inner_contour_winding_the_other_way() -> None:
    series = images()
    seg = seg_of_algorithm_types(series)
    labelmap = to_labelmap(seg, series, ALL, SETTINGS)
    read = written_and_read(labelmap_to_rtstruct(seg, labelmap, series))
    ring = next(item for item in read.ROIContourSequence if item.ReferencedROINumber == 1)
    assert len(ring.ContourSequence) == 2  # the outline and the hole, no keyhole cut
    geometry = labelmap.geometry
    in_plane = np.stack([geometry.row_direction, geometry.column_direction], axis=1)
    polygons, areas = [], []
    for contour in ring.ContourSequence:
        assert contour.ContourGeometricType == "CLOSED_PLANAR"
        image = contour.ContourImageSequence[0].ReferencedSOPInstanceUID
        assert image == series[1].SOPInstanceUID
        lps = np.asarray(contour.ContourData, dtype=np.float64).reshape(-1, 3)
        ijk = np.linalg.solve(geometry.affine, np.c_[lps, np.ones(len(lps))].T).T
        np.testing.assert_allclose(ijk[:, 2], 1.0, atol=1e-4)  # on slice 1's plane
        polygons.append(ijk[:, :2])
        areas.append(signed_area(lps @ in_plane))
    outer, hole = sorted(areas, key=abs, reverse=True)
    assert outer * hole < 0  # opposite windings: nonzero-winding readers see the hole too
    # Even-odd (XOR) gives the hole back; a union (OR) of the contours fills it.
    expected = ring_masks()[1, ..., 0]
    np.testing.assert_array_equal(fill_even_odd(polygons, SHAPE[1:]), expected)
    union = np.logical_or.reduce([fill_even_odd([p], SHAPE[1:]) for p in polygons])
    assert not expected[5, 5]
    assert union[5, 5]
