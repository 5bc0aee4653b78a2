"""The threshold routes of an image series on a real Orthanc: coarse stored models (Step,
VoxelSize), the preview mesh (nothing stored) and the value histogram, on a generated CT of
a water ball in air."""

from __future__ import annotations

import io
import json
import math

import numpy as np
import pytest
import trimesh
from pydicom import dcmread

from segmesh.formats import read_binary_stl
from tests.conftest import encode
from tests.orthanc_server import OrthancServer
from tests.test_sampling import CENTRE, RADIUS, SPACING, ball_ct

SHAPE = (40, 50, 60)
BALL_ML = 4.0 / 3.0 * math.pi * RADIUS**3 / 1000.0


@pytest.fixture(scope="module")
def ball_series(orthanc_server: OrthancServer) -> str:
    ids = [orthanc_server.upload(encode(image)) for image in ball_ct(SHAPE)]
    return str(orthanc_server.get(f"/instances/{ids[0]}").json()["ParentSeries"])


def stored_model(orthanc: OrthancServer, series: str, body: dict) -> tuple[trimesh.Trimesh, dict]:
    response = orthanc.post(f"/series/{series}/segmesh/stl", json={"Threshold": -500, **body})
    assert response.status_code == 200, response.text
    (item,) = response.json()["Instances"]
    data = orthanc.get(f"/instances/{item['ID']}/segmesh/model").content
    return trimesh.load_mesh(io.BytesIO(data), file_type="stl"), item


def instance_count(orthanc: OrthancServer) -> int:
    return len(orthanc.get("/instances").json())


def test_a_model_made_with_step_2_matches_the_full_one(orthanc, ball_series):
    full, full_item = stored_model(orthanc, ball_series, {"Smoothing": "none"})
    coarse, coarse_item = stored_model(orthanc, ball_series, {"Smoothing": "none", "Step": 2})
    assert coarse_item["ID"] != full_item["ID"]
    assert full.is_watertight
    assert coarse.is_watertight
    # In LPS mm, within one coarse voxel of the full model, both around the ball.
    coarse_voxel = 2 * np.array([SPACING[1], SPACING[0], SPACING[2]])
    assert np.all(np.abs(coarse.bounds - full.bounds) < coarse_voxel)
    np.testing.assert_allclose(
        full.bounds, [np.subtract(CENTRE, RADIUS), np.add(CENTRE, RADIUS)], atol=1.3
    )
    assert full_item["VolumeMl"] == pytest.approx(BALL_ML, rel=0.03)
    assert coarse_item["VolumeMl"] == pytest.approx(full_item["VolumeMl"], rel=0.1)
    assert coarse_item["Triangles"] < full_item["Triangles"] / 2
    data = orthanc.get(f"/instances/{coarse_item['ID']}/file").content
    dataset = dcmread(io.BytesIO(data), stop_before_pixels=True)
    parameters = json.loads(dataset.DerivationAlgorithmSequence[0].AlgorithmParameters)
    assert parameters["Step"] == 2
    assert parameters["Threshold"] == -500


def test_a_model_made_with_a_voxel_size(orthanc, ball_series):
    full, _ = stored_model(orthanc, ball_series, {"Smoothing": "none"})
    coarse, item = stored_model(orthanc, ball_series, {"Smoothing": "none", "VoxelSize": 2.5})
    assert coarse.is_watertight
    # 2.5 mm: blocks of 3 columns, 4 rows, 2 slices.
    assert np.all(np.abs(coarse.bounds - full.bounds) < [2.4, 2.8, 2.5])
    assert item["VolumeMl"] == pytest.approx(BALL_ML, rel=0.1)


@pytest.mark.parametrize(
    "body",
    [{"Step": 0}, {"Step": 2.5}, {"Step": "two"}, {"VoxelSize": -1}, {"Step": 2, "VoxelSize": 1}],
)
def test_bad_sampling_is_400_and_stores_nothing(orthanc, ball_series, body):
    before = instance_count(orthanc)
    response = orthanc.post(f"/series/{ball_series}/segmesh/stl", json={"Threshold": 0, **body})
    assert response.status_code == 400, response.text
    assert set(response.json()) == {"Error", "Details"}
    assert instance_count(orthanc) == before


def test_the_preview_is_the_mesh_in_lps_and_stores_nothing(orthanc, ball_series):
    before = instance_count(orthanc)
    response = orthanc.get(
        f"/series/{ball_series}/segmesh/stl",
        params={"threshold": "-500", "keep-largest": "1", "step": "2", "smoothing": "none"},
    )
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("model/stl")
    mesh = read_binary_stl(response.content)
    assert int(response.headers["X-Segmesh-Triangles"]) == mesh.triangle_count
    assert len(response.content) == 84 + 50 * mesh.triangle_count
    lower, upper = np.subtract(CENTRE, RADIUS), np.add(CENTRE, RADIUS)
    np.testing.assert_allclose(mesh.bounds, [lower, upper], atol=2 * max(SPACING))
    assert mesh.volume / 1000 == pytest.approx(BALL_ML, rel=0.1)
    glb = orthanc.get(
        f"/series/{ball_series}/segmesh/stl",
        params={"threshold": "-500", "step": "2", "smoothing": "none", "format": "glb"},
    )
    assert glb.status_code == 200, glb.text
    assert glb.content[:4] == b"glTF"
    assert instance_count(orthanc) == before


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ({}, 400),
        ({"threshold": "x"}, 400),
        ({"threshold": "0", "upper": "-10"}, 400),
        ({"threshold": "0", "keep-largest": "0"}, 400),
        ({"threshold": "0", "step": "0"}, 400),
        ({"threshold": "0", "format": "dwg"}, 400),
        ({"threshold": "5000"}, 422),
    ],
)
def test_bad_previews(orthanc, ball_series, query, status):
    response = orthanc.get(f"/series/{ball_series}/segmesh/stl", params=query)
    assert response.status_code == status, response.text
    assert set(response.json()) == {"Error", "Details"}


def test_the_histogram_counts_every_voxel_after_the_rescale(orthanc, ball_series):
    response = orthanc.get(f"/series/{ball_series}/segmesh/histogram", params={"bins": "100"})
    assert response.status_code == 200, response.text
    histogram = response.json()
    assert histogram["Unit"] == "HU"
    assert histogram["Min"] == -1000
    assert histogram["Max"] == 0
    assert len(histogram["Edges"]) == 101
    assert histogram["Edges"][0] == -1000
    assert histogram["Edges"][-1] == 0
    counts = histogram["Counts"]
    assert sum(counts) == histogram["Voxels"] == math.prod(SHAPE)
    # Two values: air in the first bin, water in the last (closed) one.
    ball_voxels = sum(orthanc_mask_sizes(ball_series, orthanc))
    assert counts[-1] == ball_voxels
    assert counts[0] == math.prod(SHAPE) - ball_voxels
    assert sum(counts[1:-1]) == 0


def orthanc_mask_sizes(series: str, orthanc: OrthancServer) -> list[int]:
    """Voxels at 0 HU in each slice, read back from the stored images."""
    sizes = []
    for instance in orthanc.get(f"/series/{series}/instances").json():
        data = orthanc.get(f"/instances/{instance['ID']}/file").content
        sizes.append(int((dcmread(io.BytesIO(data)).pixel_array == 1000).sum()))
    return sizes


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/series/{series}/segmesh/histogram?bins=0", 400),
        ("/series/{series}/segmesh/histogram?bins=x", 400),
        ("/series/{series}/segmesh/histogram?bins=5000", 400),
        ("/series/unknown/segmesh/histogram", 404),
        ("/series/unknown/segmesh/stl?threshold=0", 404),
    ],
)
def test_bad_histograms(orthanc, ball_series, path, status):
    response = orthanc.get(path.format(series=ball_series))
    assert response.status_code == status, response.text
    assert set(response.json()) == {"Error", "Details"}


def test_a_step_coarser_than_the_object_is_422_and_stores_nothing(orthanc, ball_series):
    before = instance_count(orthanc)
    # Every 64th voxel of a 60-column grid: only voxel (0, 0, 0), in the air.
    response = orthanc.post(
        f"/series/{ball_series}/segmesh/stl", json={"Threshold": -500, "Step": 64}
    )
    assert response.status_code == 422, response.text
    assert response.json()["Error"] == "Nothing to mesh"
    assert "Step 64" in response.json()["Details"]
    assert instance_count(orthanc) == before
