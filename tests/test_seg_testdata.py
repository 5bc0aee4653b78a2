"""The SEG decoder on third-party files (shared/testdata) against the oracles of its README and
against pydicom's own decoding of the same frames."""

from __future__ import annotations

import numpy as np
import pydicom
import pydicom.uid
import pytest
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes

from segmesh.errors import UnprocessableError
from segmesh.images.image_volume import image_volume
from segmesh.options import Grid, LabelMapOptions
from segmesh.seg.reader import seg_to_labelmap
from segmesh.settings import Settings
from tests import builders
from tests.testdata import testdata as shared_file


def read(relative: str) -> Dataset:
    return pydicom.dcmread(shared_file(relative))


def series(relative: str) -> list[Dataset]:
    folder = shared_file(relative)
    return [pydicom.dcmread(path) for path in sorted(folder.glob("*.dcm"))]


def frame_slices(seg: Dataset, images: list[Dataset]) -> list[int]:
    """Independent placement: the index, in ``images``, of the image each frame lies on (same
    ImagePositionPatient), for images already sorted along z here."""
    positions = [np.array(image.ImagePositionPatient, dtype=float) for image in images]
    return [
        int(
            np.argmin(
                [
                    np.abs(p - np.array(f.PlanePositionSequence[0].ImagePositionPatient)).sum()
                    for p in positions
                ]
            )
        )
        for f in seg.PerFrameFunctionalGroupsSequence
    ]


@pytest.mark.parametrize("order", ["sorted", "reversed", "shuffled"])
def test_dcmqi_liver(order: str) -> None:
    seg = read("dcmqi/segmentations/liver.dcm")
    images = series("dcmqi/segmentations/ct-3slice")
    if order == "reversed":
        images = images[::-1]
    elif order == "shuffled":
        images = [images[1], images[2], images[0]]
    labelmap = seg_to_labelmap(seg, images, LabelMapOptions(), Settings())
    liver = labelmap.mask(1)
    assert int(liver.sum()) == 107_098
    by_z = sorted(images, key=lambda image: float(image.ImagePositionPatient[2]))
    slices = frame_slices(seg, by_z)
    # Slices of the label map go along the normal, which is +z for this axial series.
    assert [int(liver[k].sum()) for k in slices] == [36_233, 35_645, 35_220]
    np.testing.assert_array_equal(liver[slices[0]], seg.pixel_array[0] == 1)


def test_single_frame_without_number_of_frames() -> None:
    labelmap = seg_to_labelmap(
        read("pydicom/liver_1frame.dcm"), None, LabelMapOptions(), Settings()
    )
    assert labelmap.geometry.shape == (1, 512, 512)
    assert int(labelmap.mask(1).sum()) == 36_233


def test_overlapping_segments_are_kept_in_two_layers() -> None:
    seg = read("highdicom/seg_image_ct_binary_overlap.dcm")
    images = series("pydicom/dicomdirtests/77654033/CT2")
    labelmap = seg_to_labelmap(seg, images, LabelMapOptions(), Settings())
    assert labelmap.layers.shape[0] == 2
    assert int(labelmap.mask(1).sum()) == 64
    assert int(labelmap.mask(2).sum()) == 16
    assert int((labelmap.mask(1) & labelmap.mask(2)).sum()) == 16


@pytest.mark.parametrize(("threshold", "minimum"), [(0.5, 128), (0.25, 64), (0.1, 26), (1.0, 255)])
def test_true_fractional_threshold(threshold: float, minimum: int) -> None:
    seg = read("highdicom/seg_image_ct_true_fractional.dcm")
    assert sorted(np.unique(seg.pixel_array).tolist()) == [0, 64, 128]
    labelmap = seg_to_labelmap(seg, None, LabelMapOptions(threshold=threshold), Settings())
    expected = int((seg.pixel_array >= minimum).sum())
    assert int(labelmap.mask(1).sum()) == expected


@pytest.mark.parametrize("name", ["sparse-labelmap-noppv.dcm", "sparse-labelmap-ppv5.dcm"])
def test_sparse_labelmap_sop_class(name: str) -> None:
    seg = read(f"dcmqi/segmentations/{name}")
    images = series("dcmqi/segmentations/24x38x3/image")
    labelmap = seg_to_labelmap(seg, images, LabelMapOptions(), Settings())
    assert [s.number for s in labelmap.segments] == [1]  # segment 0 is the background
    liver = labelmap.mask(1)
    # The middle plane is omitted from the file: empty; the others hold pydicom's frames.
    assert int(liver[1].sum()) == 0
    np.testing.assert_array_equal(liver[[0, 2]], seg.pixel_array == 1)
    native = seg_to_labelmap(seg, None, LabelMapOptions(grid=Grid.NATIVE), Settings())
    assert native.geometry.shape == (3, 38, 24)
    np.testing.assert_allclose(native.geometry.affine, labelmap.geometry.affine, atol=1e-4)


@pytest.mark.parametrize(
    ("seg_file", "images_folder"),
    [
        ("23x38x3/seg/label.seg", "23x38x3/image"),
        ("24x38x3/seg/label.seg", "24x38x3/image"),
    ],
)
def test_frames_not_a_multiple_of_8(seg_file: str, images_folder: str) -> None:
    seg = read(f"dcmqi/segmentations/{seg_file}")
    images = series(f"dcmqi/segmentations/{images_folder}")
    labelmap = seg_to_labelmap(seg, images, LabelMapOptions(), Settings())
    by_z = sorted(images, key=lambda image: float(image.ImagePositionPatient[2]))
    for frame, k in enumerate(frame_slices(seg, by_z)):
        np.testing.assert_array_equal(labelmap.mask(1)[k], seg.pixel_array[frame] == 1)


def test_enhanced_multiframe_source() -> None:
    seg = read("dcmqi/segmentations/23x38x3/seg/label.seg")
    single = seg_to_labelmap(
        seg, series("dcmqi/segmentations/23x38x3/image"), LabelMapOptions(), Settings()
    )
    multi = seg_to_labelmap(
        seg, [read("dcmqi/segmentations/23x38x3/multiframe/mf.dcm")], LabelMapOptions(), Settings()
    )
    np.testing.assert_allclose(multi.geometry.affine, single.geometry.affine, atol=1e-4)
    np.testing.assert_array_equal(multi.layers, single.layers)


@pytest.mark.parametrize(
    ("relative", "error"),
    [
        ("highdicom/seg_image_cr_binary.dcm", "No frame of reference"),
        ("highdicom/seg_image_sm_control_labelmap.dcm", "No patient geometry"),
        ("highdicom/seg_image_sm_control_labelmap_palette_color.dcm", "No patient geometry"),
    ],
)
def test_unplaceable(relative: str, error: str) -> None:
    with pytest.raises(UnprocessableError, match=error):
        seg_to_labelmap(read(relative), None, LabelMapOptions(), Settings())


def test_images_of_another_frame_of_reference() -> None:
    with pytest.raises(UnprocessableError, match="Different frames of reference"):
        seg_to_labelmap(
            read("highdicom/seg_image_ct_binary.dcm"),
            [read("highdicom/ct_image.dcm")],
            LabelMapOptions(),
            Settings(),
        )


def test_oblique_third_party_series() -> None:
    """A SEG written by highdicom on rt-utils' oblique CT (non-square pixels), files shuffled."""
    images = [
        pydicom.dcmread(p) for p in sorted(shared_file("rt-utils/oriented_data").glob("*.dcm"))
    ]
    # The files carry no FrameOfReferenceUID, one StudyInstanceUID or SliceThickness, which
    # highdicom needs to write a SEG.
    frame_of_reference, study = pydicom.uid.generate_uid(), pydicom.uid.generate_uid()
    for image in images:
        image.FrameOfReferenceUID, image.StudyInstanceUID = frame_of_reference, study
        image.SliceThickness = 4.5  # highdicom needs one; segmesh reads positions
    by_position = sorted(
        images,
        key=lambda image: float(
            np.dot(
                np.array(image.ImagePositionPatient, dtype=float),
                np.cross(
                    np.array(image.ImageOrientationPatient[:3], dtype=float),
                    np.array(image.ImageOrientationPatient[3:], dtype=float),
                ),
            )
        ),
    )
    rows, columns = int(images[0].Rows), int(images[0].Columns)
    mask = np.zeros((len(images), rows, columns), dtype=bool)
    mask[0, 5:20, 10:40] = True
    mask[2, 30:45, 60:90] = True
    seg = builders.seg(
        by_position, mask, ["Box"], property_types=[codes.SCT.Tissue], category=codes.SCT.Tissue
    )
    shuffled = [images[2], images[0], images[1]]
    labelmap = seg_to_labelmap(seg, shuffled, LabelMapOptions(), Settings())
    np.testing.assert_array_equal(labelmap.mask(1), mask)
    first = by_position[0]
    spacing = [float(v) for v in first.PixelSpacing]  # (row, column)
    orientation = np.array(first.ImageOrientationPatient, dtype=float)
    np.testing.assert_allclose(
        labelmap.geometry.affine[:3, 0], orientation[:3] * spacing[1], atol=1e-6
    )
    np.testing.assert_allclose(
        labelmap.geometry.affine[:3, 1], orientation[3:] * spacing[0], atol=1e-6
    )
    np.testing.assert_allclose(
        labelmap.geometry.affine[:3, 3], [float(v) for v in first.ImagePositionPatient], atol=1e-6
    )
    native = seg_to_labelmap(seg, None, LabelMapOptions(grid=Grid.NATIVE), Settings())
    np.testing.assert_allclose(native.geometry.affine, labelmap.geometry.affine, atol=1e-4)
    np.testing.assert_array_equal(native.mask(1), mask)


def test_image_volume_of_single_and_multiframe_sources() -> None:
    seg = read("dcmqi/segmentations/23x38x3/seg/label.seg")
    single = series("dcmqi/segmentations/23x38x3/image")
    multi = [read("dcmqi/segmentations/23x38x3/multiframe/mf.dcm")]
    labelmap = seg_to_labelmap(seg, single, LabelMapOptions(), Settings())
    from_single = image_volume(single, labelmap.geometry)
    from_multi = image_volume(multi, labelmap.geometry)
    by_z = sorted(single, key=lambda image: float(image.ImagePositionPatient[2]))
    expected = np.stack(
        [
            image.pixel_array * float(image.get("RescaleSlope", 1))
            + float(image.get("RescaleIntercept", 0))
            for image in by_z
        ]
    )
    np.testing.assert_array_equal(from_single, expected)
    np.testing.assert_array_equal(from_multi, expected)
    with pytest.raises(UnprocessableError, match="grid"):
        image_volume(single[:2], labelmap.geometry)
