"""Unit tests of segmesh.geometry: slice order, affine, spacing, orientation checks."""

from __future__ import annotations

import dataclasses
import pickle
from collections.abc import Sequence
from io import BytesIO

import numpy as np
import pytest
from pydicom import dcmread
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian

from segmesh.errors import BrokenFileError, UnprocessableError
from segmesh.geometry import Plane, geometry_from_images


def image(
    position: Sequence[float], orientation: Sequence[float] | None = None, spacing=(0.5, 0.8)
) -> Dataset:
    ds = Dataset()
    ds.ImagePositionPatient = position
    ds.ImageOrientationPatient = orientation or [1, 0, 0, 0, 1, 0]
    ds.PixelSpacing = list(spacing)
    ds.Rows, ds.Columns = 4, 6
    ds.FrameOfReferenceUID = "1.2.3"
    return ds


def test_slices_sorted_by_position_not_list_order() -> None:
    images = [image([10, 20, z]) for z in (5.0, -5.0, 0.0)]
    geometry, order = geometry_from_images(images)
    assert order == [(1, 0), (2, 0), (0, 0)]
    assert geometry.shape == (3, 4, 6)
    np.testing.assert_allclose(geometry.affine[:3, 3], [10, 20, -5])


def test_pixel_spacing_is_row_spacing_first() -> None:
    geometry, _ = geometry_from_images([image([0, 0, z], spacing=(0.5, 0.8)) for z in (0, 2)])
    # Along a row (increasing column i) the step is the column spacing, 0.8 mm.
    np.testing.assert_allclose(geometry.affine[:3, 0], [0.8, 0, 0])
    np.testing.assert_allclose(geometry.affine[:3, 1], [0, 0.5, 0])
    np.testing.assert_allclose(geometry.spacing, (0.8, 0.5, 2.0))
    np.testing.assert_allclose(geometry.index_to_lps([[2, 3, 1]]), [[1.6, 1.5, 2.0]])


def test_sagittal_series_normal_and_order() -> None:
    orientation = [0, 1, 0, 0, 0, -1]  # rows along +y, columns along -z: normal is -x
    images = [image([x, 0, 0], orientation) for x in (0.0, -3.0, -6.0)]
    geometry, order = geometry_from_images(images)
    np.testing.assert_allclose(geometry.normal, [-1, 0, 0])
    assert order == [(0, 0), (1, 0), (2, 0)]
    np.testing.assert_allclose(geometry.affine[:3, 2], [-3, 0, 0])


def test_lps_to_index_inverts_index_to_lps_on_an_oblique_grid() -> None:
    c, s = np.cos(0.3), np.sin(0.3)
    orientation = [c, s, 0, 0, c, s]
    normal = np.cross([c, s, 0], [0, c, s])
    images = [
        image(list(np.array([1.0, 2.0, 3.0]) + 2.5 * k * normal), orientation) for k in range(4)
    ]
    geometry, _ = geometry_from_images(images)
    indices = np.array([[0, 0, 0], [5, 3, 3], [2.5, 1.25, 1.5]])
    np.testing.assert_allclose(
        geometry.lps_to_index(geometry.index_to_lps(indices)), indices, atol=1e-9
    )


def test_non_uniform_spacing_is_followed() -> None:
    images = [image([0, 0, z]) for z in (0.0, 1.0, 3.0, 6.0)]
    geometry, _ = geometry_from_images(images)
    assert not geometry.is_uniform
    np.testing.assert_allclose(geometry.index_to_lps([[0, 0, 2]])[0], [0, 0, 3.0])
    np.testing.assert_allclose(geometry.lps_to_index([[0, 0, 4.5]])[0], [0, 0, 2.5])
    # Beyond the ends the end gaps continue (a mesh cap half a slice out stays out).
    np.testing.assert_allclose(
        geometry.index_to_lps([[0, 0, -0.5], [0, 0, 3.5]])[:, 2], [-0.5, 7.5]
    )
    np.testing.assert_allclose(geometry.lps_to_index([[0, 0, 7.5]])[0], [0, 0, 3.5])
    assert geometry.nearest_slice([0, 0, 2.9], tolerance=0.5) == 2
    assert geometry.nearest_slice([0, 0, 4.5], tolerance=0.5) is None


def test_mixed_orientations_are_reported() -> None:
    images = [image([0, 0, 0]), image([0, 0, 1], [1, 0, 0, 0, 0, -1])]
    with pytest.raises(UnprocessableError, match="Mixed orientations"):
        geometry_from_images(images)


def test_duplicate_positions_are_reported() -> None:
    with pytest.raises(UnprocessableError, match="Duplicate slice positions"):
        geometry_from_images([image([0, 0, 1]), image([0, 0, 1])])


@pytest.mark.parametrize(
    ("position", "orientation", "spacing", "message"),
    [
        ([0, 0, 1e300], None, (0.5, 0.8), "ImagePositionPatient must hold 3 numbers of magnitude"),
        ([0, 0, 1], [0, 0, 0, 0, 0, 0], (0.5, 0.8), "not two unit vectors spanning a plane"),
        ([0, 0, 1], [0, 1, 0, 0, 1, 0], (0.5, 0.8), "not two unit vectors spanning a plane"),
        ([0, 0, 1], None, (0.0, 0.8), "PixelSpacing .* must hold 2 positive numbers"),
    ],
)
def test_images_whose_geometry_no_scanner_makes_are_a_broken_file(
    position: list[float],
    orientation: list[float] | None,
    spacing: tuple[float, float],
    message: str,
) -> None:
    images = [image([0, 0, 0]), image(position, orientation, spacing)]
    with pytest.raises(BrokenFileError, match=message):
        geometry_from_images(images)


def test_projection_image_has_no_geometry() -> None:
    ds = image([0, 0, 0])
    del ds.ImagePositionPatient
    with pytest.raises(UnprocessableError, match="No patient geometry"):
        geometry_from_images([ds])


def test_gantry_tilt_keeps_the_real_slice_step() -> None:
    images = [image([0, 0.5 * k, 2.0 * k]) for k in range(3)]
    geometry, _ = geometry_from_images(images)
    np.testing.assert_allclose(geometry.affine[:3, 2], [0, 0.5, 2.0])
    np.testing.assert_allclose(geometry.index_to_lps([[0, 0, 2]])[0], [0, 1.0, 4.0])


def test_voxel_count_does_not_overflow() -> None:
    """A wild grid's voxel count stays exact, so MaxVoxels still refuses it."""
    geometry, _ = geometry_from_images([image([0, 0, z]) for z in (0, 2)])
    wild = dataclasses.replace(geometry, shape=(2**40, 2**16, 2**16))
    assert wild.voxel_count == 2**72


def raw_read(ds: Dataset) -> Dataset:
    """``ds`` written and read back: its values raw bytes until pydicom converts them."""
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    buffer = BytesIO()
    ds.save_as(buffer, implicit_vr=False, little_endian=True)
    return dcmread(BytesIO(buffer.getvalue()), force=True)


def test_decimals_read_from_the_file_as_pydicom_reads_them() -> None:
    """image_planes parses DS bytes itself (padded, exponents); pydicom what it cannot."""
    images = [image([0, 0, 0]) for _ in range(2)]
    for z, ds in enumerate(images):
        ds.ImagePositionPatient = [" -1.5", "2e1 ", str(3 * z)]
        ds.PixelSpacing = ["0.5", "8E-1"]
    raw = [raw_read(ds) for ds in images]
    assert isinstance(raw[0].get_item("PixelSpacing"), RawDataElement)
    read, expected = geometry_from_images(raw)[0], geometry_from_images(images)[0]
    np.testing.assert_array_equal(read.affine, expected.affine)
    np.testing.assert_array_equal(read.affine[:3, 3], [-1.5, 20, 0])
    broken = raw_read(image([1, 2, 3]))
    position = broken.get_item("ImagePositionPatient")
    assert isinstance(position, RawDataElement)
    broken[position.tag] = position._replace(value=b"1\\abc\\3 ", length=8)
    with pytest.raises(BrokenFileError, match="ImagePositionPatient"):
        geometry_from_images([broken, raw_read(image([1, 2, 4]))])


def test_a_plane_pickled_is_the_same_plane() -> None:
    """Planes cross to and from workers pickled as floats: the same arrays, to the bit."""
    plane = Plane(
        np.array([-204.4, 0.1 + 0.2, 1e-300]),
        np.array([1.0, 0.0, 0.0, 0.0, 0.8, 0.6]),
        np.array([0.7, 0.8]),
        512,
        256,
        (3, 7),
    )
    copy = pickle.loads(pickle.dumps(plane))
    for name in ("position", "orientation", "pixel_spacing"):
        assert getattr(copy, name).dtype == np.float64
        assert getattr(copy, name).tobytes() == getattr(plane, name).tobytes()
    assert (copy.rows, copy.columns, copy.source) == (512, 256, (3, 7))
