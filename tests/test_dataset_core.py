"""The pure core of training-dataset export: labels, training label maps, resampling, and the
nnU-Net zip and HDF5 files read back with zipfile, nibabel and h5py."""

from __future__ import annotations

import gzip
import json
import multiprocessing
import re
import zipfile
from pathlib import Path
from typing import Any

import h5py
import nibabel as nib
import numpy as np
import pytest

from segmesh.datasets.case_names import hashed_case_name, numbered_case_name
from segmesh.datasets.hdf5_dataset import add_hdf5_case, finish_hdf5
from segmesh.datasets.nnunet_zip import add_nnunet_case, finish_nnunet_zip
from segmesh.datasets.resampling import resample_case
from segmesh.datasets.training_labelmap import training_labelmap
from segmesh.datasets.training_labels import CaseLabels, TrainingLabel, TrainingLabels
from segmesh.errors import BadRequestError, UnprocessableError
from segmesh.formats.nifti import LPS_TO_RAS
from segmesh.geometry import VolumeGeometry
from segmesh.labelmap import LabelMap, Segment
from segmesh.requests.dataset_body import training_labels

LIVER_CODE = {"CodingSchemeDesignator": "SCT", "CodeValue": "10200004", "CodeMeaning": "Liver"}


def segment(number: int, label: str, layer: int = 0, **attributes: Any) -> Segment:
    return Segment(number, label, (255, 0, 0), layer, attributes)


def geometry_of(
    shape: tuple[int, int, int], spacing: tuple[float, float, float] = (1.0, 1.0, 1.0)
) -> VolumeGeometry:
    """An oblique grid (rotated about z) of ``spacing`` (x, y, z) mm."""
    angle = np.deg2rad(30)
    rotation = np.array(
        [[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]]
    )
    affine = np.eye(4)
    affine[:3, :3] = rotation * np.array(spacing)
    affine[:3, 3] = (10.0, -20.0, 5.0)
    k = np.arange(shape[0], dtype=np.float64)[:, None]
    return VolumeGeometry(shape, affine, "1.2.3", affine[:3, 3] + k * affine[:3, 2])


# Labels


def test_labels_match_names_case_insensitively_and_codes() -> None:
    labels = training_labels({"liver": ["  LIVER ", "SCT:10200004"], "spleen": "Spleen"})
    assert labels is not None
    assert labels.labels == (
        TrainingLabel(1, "liver", ("liver", "CODE:SCT:10200004")),
        TrainingLabel(2, "spleen", ("spleen",)),
    )
    case = labels.assign(
        [segment(3, "Organ 1", Type=LIVER_CODE), segment(5, " spleen"), segment(7, "Tumour")]
    )
    assert case == CaseLabels({3: 1, 5: 2}, ("Tumour",))
    assert labels.dataset_json_labels() == {"background": 0, "liver": 1, "spleen": 2}


def test_a_lower_case_prefix_is_a_label_not_a_code() -> None:
    labels = training_labels({"left": "Liver: left"})
    assert labels is not None
    assert labels.labels[0].matchers == ("liver: left",)


def test_labels_default_to_the_distinct_segment_labels_sorted() -> None:
    segments = [segment(1, "Liver "), segment(2, "aorta"), segment(3, "liver"), segment(4, "")]
    segments.append(segment(5, "Background"))
    labels = TrainingLabels.from_segments(segments)
    assert labels.labels == (
        TrainingLabel(1, "aorta", ("aorta",)),
        TrainingLabel(2, "Liver", ("liver",)),
        TrainingLabel(3, "segment 4", ("segment 4",)),
    )
    assert labels.assign([segment(4, ""), segment(9, "LIVER")]).values == {4: 3, 9: 2}


def test_two_segments_on_one_label_are_422() -> None:
    labels = training_labels({"liver": "liver"})
    assert labels is not None
    with pytest.raises(UnprocessableError) as raised:
        labels.assign([segment(3, "Liver"), segment(7, "liver")])
    assert raised.value.message == "Two segments map to one label"
    assert raised.value.details == "segments 3 (Liver) and 7 (liver) both map to liver"


@pytest.mark.parametrize(
    ("body", "details"),
    [
        ([], "a non-empty object"),
        ("liver", "a non-empty object"),
        ({}, "a non-empty object"),
        ({"Background": "bg"}, "background is value 0"),
        ({" ": "a"}, "not a name"),
        ({"liver": ""}, "a matcher is a non-empty string"),
        ({"liver": 3}, "a matcher is a non-empty string"),
        ({"liver": ["a", None]}, "a matcher is a non-empty string"),
        ({"liver": []}, "no matcher"),
        ({"liver": "Liver", "organ": "liver "}, "liver is listed under both liver and organ"),
        ({"liver": "SCT:1", "organ": ["SCT:1"]}, "CODE:SCT:1 is listed under both"),
        ({"liver": "a", "Liver ": "b"}, "named twice"),
        ({f"l{n}": f"m{n}" for n in range(65536)}, "more than 65535 labels"),
    ],
)
def test_bad_labels_are_400(body: Any, details: str) -> None:
    with pytest.raises(BadRequestError) as raised:
        training_labels(body)
    assert raised.value.http_status == 400
    assert raised.value.message == "Bad parameter Labels"
    assert details in raised.value.details


def test_no_labels_is_none() -> None:
    assert training_labels(None) is None


# Training label maps


def two_layer_labelmap() -> LabelMap:
    """Segment 1 (layer 0) on columns 0-3, segment 2 (layer 1) on columns 2-5 of 2x3x6."""
    layers = np.zeros((2, 2, 3, 6), dtype=np.uint8)
    layers[0, :, :, 0:4] = 1
    layers[1, :, :, 2:6] = 2
    layers[0, 0, 0, 5] = 3  # a segment no training label takes
    segments = (segment(1, "Liver"), segment(2, "Tumour", layer=1), segment(3, "Other"))
    return LabelMap(layers, geometry_of((2, 3, 6)), segments)


def test_overlap_with_one_training_value_merges() -> None:
    result = training_labelmap(two_layer_labelmap(), CaseLabels({1: 4, 2: 4}, ()), 4)
    assert result.dtype == np.uint8
    expected = np.zeros((2, 3, 6), dtype=np.uint8)
    expected[:, :, 0:6] = 4
    np.testing.assert_array_equal(result, expected)


def test_overlap_with_two_training_values_is_422_with_the_count() -> None:
    with pytest.raises(UnprocessableError) as raised:
        training_labelmap(two_layer_labelmap(), CaseLabels({1: 1, 2: 2}, ()), 2)
    assert raised.value.message == "Overlapping segments"
    assert raised.value.details == "12 voxels are in both Liver and Tumour"


def test_one_layer_maps_values_and_drops_unmatched_segments() -> None:
    result = training_labelmap(two_layer_labelmap(), CaseLabels({2: 1}, ("Liver",)), 1)
    assert sorted(np.unique(result)) == [0, 1]
    assert np.count_nonzero(result) == 2 * 3 * 4


def test_more_than_255_labels_is_uint16() -> None:
    result = training_labelmap(two_layer_labelmap(), CaseLabels({1: 300}, ()), 300)
    assert result.dtype == np.uint16
    assert np.count_nonzero(result == 300) == 2 * 3 * 4


def test_no_matched_segment_is_all_background() -> None:
    result = training_labelmap(two_layer_labelmap(), CaseLabels({}, ()), 3)
    assert result.shape == (2, 3, 6)
    assert not result.any()


# Resampling


@pytest.mark.parametrize("factor", [2.0, 1 / 1.5])
def test_a_sphere_keeps_its_volume(factor: float) -> None:
    spacing = (0.9, 0.8, 1.2)
    shape = (48, 56, 60)
    geometry = geometry_of(shape, spacing)
    k, j, i = np.indices(shape, dtype=np.float64)
    centre = np.array(shape) / 2
    distance = np.sqrt(
        ((k - centre[0]) * spacing[2]) ** 2
        + ((j - centre[1]) * spacing[1]) ** 2
        + ((i - centre[2]) * spacing[0]) ** 2
    )
    labels = (distance <= 18.0).astype(np.uint8) * 3
    image = np.zeros(shape, dtype=np.int16)
    target = (spacing[0] * factor, spacing[1] * factor, spacing[2] * factor)
    resampled = resample_case(geometry, image, labels, target)
    assert resampled.labels.dtype == np.uint8
    assert resampled.image.dtype == np.int16
    assert set(np.unique(resampled.labels)) == {0, 3}
    volume = np.count_nonzero(resampled.labels) * float(np.prod(target))
    assert volume == pytest.approx(4 / 3 * np.pi * 18.0**3, rel=0.02)
    np.testing.assert_allclose(resampled.geometry.spacing, target)


def test_the_image_is_linear_on_a_ramp_and_the_geometry_follows() -> None:
    shape = (6, 7, 9)
    geometry = geometry_of(shape, (1.0, 2.0, 3.0))
    k, j, i = np.indices(shape, dtype=np.float64)
    ramp = 2 * i + 3 * j + 5 * k
    labels = np.zeros(shape, dtype=np.uint16)
    resampled = resample_case(geometry, ramp, labels, (0.5, 4.0, 2.5))
    assert resampled.geometry.shape == (7, 4, 17)  # 5*3/2.5+1, 6*2/4+1, 8*1/0.5+1
    k2, j2, i2 = np.indices(resampled.geometry.shape, dtype=np.float64)
    np.testing.assert_allclose(resampled.image, 2 * i2 * 0.5 + 3 * j2 * 2 + 5 * k2 * 2.5 / 3)
    rounded = resample_case(geometry, ramp.astype(np.int16), labels, (0.5, 4.0, 2.5)).image
    assert rounded.dtype == np.int16
    np.testing.assert_array_equal(rounded, np.rint(resampled.image))

    new = resampled.geometry
    np.testing.assert_allclose(new.affine[:3, 3], geometry.affine[:3, 3])
    np.testing.assert_allclose(new.affine[:3, 0], geometry.affine[:3, 0] * 0.5)
    np.testing.assert_allclose(new.affine[:3, 1], geometry.affine[:3, 1] * 2)
    np.testing.assert_allclose(new.affine[:3, 2], geometry.affine[:3, 2] * 2.5 / 3)
    np.testing.assert_allclose(new.slice_positions[-1], geometry.slice_positions[-1])
    assert new.frame_of_reference_uid == "1.2.3"
    assert new.is_uniform


def test_non_positive_spacing_is_400() -> None:
    geometry = geometry_of((2, 2, 2))
    volume = np.zeros((2, 2, 2), dtype=np.uint8)
    with pytest.raises(BadRequestError):
        resample_case(geometry, volume, volume, (1.0, 0.0, 1.0))


# Files


def case_volumes(slices: int, seed: int) -> tuple[np.ndarray, np.ndarray, VolumeGeometry]:
    rng = np.random.default_rng(seed)
    image = rng.integers(-1000, 2000, size=(slices, 5, 7), dtype=np.int16)
    labels = rng.integers(0, 3, size=(slices, 5, 7), dtype=np.uint8)
    return image, labels, geometry_of((slices, 5, 7), (0.7, 0.8, 2.5))


def test_nnunet_zip_reads_back(tmp_path: Any) -> None:
    path = str(tmp_path / "dataset.zip")
    cases = {"case_0001": case_volumes(3, 1), "case_0002": case_volumes(4, 2)}
    for name, (image, labels, geometry) in cases.items():
        add_nnunet_case(path, "Dataset001_Liver", name, image, labels, geometry)
        with zipfile.ZipFile(path) as archive:
            assert archive.testzip() is None
    with pytest.raises(UnprocessableError):
        add_nnunet_case(path, "Dataset001_Liver", "case_0002", *cases["case_0002"])
    labels_json = {"background": 0, "liver": 1, "tumour": 2}
    finish_nnunet_zip(path, "Dataset001_Liver", "CT", labels_json, 2, {"Cases": 2})
    with zipfile.ZipFile(path) as archive:
        assert sorted(archive.namelist()) == [
            "Dataset001_Liver/dataset.json",
            "Dataset001_Liver/imagesTr/case_0001_0000.nii.gz",
            "Dataset001_Liver/imagesTr/case_0002_0000.nii.gz",
            "Dataset001_Liver/labelsTr/case_0001.nii.gz",
            "Dataset001_Liver/labelsTr/case_0002.nii.gz",
            "Dataset001_Liver/report.json",
        ]
        assert json.loads(archive.read("Dataset001_Liver/dataset.json")) == {
            "channel_names": {"0": "CT"},
            "labels": labels_json,
            "numTraining": 2,
            "file_ending": ".nii.gz",
        }
        assert json.loads(archive.read("Dataset001_Liver/report.json")) == {"Cases": 2}
        for name, (image, labels, geometry) in cases.items():
            for member, volume in (
                (f"imagesTr/{name}_0000.nii.gz", image),
                (f"labelsTr/{name}.nii.gz", labels),
            ):
                info = archive.getinfo(f"Dataset001_Liver/{member}")
                assert info.compress_type == zipfile.ZIP_STORED
                read = nib.Nifti1Image.from_bytes(gzip.decompress(archive.read(info)))
                np.testing.assert_allclose(read.affine, LPS_TO_RAS @ geometry.affine, atol=1e-5)
                data = np.asanyarray(read.dataobj)
                assert data.dtype == volume.dtype
                np.testing.assert_array_equal(data, volume.T)


def test_hdf5_reads_back_slice_by_slice(tmp_path: Any) -> None:
    path = str(tmp_path / "dataset.h5")
    cases = {"case_b": case_volumes(3, 1), "case_a": case_volumes(2, 2)}
    for name, (image, labels, geometry) in reversed(cases.items()):
        add_hdf5_case(path, name, image, labels, geometry, {"SeriesInstanceUID": f"1.{name}"})
    with pytest.raises(UnprocessableError):
        add_hdf5_case(path, "case_a", *cases["case_a"], {})
    finish_hdf5(path, list(cases), {"background": 0, "liver": 1}, {"Cases": 2})
    finish_hdf5(path, list(cases), {"background": 0, "liver": 1}, {"Cases": 2})  # a retry
    with h5py.File(path, "r") as h5:
        names = [name.decode() for name in h5["case_names"][:]]
        assert names == ["case_b", "case_a"]
        assert h5["index"].dtype == np.int32
        np.testing.assert_array_equal(h5["index"][:], [[0, 0], [0, 1], [0, 2], [1, 0], [1, 1]])
        assert json.loads(h5.attrs["labels"]) == {"background": 0, "liver": 1}
        assert json.loads(h5.attrs["report"]) == {"Cases": 2}
        for case_number, k in h5["index"][:]:
            name = names[case_number]
            image, labels, geometry = cases[name]
            group = h5["cases"][name]
            np.testing.assert_array_equal(group["image"][k], image[k])
            np.testing.assert_array_equal(group["labels"][k], labels[k])
        for name, (image, _, geometry) in cases.items():
            group = h5["cases"][name]
            assert group["image"].chunks == group["labels"].chunks == (1, 5, 7)
            assert group["image"].compression == "gzip"
            np.testing.assert_allclose(group.attrs["affine"], geometry.affine)
            np.testing.assert_allclose(group.attrs["spacing"], (0.7, 0.8, 2.5))
            assert tuple(group.attrs["shape"]) == image.shape
            assert group.attrs["SeriesInstanceUID"] == f"1.{name}"


def test_case_names() -> None:
    name = hashed_case_name("1.2.3", "4.5.6")
    assert name == hashed_case_name("1.2.3", "4.5.6") != hashed_case_name("1.2.3", "4.5.7")
    assert name.startswith("case_")
    assert len(name) == 17
    assert numbered_case_name(1) == "case_0001"
    assert numbered_case_name(12345) == "case_12345"


def test_the_docs_loader_reads_slices_of_a_written_file(tmp_path: Any) -> None:
    """The PyTorch-style loader of docs/datasets.md, run as written on a file segmesh wrote."""
    docs = (Path(__file__).parents[1] / "docs" / "datasets.md").read_text()
    (block,) = re.findall(r"```python\n(.*?)```", docs, re.DOTALL)
    namespace: dict[str, Any] = {}
    exec(compile(block, "docs/datasets.md", "exec"), namespace)
    path = str(tmp_path / "dataset.h5")
    cases = {"case_x": case_volumes(3, 1), "case_y": case_volumes(2, 2)}
    for name, (image, labels, geometry) in cases.items():
        add_hdf5_case(path, name, image, labels, geometry, {})
    finish_hdf5(path, list(cases), {"background": 0, "liver": 1}, {})
    loader = namespace["SliceDataset"](path)
    assert len(loader) == 5
    assert loader.labels == {"background": 0, "liver": 1}
    image, labels = loader[3]  # case_y's first slice
    assert image.dtype == np.float32
    assert labels.dtype == np.int64
    np.testing.assert_array_equal(image, cases["case_y"][0][0])
    np.testing.assert_array_equal(labels, cases["case_y"][1][0])
    loader.file.close()


def test_numbers_in_labels_sort_by_value() -> None:
    segments = [segment(n, f"Segment {n}") for n in (10, 2, 1, 11)]
    names = [label.name for label in TrainingLabels.from_segments(segments).labels]
    assert names == ["Segment 1", "Segment 2", "Segment 10", "Segment 11"]


def test_a_layer_numbered_as_the_labels_is_taken_as_it_is() -> None:
    layers = np.zeros((1, 2, 3, 6), dtype=np.uint8)
    layers[0, :, :, 0:3], layers[0, :, :, 3:] = 1, 2
    labelmap = LabelMap(layers, geometry_of((2, 3, 6)), (segment(1, "a"), segment(2, "b")))
    same = training_labelmap(labelmap, CaseLabels({1: 1, 2: 2}, ()), 2)
    assert np.shares_memory(same, layers)
    swapped = training_labelmap(labelmap, CaseLabels({1: 2, 2: 1}, ()), 2)
    assert not np.shares_memory(swapped, layers)
    np.testing.assert_array_equal(swapped, 3 - layers[0])
    dropped = training_labelmap(labelmap, CaseLabels({1: 1}, ("b",)), 2)
    np.testing.assert_array_equal(dropped, layers[0] == 1)


def _append_cases(path: str, first: int) -> None:
    for number in range(first, first + 3):
        add_nnunet_case(path, "Dataset001_Liver", f"case_{number:04d}", *case_volumes(2, number))


def test_processes_append_cases_side_by_side_under_the_lock(tmp_path: Any) -> None:
    """Two worker-like processes append to one zip at once: every member, intact."""
    path = str(tmp_path / "dataset.zip")
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=_append_cases, args=(path, f)) for f in (1, 4)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(60)
        assert process.exitcode == 0
    with zipfile.ZipFile(path) as archive:
        assert archive.testzip() is None
        names = sorted(archive.namelist())
    assert len(names) == 12
    assert names[0] == "Dataset001_Liver/imagesTr/case_0001_0000.nii.gz"
