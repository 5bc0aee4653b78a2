"""Label map writers, read back with nibabel, pynrrd, numpy and h5py: affines and voxels."""

from __future__ import annotations

import gzip
import io
import json
import zipfile

import h5py
import nibabel as nib
import nrrd
import numpy as np
import pytest

from segmesh.formats import Format, export, nrrd_header, to_nifti, to_npz, to_seg_nrrd
from segmesh.formats.nifti import nifti_bytes
from segmesh.geometry import Plane, geometry_from_planes
from segmesh.labelmap import LabelMap, LayerBuilder, Segment

SHAPE = (4, 5, 6)  # slices, rows, columns: all different, so a transposition shows


def oblique_labelmap() -> LabelMap:
    """Two overlapping segments (two layers) on an oblique grid with non-square pixels."""
    orientation = np.array([0.8, 0.6, 0.0, -0.6, 0.8, 0.0])
    normal = np.cross(orientation[:3], orientation[3:])
    planes = [
        Plane(
            np.array([10.0, -20.0, 5.0]) + 2.5 * k * normal, orientation, np.array([1.5, 0.7]), 5, 6
        )
        for k in range(SHAPE[0])
    ]
    geometry, _ = geometry_from_planes(planes, "1.2.3")
    builder = LayerBuilder(geometry, np.dtype(np.uint8))
    first = np.zeros(SHAPE, dtype=bool)
    first[1:3, 0:2, 1:5] = True
    second = np.zeros(SHAPE, dtype=bool)
    second[2:4, 1:4, 3:6] = True
    attributes = {
        "Category": {
            "CodeValue": "91772007",
            "CodingSchemeDesignator": "SCT",
            "CodeMeaning": "Organ",
        },
        "Type": {"CodeValue": "10200004", "CodingSchemeDesignator": "SCT", "CodeMeaning": "Liver"},
    }
    builder.add(Segment(3, "Liver", (221, 130, 101), attributes=attributes), dict(enumerate(first)))
    builder.add(Segment(7, "Tumour", (255, 0, 0)), dict(enumerate(second)))
    return builder.build()


def test_npz() -> None:
    labelmap = oblique_labelmap()
    with np.load(io.BytesIO(to_npz(labelmap))) as archive:
        np.testing.assert_array_equal(archive["labels"], labelmap.layers)
        np.testing.assert_allclose(archive["affine"], labelmap.geometry.affine)
        segments = json.loads(str(archive["segments"]))
    assert [(s["Number"], s["Layer"], s["Value"]) for s in segments] == [(3, 0, 3), (7, 1, 7)]
    assert segments[0]["Color"] == [221, 130, 101]


def test_npz_deflates_the_labels_and_stores_the_image() -> None:
    labelmap = oblique_labelmap()
    image = np.random.default_rng(7).integers(-1000, 1000, labelmap.geometry.shape, np.int16)
    data = to_npz(labelmap, image)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        kinds = {info.filename: info.compress_type for info in archive.infolist()}
    assert kinds == {
        "labels.npy": zipfile.ZIP_DEFLATED,
        "affine.npy": zipfile.ZIP_DEFLATED,
        "segments.npy": zipfile.ZIP_DEFLATED,
        "image.npy": zipfile.ZIP_STORED,
    }
    with np.load(io.BytesIO(data)) as archive:
        np.testing.assert_array_equal(archive["labels"], labelmap.layers)
        np.testing.assert_array_equal(archive["image"], image)
        assert archive["image"].dtype == np.int16


def test_nifti_is_ras_and_ijk_ordered() -> None:
    labelmap = oblique_labelmap()
    assert labelmap.layers.shape[0] == 2
    image = nib.Nifti1Image.from_bytes(gzip.decompress(to_nifti(labelmap)))
    data = np.asarray(image.dataobj)
    assert data.shape == (6, 5, 4, 2)  # i, j, k, layer
    lps = labelmap.geometry.affine
    ras = image.affine
    np.testing.assert_allclose(ras[:2], -lps[:2], atol=1e-5)
    np.testing.assert_allclose(ras[2:], lps[2:], atol=1e-5)
    np.testing.assert_array_equal(data[..., 0].T == 3, labelmap.mask(3))
    np.testing.assert_array_equal(data[..., 1].T == 7, labelmap.mask(7))
    # The voxel [i=1, j=0, k=1] of segment 3 lands at the same point in both conventions.
    point_lps = lps @ [1, 0, 1, 1]
    point_ras = ras @ [1, 0, 1, 1]
    np.testing.assert_allclose(point_ras[:3], point_lps[:3] * [-1, -1, 1], atol=1e-5)
    assert int(image.header["qform_code"]) == 1
    assert int(image.header["sform_code"]) == 1


def read_nrrd(data: bytes) -> tuple[np.ndarray, dict]:
    header_size = data.index(b"\n\n") + 2
    header = nrrd.read_header(io.StringIO(data[:header_size].decode()))
    return nrrd.reader.read_data(header, io.BytesIO(data[header_size:])), header


def test_seg_nrrd_layers_and_slicer_fields() -> None:
    labelmap = oblique_labelmap()
    data, header = read_nrrd(to_seg_nrrd(labelmap))
    assert data.shape == (2, 6, 5, 4)  # layer, i, j, k
    assert header["kinds"] == ["list", "domain", "domain", "domain"]
    assert np.isnan(header["space directions"][0]).all()
    np.testing.assert_allclose(header["space directions"][1:], labelmap.geometry.affine[:3, :3].T)
    np.testing.assert_allclose(header["space origin"], labelmap.geometry.affine[:3, 3])
    np.testing.assert_array_equal(np.transpose(data, (0, 3, 2, 1)), labelmap.layers)
    assert header["Segment1_ID"] == "Segment_7"
    assert header["Segment1_Name"] == "Tumour"
    assert header["Segment1_Layer"] == "1"
    assert header["Segment1_LabelValue"] == "7"
    assert header["Segment1_Color"] == "1.000000 0.000000 0.000000"
    assert header["Segment0_Extent"] == "1 4 0 1 1 2"
    assert "SCT^10200004^Liver" in header["Segment0_Tags"]


def test_single_layer_nrrd_is_3d() -> None:
    labelmap = oblique_labelmap()
    single = LabelMap(labelmap.layers[:1], labelmap.geometry, labelmap.segments[:1])
    data, header = read_nrrd(to_seg_nrrd(single))
    assert data.shape == (6, 5, 4)
    assert header["kinds"] == ["domain", "domain", "domain"]
    np.testing.assert_array_equal(data.T, single.layers[0])
    assert nrrd_header(single)["Segment0_Layer"] == "0"


def test_nrrd_warnings_field_is_one_json_line_teem_reads_unchanged() -> None:
    labelmap = oblique_labelmap()
    first, second = labelmap.segments
    shared = "frame 1.2.3 differs"
    segments = (
        Segment(3, "Liver", first.color, 0, {"Warnings": [shared, "two\nlines C:\\x é"]}),
        Segment(7, "Tumour", second.color, 1, {"Warnings": [shared]}),
    )
    warned = LabelMap(labelmap.layers, labelmap.geometry, segments)
    assert warned.warnings() == (shared, "two\nlines C:\\x é")
    content = to_seg_nrrd(warned)
    [line] = [row for row in content.split(b"\n\n")[0].split(b"\n") if b"segmesh" in row]
    # No backslash-n or double backslash, the pairs Teem (3D Slicer) unescapes.
    assert line == b'segmesh_warnings:=["frame 1.2.3 differs", "two lines C:/x \\u00e9"]'
    _, header = read_nrrd(content)
    assert json.loads(header["segmesh_warnings"]) == [shared, "two lines C:/x é"]
    assert json.loads(nrrd_header(labelmap)["segmesh_warnings"]) == []


def test_hdf5_chunked_per_slice_with_image() -> None:
    labelmap = oblique_labelmap()
    image = np.arange(np.prod(SHAPE), dtype=np.int16).reshape(SHAPE)
    exported = export(labelmap, Format.HDF5, image)
    assert exported.extension == ".h5"
    with h5py.File(io.BytesIO(exported.body), "r") as h5:
        assert h5["labels"].chunks == (1, 1, 5, 6)
        assert h5["image"].chunks == (1, 5, 6)
        np.testing.assert_array_equal(h5["labels"][:, 2], labelmap.layers[:, 2])
        np.testing.assert_array_equal(h5["image"][...], image)
        np.testing.assert_allclose(h5.attrs["affine"], labelmap.geometry.affine)
        assert [s["Number"] for s in json.loads(h5.attrs["segments"])] == [3, 7]


def test_image_of_another_shape_is_refused() -> None:
    with pytest.raises(ValueError, match="shape"):
        export(oblique_labelmap(), Format.NPZ, np.zeros((1, 2, 3)))


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int16])
@pytest.mark.parametrize("layout", ["view of a (k, j, i) volume", "C order", "four axes"])
def test_nifti_bytes_are_nibabels_own(dtype: type, layout: str) -> None:
    """The header and voxels segmesh streams into its compressor are, byte for byte, what
    nibabel's to_bytes() writes."""
    volume: np.ndarray = np.random.default_rng(3).integers(0, 200, (7, 9, 11)).astype(dtype)
    data = {
        "view of a (k, j, i) volume": volume.T,
        "C order": np.ascontiguousarray(volume.T),
        "four axes": np.transpose(np.stack([volume, volume[::-1]]), (3, 2, 1, 0)),
    }[layout]
    affine = np.diag([-0.8, -0.9, 2.0, 1.0])
    affine[:3, 3] = (10.0, -20.0, 5.0)
    image = nib.Nifti1Image(data, affine)
    image.header.set_xyzt_units("mm")
    image.set_qform(affine, code=1)
    image.set_sform(affine, code=1)
    assert gzip.decompress(nifti_bytes(data, affine)) == image.to_bytes()
