"""Preparation for printing through the model routes on a real Orthanc: a SEG of known shapes
(a ball, a cube with a sealed cavity, cubes of four sizes) on a CT of the same ball, stored
models, downloads and the threshold preview, with the options recorded in each stored
instance and every stored object valid for dciodvfy."""

from __future__ import annotations

import io
import json
import math
from typing import Any

import numpy as np
import pytest
import trimesh
from pydicom import dcmread

from segmesh.formats import read_binary_stl
from segmesh.mesh import Mesh
from tests.builders import ct_series, seg
from tests.conftest import encode
from tests.dciodvfy import dciodvfy_errors
from tests.orthanc_server import OrthancServer

SHAPE = (48, 48, 48)
ORIGIN = (-24.0, -24.0, -24.0)
CENTRE = (-0.5, -0.5, -0.5)  # the ball's, LPS mm (voxel 23.5 of each axis)
SHELL_ML = 4.0 / 3.0 * math.pi * (20.0**3 - 17.0**3) / 1000.0
CUBES = ((2, 8), (12, 16), (20, 28), (32, 34))  # along i, from 1 mm to 1 mm: 6, 4, 8, 2 wide


def shapes() -> np.ndarray:
    """(slices, rows, columns, 3) bool: the ball, the cube with a cavity, the four cubes."""
    k, j, i = np.indices(SHAPE)
    lps = np.stack([i, j, k], axis=-1) + np.asarray(ORIGIN)
    ball = np.linalg.norm(lps - np.asarray(CENTRE), axis=-1) <= 20.0
    cavity = np.zeros(SHAPE, dtype=bool)
    cavity[2:18, 2:18, 2:18] = True
    cavity[6:14, 6:14, 6:14] = False
    cubes = np.zeros(SHAPE, dtype=bool)
    for low, high in CUBES:
        size = high - low
        cubes[30 : 30 + size, 30 : 30 + size, 4 + low : 4 + high] = True
    return np.stack([ball, cavity, cubes], axis=-1)


@pytest.fixture(scope="module")
def source(orthanc_server: OrthancServer) -> dict[str, Any]:
    masks = shapes()
    pixels = np.where(masks[..., 0], 1000, 0).astype(np.int16)  # water ball in air
    images = ct_series(SHAPE, (1.0, 1.0, 1.0), ORIGIN, pixels=pixels, rescale_intercept=-1000)
    ids = [orthanc_server.upload(encode(image)) for image in images]
    series = orthanc_server.get(f"/instances/{ids[0]}").json()["ParentSeries"]
    seg_id = orthanc_server.upload(encode(seg(images, masks, ["Ball", "Cavity", "Cubes"])))
    return {
        "Series": series,
        "SEG": seg_id,
        "FrameOfReferenceUID": str(images[0].FrameOfReferenceUID),
    }


def store(orthanc: OrthancServer, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = orthanc.post(path, json=body)
    assert response.status_code == 200, response.text
    (item,) = response.json()["Instances"]
    data = orthanc.get(f"/instances/{item['ID']}/file").content
    assert dciodvfy_errors(data) == []
    dataset = dcmread(io.BytesIO(data))
    mesh = read_binary_stl(orthanc.get(f"/instances/{item['ID']}/segmesh/model").content)
    parameters = json.loads(dataset.DerivationAlgorithmSequence[0].AlgorithmParameters)
    return {"Item": item, "Dataset": dataset, "Mesh": mesh, "Parameters": parameters}


def segment_model(orthanc, source, segment: int, **body: Any) -> dict[str, Any]:
    return store(
        orthanc, f"/instances/{source['SEG']}/segmesh/stl", {"Segments": [segment], **body}
    )


def download(orthanc: OrthancServer, path: str) -> Mesh:
    response = orthanc.get(path)
    assert response.status_code == 200, response.text
    return read_binary_stl(response.content)


def background_bodies(mesh: Mesh) -> int:
    """Watertight bodies of the mesh (the outer surface and each cavity's, unless joined)."""
    return len(trimesh.Trimesh(mesh.vertices, mesh.faces).split(only_watertight=False))


def test_hollow_ball_with_a_drain(orthanc, source):
    closed = segment_model(orthanc, source, 1, Hollow={"WallMm": 3})
    drained = segment_model(orthanc, source, 1, Hollow={"WallMm": 3, "DrainMm": 5})
    assert closed["Item"]["VolumeMl"] == pytest.approx(SHELL_ML, rel=0.04)
    assert drained["Item"]["VolumeMl"] < closed["Item"]["VolumeMl"]
    assert drained["Item"]["VolumeMl"] == pytest.approx(SHELL_ML, rel=0.04)
    # Closed: an outer surface and the cavity's; drained: one surface through the hole.
    assert background_bodies(closed["Mesh"]) == 2
    surfaces = trimesh.Trimesh(closed["Mesh"].vertices, closed["Mesh"].faces).split(
        only_watertight=False
    )
    radii = sorted(np.linalg.norm(s.vertices - CENTRE, axis=1).mean() for s in surfaces)
    assert radii[1] - radii[0] == pytest.approx(3.0, abs=0.5)  # the wall
    assert background_bodies(drained["Mesh"]) == 1
    assert drained["Parameters"]["Hollow"] == {"WallMm": 3.0, "DrainMm": 5.0}
    assert closed["Parameters"]["Hollow"] == {"WallMm": 3.0, "DrainMm": None}
    # Unscaled: the model keeps the source's frame of reference and patient mm.
    assert closed["Dataset"].FrameOfReferenceUID == source["FrameOfReferenceUID"]


def test_sealed_cavity_filled(orthanc, source):
    plain = segment_model(orthanc, source, 2, Smoothing="none")
    full = segment_model(orthanc, source, 2, Smoothing="none", FillCavities=True)
    # The cavity's 8^3 voxels (less its chamfered edges) are solid again.
    assert full["Mesh"].volume - plain["Mesh"].volume == pytest.approx(512.0, rel=0.06)
    assert full["Mesh"].volume == pytest.approx(16.0**3, rel=0.03)
    assert full["Parameters"]["FillCavities"] is True
    assert "FillCavities" not in plain["Parameters"]


def test_keep_largest_bodies(orthanc, source):
    model = segment_model(orthanc, source, 3, Smoothing="none", KeepLargest=2)
    bodies = trimesh.Trimesh(model["Mesh"].vertices, model["Mesh"].faces).split(
        only_watertight=False
    )
    sizes = sorted(round(float(np.ptp(body.vertices[:, 0]))) for body in bodies)
    assert sizes == [6, 8]
    assert model["Parameters"]["KeepLargest"] == 2


def test_base_and_scale_stored_as_a_scaled_model(orthanc, source):
    base = {"Axis": "I", "OffsetMm": 2}
    cut = segment_model(orthanc, source, 2, Smoothing="none", Base=base)
    low = -24.0 + 2 - 0.5 + 2.0  # the cube's inferior face, 2 mm up
    z = cut["Mesh"].vertices[:, 2]
    assert z.min() == pytest.approx(low, abs=1e-4)  # STL stores float32
    assert np.abs(z[z < low + 1e-3] - low).max() < 1e-4
    assert cut["Parameters"]["Base"] == {"Axis": "I", "OffsetMm": 2.0}
    scaled = segment_model(orthanc, source, 2, Smoothing="none", Base=base, Scale={"Factor": 2})
    extent = np.ptp(cut["Mesh"].bounds, axis=0)
    assert np.ptp(scaled["Mesh"].bounds, axis=0) == pytest.approx(2 * extent, rel=1e-5)
    dataset = scaled["Dataset"]
    assert scaled["Parameters"]["Scale"] == {"Factor": 2.0}
    assert dataset.FrameOfReferenceUID != source["FrameOfReferenceUID"]
    assert dataset.ContentDescription == "Scaled x2: Cavity"
    assert dataset.SeriesDescription.startswith("Scaled x2: ")
    again = segment_model(orthanc, source, 2, Smoothing="none", Base=base, Scale={"Factor": 2})
    assert again["Dataset"].FrameOfReferenceUID == dataset.FrameOfReferenceUID  # derived


def test_a_plane_base_in_patient_coordinates(orthanc, source):
    normal = [1.0, 0.0, -1.0]
    base = {"Point": [4.5, -0.5, -5.5], "Normal": normal}
    model = segment_model(orthanc, source, 1, Base=base, TargetTriangles=4000)
    unit = np.asarray(normal) / math.sqrt(2.0)
    heights = model["Mesh"].vertices @ unit
    offset = float(np.dot([4.5, -0.5, -5.5], unit))  # 7.07 mm from the centre
    assert heights.max() == pytest.approx(offset, abs=1e-4)
    assert model["Parameters"]["Base"]["Normal"] == pytest.approx(list(unit))
    assert model["Parameters"]["TargetTriangles"] == 4000


def test_downloads_scaled_and_decimated(orthanc, source):
    path = f"/instances/{source['SEG']}/segmesh/stl?segment=1"
    plain = download(orthanc, path)
    doubled = download(orthanc, f"{path}&scale=2")
    sized = download(orthanc, f"{path}&size-mm=150")
    extent = np.ptp(plain.bounds, axis=0)
    assert np.ptp(doubled.bounds, axis=0) == pytest.approx(2 * extent, rel=1e-5)
    assert np.ptp(sized.bounds, axis=0).max() == pytest.approx(150.0, rel=1e-5)
    fewer = download(orthanc, f"{path}&target-triangles=2000")
    assert fewer.triangle_count == pytest.approx(2000, rel=0.05)


def test_threshold_preview_and_store_take_the_preparation(orthanc, source):
    series = source["Series"]
    query = "threshold=-500&keep-largest=1&hollow-wall-mm=3&drain-mm=5"
    drained = download(orthanc, f"/series/{series}/segmesh/stl?{query}")
    assert background_bodies(drained) == 1
    assert drained.volume / 1000.0 == pytest.approx(SHELL_ML, rel=0.04)
    based = download(orthanc, f"/series/{series}/segmesh/stl?{query}&base-axis=I&base-offset-mm=1")
    low = drained.vertices[:, 2].min() + 1.0
    assert based.vertices[:, 2].min() == pytest.approx(low, abs=1e-4)
    body = {"Threshold": -500, "KeepLargest": 1, "Hollow": {"WallMm": 3}, "FillCavities": True}
    stored = store(orthanc, f"/series/{series}/segmesh/stl", body)
    assert stored["Item"]["VolumeMl"] == pytest.approx(SHELL_ML, rel=0.04)
    assert stored["Parameters"]["KeepLargest"] == 1
    assert stored["Parameters"]["Hollow"] == {"WallMm": 3.0, "DrainMm": None}
    assert stored["Parameters"]["FillCavities"] is True


@pytest.mark.parametrize(
    "body",
    [
        {"Hollow": {"WallMm": -3}},
        {"Hollow": {"DrainMm": 5}},
        {"KeepLargest": 0},
        {"TargetTriangles": 1000, "Decimate": 0.5},
        {"Base": {"Axis": "X"}},
        {"Base": {"Point": [0, 0, 0], "Normal": [0, 0, 0]}},
        {"Scale": {"Factor": 2, "SizeMm": 100}},
        {"FillCavities": "yes"},
    ],
)
def test_bad_bodies_are_400_and_store_nothing(orthanc, source, body):
    before = len(orthanc.get("/instances").json())
    response = orthanc.post(f"/instances/{source['SEG']}/segmesh/stl", json=body)
    assert response.status_code == 400, response.text
    assert response.json()["Error"].startswith("Bad parameter") or "Missing" in response.text
    assert len(orthanc.get("/instances").json()) == before


@pytest.mark.parametrize(
    "query",
    [
        "hollow-wall-mm=x",
        "drain-mm=5",
        "keep-largest=0",
        "base-axis=Q",
        "scale=-1",
        "scale=2&size-mm=9",
        "target-triangles=9&decimate=0.5",
        "fill-cavities=maybe",
    ],
)
def test_bad_queries_are_400(orthanc, source, query):
    instance = orthanc.get(f"/instances/{source['SEG']}/segmesh/stl?segment=1&{query}")
    assert instance.status_code == 400, instance.text
    preview = orthanc.get(f"/series/{source['Series']}/segmesh/stl?threshold=0&{query}")
    assert preview.status_code == 400, preview.text


def test_a_base_removing_the_model_is_422(orthanc, source):
    body = {"Segments": [1], "Base": {"Point": [0, 0, 100], "Normal": [0, 0, -1]}}
    response = orthanc.post(f"/instances/{source['SEG']}/segmesh/stl", json=body)
    assert response.status_code == 422, response.text
    assert "removes the whole model" in response.json()["Details"]


def test_a_merged_model_is_cut_and_scaled_as_a_whole(orthanc, source):
    body = {"Segments": [2, 3], "Merge": True, "Smoothing": "none"}
    plain = store(orthanc, f"/instances/{source['SEG']}/segmesh/stl", body)
    base = {"Axis": "I", "OffsetMm": 1}
    prepared = store(
        orthanc,
        f"/instances/{source['SEG']}/segmesh/stl",
        {**body, "Base": base, "Scale": {"SizeMm": 100}},
    )
    low, high = plain["Mesh"].bounds
    # One plane 1 mm above the lowest of both parts (the cavity cube's), then one scale.
    expected = high - low - np.array([0.0, 0.0, 1.0])
    factor = 100.0 / expected.max()
    assert np.ptp(prepared["Mesh"].bounds, axis=0) == pytest.approx(expected * factor, rel=1e-5)
    assert background_bodies(prepared["Mesh"]) == 2 + len(CUBES)  # the cavity's too
