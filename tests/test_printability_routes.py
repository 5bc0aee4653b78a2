"""Printability reports on a real Orthanc: in the storing answers of SEG, RT-STRUCT and
threshold models, kept with the stored model and answered by
``GET /instances/{id}/segmesh/printability`` (or computed from its STL where none is kept), in
the downloads' ``X-Segmesh-Printability`` header, and speckles sampled coarsely stored printable."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from segmesh.formats import read_binary_stl
from segmesh.mesh.printability import welded
from segmesh.service.tasks.printability import PRINTABILITY_METADATA
from tests import builders
from tests.conftest import encode
from tests.dciodvfy import dciodvfy_errors
from tests.orthanc_server import OrthancServer

KEYS = {
    "Closed",
    "Manifold",
    "OutwardNormals",
    "Bodies",
    "VolumeMl",
    "AreaCm2",
    "BoundsMm",
    "ThinnestWallMm",
}


@pytest.fixture(scope="module")
def seg_models(orthanc_server: OrthancServer, demo_ids: dict[str, str]) -> dict[str, Any]:
    response = orthanc_server.post(
        f"/instances/{demo_ids['SEG']}/segmesh/stl", json={"Segments": [1, 2, 3]}
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def stored_stl(orthanc: OrthancServer, instance_id: str):
    response = orthanc.get(f"/instances/{instance_id}/segmesh/model")
    assert response.status_code == 200
    return welded(read_binary_stl(response.content))


def check_report(orthanc: OrthancServer, item: dict[str, Any]) -> dict[str, Any]:
    """The item's report is the stored STL's: printable, its volume, area and box; the same
    object kept with the instance; the instance still valid DICOM."""
    report = item["Printability"]
    assert set(report) == KEYS
    assert report["Closed"] is True
    assert report["Manifold"] is True
    assert report["OutwardNormals"] is True
    mesh = stored_stl(orthanc, item["ID"])
    assert report["VolumeMl"] == item["VolumeMl"]
    assert report["VolumeMl"] == pytest.approx(mesh.volume / 1000, abs=2e-3)
    assert report["AreaCm2"] == pytest.approx(mesh.area / 100, rel=1e-4)
    # The STL holds float32 corners: its box within their rounding of the report's.
    np.testing.assert_allclose(report["BoundsMm"]["Min"], mesh.bounds[0], atol=1e-3)
    np.testing.assert_allclose(report["BoundsMm"]["Max"], mesh.bounds[1], atol=1e-3)
    np.testing.assert_allclose(
        report["BoundsMm"]["Size"], mesh.bounds[1] - mesh.bounds[0], atol=2e-3
    )
    kept = orthanc.get(f"/instances/{item['ID']}/segmesh/printability")
    assert kept.status_code == 200, kept.text
    assert kept.json() == {**report, "Source": "model"}
    assert dciodvfy_errors(orthanc.get(f"/instances/{item['ID']}/file").content) == []
    return dict(report)


def test_seg_models_carry_their_reports(orthanc, demo_study, seg_models):
    for item in seg_models["Instances"]:
        report = check_report(orthanc, item)
        assert report["Bodies"] == 1
        # Each organ's wall: positive and within its box's largest side, of organ size
        # (the demo's organs are ellipsoids of centimetres, on voxels of a few mm).
        wall = report["ThinnestWallMm"]
        assert 10.0 < wall <= max(report["BoundsMm"]["Size"]) + 2 * max(demo_study.geometry.spacing)


def test_rtstruct_models_carry_their_reports(orthanc, demo_ids):
    response = orthanc.post(
        f"/instances/{demo_ids['RTSTRUCT']}/segmesh/stl", json={"Segments": [1, 2]}
    )
    assert response.status_code == 200, response.text
    for item in response.json()["Instances"]:
        assert check_report(orthanc, item)["Bodies"] == 1


def test_a_merged_model_reports_the_merged_mesh(orthanc, demo_ids, seg_models):
    response = orthanc.post(
        f"/instances/{demo_ids['SEG']}/segmesh/stl", json={"Segments": [1, 2, 3], "Merge": True}
    )
    assert response.status_code == 200, response.text
    (item,) = response.json()["Instances"]
    report = check_report(orthanc, item)
    singles = seg_models["Instances"]
    assert report["VolumeMl"] == pytest.approx(sum(i["VolumeMl"] for i in singles), abs=0.01)
    lowest = np.min([i["Printability"]["BoundsMm"]["Min"] for i in singles], axis=0)
    np.testing.assert_allclose(report["BoundsMm"]["Min"], lowest, atol=1e-3)
    # The union of separate organs: its thinnest wall is the thinnest organ's.
    assert report["Bodies"] == 3
    assert report["ThinnestWallMm"] == min(i["Printability"]["ThinnestWallMm"] for i in singles)


def test_a_threshold_model_carries_its_report(orthanc, demo_ids):
    response = orthanc.post(
        f"/series/{demo_ids['CTSeries']}/segmesh/stl",
        json={"Threshold": 100, "KeepLargest": 1, "Step": 2},
    )
    assert response.status_code == 200, response.text
    (item,) = response.json()["Instances"]
    report = check_report(orthanc, item)
    assert report["Bodies"] == 1
    assert report["ThinnestWallMm"] > 0


def test_without_the_kept_report_it_is_computed_from_the_stl(orthanc, seg_models):
    item = seg_models["Instances"][1]
    path = f"{orthanc.url}/instances/{item['ID']}/metadata/{PRINTABILITY_METADATA}"
    etag = orthanc.session.get(path, timeout=60).headers["ETag"]
    deleted = orthanc.session.delete(path, headers={"If-Match": etag}, timeout=60)
    assert deleted.status_code == 200, deleted.text
    response = orthanc.get(f"/instances/{item['ID']}/segmesh/printability")
    assert response.status_code == 200, response.text
    computed = response.json()
    assert computed["Source"] == "stl"
    assert computed["ThinnestWallMm"] is None
    kept = item["Printability"]
    for key in ("Closed", "Manifold", "OutwardNormals", "Bodies"):
        assert computed[key] == kept[key]
    assert computed["VolumeMl"] == pytest.approx(kept["VolumeMl"], abs=2e-3)
    assert computed["AreaCm2"] == pytest.approx(kept["AreaCm2"], rel=1e-4)
    np.testing.assert_allclose(computed["BoundsMm"]["Min"], kept["BoundsMm"]["Min"], atol=1e-3)


def test_printability_of_a_non_model_is_415_and_of_nothing_404(orthanc, demo_ids):
    response = orthanc.get(f"/instances/{demo_ids['SEG']}/segmesh/printability")
    assert response.status_code == 415
    assert response.json()["Error"] == "Not an Encapsulated STL instance"
    response = orthanc.get(
        "/instances/00000000-00000000-00000000-00000000-00000000/segmesh/printability"
    )
    assert response.status_code == 404
    assert set(response.json()) == {"Error", "Details"}


def header_report(response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    value = response.headers["X-Segmesh-Printability"]
    assert "\n" not in value
    report = dict(json.loads(value))
    assert set(report) == KEYS
    return report


def test_a_segment_download_carries_its_report(orthanc, demo_ids):
    response = orthanc.get(f"/instances/{demo_ids['SEG']}/segmesh/stl", params={"segment": "2"})
    report = header_report(response)
    mesh = welded(read_binary_stl(response.content))
    assert report["Closed"]
    assert report["Manifold"]
    assert report["OutwardNormals"]
    assert report["VolumeMl"] == pytest.approx(mesh.volume / 1000, abs=2e-3)
    np.testing.assert_allclose(report["BoundsMm"]["Max"], mesh.bounds[1], atol=1e-3)
    assert report["ThinnestWallMm"] > 0


def test_the_threshold_preview_carries_its_report(orthanc, demo_ids):
    response = orthanc.get(
        f"/series/{demo_ids['CTSeries']}/segmesh/stl",
        params={"threshold": "100", "keep-largest": "1", "step": "2"},
    )
    report = header_report(response)
    mesh = welded(read_binary_stl(response.content))
    assert report["Bodies"] == 1
    assert report["VolumeMl"] == pytest.approx(mesh.volume / 1000, abs=2e-3)
    np.testing.assert_allclose(report["BoundsMm"]["Min"], mesh.bounds[0], atol=1e-3)


@pytest.fixture(scope="module")
def speckles_seg(orthanc_server: OrthancServer) -> str:
    """A SEG of speckles (half the voxels of a 10 mm cube, at random) beside a 6 mm cube."""
    images = builders.ct_series((14, 14, 28), (1.0, 1.0, 1.0))
    labels = np.zeros((14, 14, 28), dtype=np.uint8)
    labels[2:12, 2:12, 2:12] = np.where(np.random.default_rng(0).random((10, 10, 10)) > 0.5, 1, 0)
    labels[4:10, 4:10, 18:24] = 2
    for image in images:
        orthanc_server.upload(encode(image))
    return orthanc_server.upload(encode(builders.seg(images, labels, ["Speckles", "Cube"])))


def test_speckles_sampled_coarsely_are_stored_printable(orthanc, speckles_seg):
    """Blocks exactly half inside at VoxelSize 2 pinched the surface of touching speckles:
    they count as inside now, and the model is closed and manifold (stored, not refused)."""
    response = orthanc.post(
        f"/instances/{speckles_seg}/segmesh/stl",
        json={"Segments": [1], "VoxelSize": 2, "Smoothing": "none"},
    )
    assert response.status_code == 200, response.text
    (coarse,) = response.json()["Instances"]
    assert coarse["Printability"]["Closed"] is True
    assert coarse["Printability"]["Manifold"] is True
    assert coarse["Printability"]["OutwardNormals"] is True
    kept = orthanc.get(f"/instances/{coarse['ID']}/segmesh/printability").json()
    assert kept["Manifold"] is True
    # The same structure at full resolution is printable and stored.
    response = orthanc.post(
        f"/instances/{speckles_seg}/segmesh/stl", json={"Segments": [1, 2], "Smoothing": "none"}
    )
    assert response.status_code == 200, response.text
    speckles, cube = response.json()["Instances"]
    assert speckles["Printability"]["Manifold"] is True
    assert speckles["Printability"]["Bodies"] >= 1
    assert cube["Printability"]["Bodies"] == 1
    # The 6 mm cube: its wall 6 mm within half a voxel.
    assert cube["Printability"]["ThinnestWallMm"] == pytest.approx(6.0, abs=0.5)
    np.testing.assert_allclose(cube["Printability"]["BoundsMm"]["Size"], [6.0, 6.0, 6.0])
