"""Label maps beyond a format's own limits: NIfTI-2 above NIfTI-1's 32767 voxels a dimension,
HDF5 chunks kept under MAX_CHUNK_BYTES, and the other formats on the same long grid."""

from __future__ import annotations

import gzip
import io
import zipfile
from pathlib import Path

import h5py
import nibabel as nib
import nrrd
import numpy as np
import pytest

from segmesh.formats import Format, export, hdf5, to_nifti
from segmesh.formats.nifti import ras_affine
from segmesh.geometry import Plane, geometry_from_planes
from segmesh.labelmap import LabelMap, LayerBuilder, Segment

#: slices, rows, columns: an RT-STRUCT's native grid stretched by one stray contour point.
LONG = (5, 3, 40000)


def long_labelmap(shape: tuple[int, int, int] = LONG, layers: int = 1) -> LabelMap:
    """Segment 1 at both ends of the rows, on an oblique grid; with ``layers`` 2, segment 2
    overlaps it at the far end."""
    orientation = np.array([0.8, 0.6, 0.0, -0.6, 0.8, 0.0])
    normal = np.cross(orientation[:3], orientation[3:])
    planes = [
        Plane(
            np.array([-30.0, 12.0, 5.0]) + 2.5 * k * normal,
            orientation,
            np.array([0.7, 1.5]),
            shape[1],
            shape[2],
        )
        for k in range(shape[0])
    ]
    geometry, _ = geometry_from_planes(planes, "1.2.3")
    builder = LayerBuilder(geometry, np.dtype(np.uint8))
    first = np.zeros(shape, dtype=bool)
    first[0, 0, :3] = True
    first[-1, -1, -2:] = True
    builder.add(Segment(1, "Body", (200, 100, 50)), dict(enumerate(first)))
    if layers == 2:
        second = np.zeros(shape, dtype=bool)
        second[-1, :, -5:] = True
        builder.add(Segment(2, "Marker", (0, 255, 0)), dict(enumerate(second)))
    labelmap = builder.build()
    assert labelmap.layers.shape[0] == layers
    return labelmap


def test_nifti_beyond_nifti1_dimensions_is_nifti2(tmp_path: Path) -> None:
    labelmap = long_labelmap(layers=2)
    path = tmp_path / "labels.nii.gz"
    path.write_bytes(to_nifti(labelmap))
    image = nib.load(path)
    assert type(image) is nib.Nifti2Image
    data = np.asarray(image.dataobj)
    assert data.shape == (40000, 3, 5, 2)  # i, j, k, layer
    np.testing.assert_array_equal(np.transpose(data, (3, 2, 1, 0)), labelmap.layers)
    assert data[39999, 2, 4, 0] == 1
    assert data[39999, 0, 4, 1] == 2
    np.testing.assert_allclose(image.affine, ras_affine(labelmap), atol=1e-5)
    assert int(image.header["sform_code"]) == int(image.header["qform_code"]) == 1


@pytest.mark.parametrize(("columns", "sizeof_hdr"), [(32767, 348), (32768, 540)])
def test_nifti1_wherever_it_fits(columns: int, sizeof_hdr: int) -> None:
    labelmap = long_labelmap((2, 1, columns))
    raw = gzip.decompress(to_nifti(labelmap))
    # sizeof_hdr opens the file: 348 for NIfTI-1, 540 for NIfTI-2.
    assert int.from_bytes(raw[:4], "little") == sizeof_hdr
    image = (nib.Nifti1Image if sizeof_hdr == 348 else nib.Nifti2Image).from_bytes(raw)
    np.testing.assert_array_equal(np.asarray(image.dataobj).T, labelmap.layers[0])


def test_image_beyond_nifti1_dimensions_is_nifti2(tmp_path: Path) -> None:
    labelmap = long_labelmap()
    image = np.random.default_rng(3).integers(-1000, 3000, LONG, dtype=np.int16)
    exported = export(labelmap, Format.NIFTI, image)
    with zipfile.ZipFile(io.BytesIO(exported.body)) as archive:
        archive.extractall(tmp_path)
    for name, expected in (("labels.nii.gz", labelmap.layers[0]), ("image.nii.gz", image)):
        read = nib.load(tmp_path / name)
        assert type(read) is nib.Nifti2Image
        np.testing.assert_array_equal(np.asarray(read.dataobj).T, expected)
        np.testing.assert_allclose(read.affine, ras_affine(labelmap), atol=1e-5)


def test_nrrd_npz_and_hdf5_hold_the_long_grid() -> None:
    labelmap = long_labelmap(layers=2)
    body = export(labelmap, Format.NRRD).body
    header_size = body.index(b"\n\n") + 2
    header = nrrd.read_header(io.StringIO(body[:header_size].decode()))
    data = nrrd.reader.read_data(header, io.BytesIO(body[header_size:]))
    np.testing.assert_array_equal(np.transpose(data, (0, 3, 2, 1)), labelmap.layers)
    with np.load(io.BytesIO(export(labelmap, Format.NPZ).body)) as archive:
        np.testing.assert_array_equal(archive["labels"], labelmap.layers)
    with h5py.File(io.BytesIO(export(labelmap, Format.HDF5).body), "r") as h5:
        assert h5["labels"].chunks == (1, 1, 3, 40000)  # a slice is one chunk
        np.testing.assert_array_equal(h5["labels"][...], labelmap.layers)


@pytest.mark.parametrize(
    ("max_chunk_bytes", "label_chunk", "image_chunk"),
    [
        # uint8 labels in bands of two whole rows, the float32 image in halves of a row.
        (80000, (1, 1, 2, 40000), (1, 1, 20000)),
        (1000, (1, 1, 1, 1000), (1, 1, 250)),
    ],
)
def test_hdf5_chunks_stay_under_the_bound(
    monkeypatch: pytest.MonkeyPatch,
    max_chunk_bytes: int,
    label_chunk: tuple[int, ...],
    image_chunk: tuple[int, ...],
) -> None:
    # A slice above HDF5 1.x's 4 GiB chunk limit takes more memory than a test should: the
    # bound is lowered instead.
    monkeypatch.setattr(hdf5, "MAX_CHUNK_BYTES", max_chunk_bytes)
    labelmap = long_labelmap()
    image = np.random.default_rng(5).normal(size=LONG).astype(np.float32)
    with h5py.File(io.BytesIO(export(labelmap, Format.HDF5, image).body), "r") as h5:
        assert h5["labels"].chunks == label_chunk
        assert h5["image"].chunks == image_chunk
        np.testing.assert_array_equal(h5["labels"][...], labelmap.layers)
        np.testing.assert_array_equal(h5["image"][...], image)
