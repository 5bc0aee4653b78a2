"""A thousand segments through every route on a real Orthanc: 1020 small structures (twenty
overlapping earlier ones) as a BINARY SEG, and the 1000 that do not overlap as a LABELMAP SEG,
on a 96 x 96 x 40 CT (issue 24)."""

from __future__ import annotations

import csv
import gzip
import io
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nibabel as nib
import nrrd
import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image

from tests import builders
from tests.conftest import encode
from tests.orthanc_server import OrthancServer

SHAPE = (40, 96, 96)  # slices, rows, columns
SPACING = (1.0, 1.0, 2.0)  # row, column, slice (mm)
COUNT, OVERLAPPING = 1020, 20


@dataclass(frozen=True)
class Thousand:
    """The Orthanc holding the sources, their ids and the generator's labellings."""

    server: OrthancServer
    binary: str
    labelmap: str
    images: list[str]  # Orthanc ids in slice order
    base: npt.NDArray[np.uint16]  # (slices, rows, columns): segments 1 to 1000
    extra: npt.NDArray[np.uint16]  # segments 1001 to 1020, over earlier ones


@pytest.fixture(scope="module")
def thousand(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Thousand]:
    base, extra = builders.scattered_structures(SHAPE, COUNT, OVERLAPPING)
    images = builders.ct_series(SHAPE, SPACING, study=builders.study_dataset())
    server = OrthancServer(tmp_path_factory.mktemp("orthanc-thousand"))
    server.start()
    image_ids = [server.upload(encode(image)) for image in images]
    binary = server.upload(encode(builders.many_segments_seg(images, base, extra)))
    labelmap = server.upload(encode(builders.many_segments_seg(images, base, None, "LABELMAP")))
    yield Thousand(server, binary, labelmap, image_ids, base, extra)
    server.stop()
    assert "Traceback" not in server.log(), "Orthanc logged a Python traceback"


def _expected(t: Thousand, segments: list[dict[str, Any]]) -> npt.NDArray[np.uint16]:
    """(layers, slices, rows, columns): each segment's voxels at its Layer, valued Value."""
    layers = max(s["Layer"] for s in segments) + 1
    expected = np.zeros((layers, *SHAPE), dtype=np.uint16)
    value = np.zeros(COUNT + 1, dtype=np.uint16)
    for layer in range(layers):
        value[:] = 0
        for s in segments:
            if s["Layer"] == layer:
                value[s["Number"]] = s["Value"]
        # base and extra never share a layer where they overlap: a sum shows it if they do.
        expected[layer] = value[t.base] + value[t.extra]
    return expected


def _segments(t: Thousand, source: str) -> list[dict[str, Any]]:
    response = t.server.get(f"/instances/{source}/segmesh/segments")
    assert response.status_code == 200, response.text
    segments: list[dict[str, Any]] = response.json()["Segments"]
    return segments


def _npz(t: Thousand, source: str) -> tuple[npt.NDArray[Any], list[dict[str, Any]]]:
    response = t.server.get(f"/instances/{source}/segmesh/labelmap?format=npz")
    assert response.status_code == 200, response.text
    with np.load(io.BytesIO(response.content)) as npz:
        return npz["labels"], json.loads(str(npz["segments"]))


def test_the_segments_route_lists_every_segment(thousand: Thousand) -> None:
    segments = _segments(thousand, thousand.binary)
    assert [s["Number"] for s in segments] == list(range(1, COUNT + 1))
    assert [s["Label"] for s in segments] == [f"Structure {n}" for n in range(1, COUNT + 1)]
    assert all(len(s["Color"]) == 3 for s in segments)
    labelmap = _segments(thousand, thousand.labelmap)
    assert [s["Number"] for s in labelmap] == list(range(1, COUNT - OVERLAPPING + 1))


@pytest.mark.parametrize("kind", ["binary", "labelmap"])
def test_the_label_map_is_voxel_exact_in_npz_npy_and_nifti(thousand: Thousand, kind: str) -> None:
    source = getattr(thousand, kind)
    labels, segments = _npz(thousand, source)
    assert labels.dtype == np.uint16
    expected = _expected(thousand, segments)
    if kind == "binary":
        # The overlapping twenty sit on a second layer.
        assert labels.shape == (2, *SHAPE)
        assert {s["Layer"] for s in segments if s["Number"] > COUNT - OVERLAPPING} == {1}
    else:
        assert labels.shape == (1, *SHAPE)
        np.testing.assert_array_equal(labels[0], thousand.base)
    np.testing.assert_array_equal(labels, expected)
    npy = thousand.server.get(f"/instances/{source}/segmesh/volume/labels.npy")
    np.testing.assert_array_equal(np.load(io.BytesIO(npy.content)), expected)
    nifti = thousand.server.get(f"/instances/{source}/segmesh/labelmap?format=nifti")
    assert nifti.status_code == 200, nifti.text
    data = np.asarray(nib.Nifti1Image.from_bytes(gzip.decompress(nifti.content)).dataobj)
    # (i, j, k[, layer]) -> (layers, slices, rows, columns)
    data = data[..., np.newaxis] if data.ndim == 3 else data
    np.testing.assert_array_equal(np.transpose(data, (3, 2, 1, 0)), expected)


def test_the_seg_nrrd_holds_slicers_fields_of_every_segment(
    thousand: Thousand, tmp_path: Path
) -> None:
    response = thousand.server.get(f"/instances/{thousand.binary}/segmesh/labelmap?format=nrrd")
    assert response.status_code == 200, response.text
    path = tmp_path / "thousand.seg.nrrd"
    path.write_bytes(response.content)
    data, header = nrrd.read(str(path))
    segments = _segments(thousand, thousand.binary)
    assert header["kinds"][0] == "list"  # two layers
    # (layer, i, j, k) -> (layer, slices, rows, columns)
    layers = np.transpose(data, (0, 3, 2, 1))
    for index, segment in enumerate(segments):
        prefix = f"Segment{index}_"
        number = segment["Number"]
        assert header[prefix + "ID"] == f"Segment_{number}"
        assert header[prefix + "Name"] == segment["Label"]
        color = [round(float(c) * 255) for c in header[prefix + "Color"].split()]
        assert color == segment["Color"]
        layer, value = int(header[prefix + "Layer"]), int(header[prefix + "LabelValue"])
        assert layer == (1 if number > COUNT - OVERLAPPING else 0)
        k, j, i = np.nonzero((thousand.base == number) | (thousand.extra == number))
        extent = f"{i.min()} {i.max()} {j.min()} {j.max()} {k.min()} {k.max()}"
        assert header[prefix + "Extent"] == extent
        if index % 97 == 0 or number > COUNT - OVERLAPPING:
            assert int(np.count_nonzero(layers[layer] == value)) == k.size
    assert f"Segment{COUNT}_ID" not in header


def test_an_overlay_draws_each_structure_of_its_slice(thousand: Thousand) -> None:
    segments = {s["Number"]: s for s in _segments(thousand, thousand.binary)}
    k = 17  # a slice through the middle of a row of structures
    image = thousand.images[k]
    response = thousand.server.get(f"/instances/{thousand.binary}/segmesh/overlay/{image}.png")
    assert response.status_code == 200, response.text
    rgba = np.asarray(Image.open(io.BytesIO(response.content)))
    assert rgba.shape == (SHAPE[1], SHAPE[2], 4)
    base = thousand.base[k]
    np.testing.assert_array_equal(rgba[..., 3] > 0, (base > 0) | (thousand.extra[k] > 0))
    shown = np.unique(base[(base > 0) & (thousand.extra[k] == 0)])
    assert shown.size > 20
    for number in shown:
        pixels = rgba[(base == number) & (thousand.extra[k] == 0)][:, :3]
        assert (pixels == segments[int(number)]["Color"]).all(), number


def test_statistics_count_every_segments_voxels_in_json_and_csv(thousand: Thousand) -> None:
    voxels = np.bincount(thousand.base.ravel(), minlength=COUNT + 1)
    voxels += np.bincount(thousand.extra.ravel(), minlength=COUNT + 1)
    source = f"/instances/{thousand.binary}/segmesh/statistics"
    response = thousand.server.get(source)
    assert response.status_code == 200, response.text
    answer = response.json()["Segments"]
    assert [s["Number"] for s in answer] == list(range(1, COUNT + 1))
    assert [s["Voxels"] for s in answer] == voxels[1:].tolist()
    rows = list(csv.DictReader(io.StringIO(thousand.server.get(source + "?format=csv").text)))
    assert len(rows) == COUNT
    assert [int(row["Voxels"]) for row in rows] == voxels[1:].tolist()


def _wait(server: OrthancServer, path: str) -> tuple[dict[str, Any], list[int]]:
    """Poll a job to its end; its record and the progress values seen."""
    seen: list[int] = []
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        record: dict[str, Any] = server.get(path).json()
        seen.append(record["Progress"])
        if record["State"] in ("Success", "Failure"):
            return record, seen
        time.sleep(0.2)
    raise AssertionError(f"job {path} still running at {seen[-1]}%")


def test_a_model_job_stores_one_model_per_segment_and_merge_stores_one(
    thousand: Thousand,
) -> None:
    server = thousand.server
    before = len(server.get("/instances").json())
    body = {"Asynchronous": True, "Smoothing": "none"}
    response = server.post(f"/instances/{thousand.labelmap}/segmesh/stl", json=body)
    assert response.status_code == 202, response.text
    record, seen = _wait(server, response.json()["Path"])
    assert record["State"] == "Success", record
    assert seen == sorted(seen)
    assert seen[-1] == 100
    stored = record["Result"]["Instances"]
    assert sorted(i["Segment"] for i in stored) == list(range(1, COUNT - OVERLAPPING + 1))
    assert len({i["ID"] for i in stored}) == COUNT - OVERLAPPING
    assert len(server.get("/instances").json()) == before + COUNT - OVERLAPPING
    merged = server.post(
        f"/instances/{thousand.labelmap}/segmesh/stl", json={"Merge": True, "Smoothing": "none"}
    )
    assert merged.status_code == 200, merged.text
    (model,) = merged.json()["Instances"]
    assert model["Segment"] == list(range(1, COUNT - OVERLAPPING + 1))
    assert len(server.get("/instances").json()) == before + COUNT - OVERLAPPING + 1


def test_a_conversion_to_labelmap_keeps_every_segment(thousand: Thousand) -> None:
    server = thousand.server
    response = server.post(
        f"/instances/{thousand.binary}/segmesh/convert", json={"To": "LABELMAP", "Split": True}
    )
    assert response.status_code == 200, response.text
    instances = response.json()["Instances"]
    assert len(instances) == 2  # the overlapping twenty in a second instance
    merged = np.zeros((2, *SHAPE), dtype=np.uint16)
    for index, instance in enumerate(instances):
        labels, segments = _npz(thousand, instance["ID"])
        merged[index] = labels[0]
        assert len(segments) == (COUNT - OVERLAPPING if index == 0 else OVERLAPPING)
    np.testing.assert_array_equal(merged[0], thousand.base)
    np.testing.assert_array_equal(merged[1], thousand.extra)


def test_a_conversion_to_rtstruct_contours_every_segment(thousand: Thousand) -> None:
    response = thousand.server.post(
        f"/instances/{thousand.labelmap}/segmesh/convert", json={"To": "RTSTRUCT"}
    )
    assert response.status_code == 200, response.text
    (instance,) = response.json()["Instances"]
    segments = _segments(thousand, instance["ID"])
    assert [s["Label"] for s in segments] == [
        f"Structure {n}" for n in range(1, COUNT - OVERLAPPING + 1)
    ]
    # Each ROI contoured on its own box comes back voxel for voxel.
    labels, _ = _npz(thousand, instance["ID"])
    np.testing.assert_array_equal(labels[0], thousand.base)
