"""The threshold routes meshing in slabs, on a real Orthanc and the demo CT: the stored model and
the preview are the ones the whole-mask path makes (triangles, vertices, volume), KeepLargest
too (found in two passes over the series), and a Step still takes the whole-mask path."""

from __future__ import annotations

import io

import numpy as np
import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset

from segmesh.demo import DemoStudy
from segmesh.formats import read_binary_stl
from segmesh.mesh import (
    Mesh,
    MeshOptions,
    Sampling,
    Smoothing,
    ThresholdOptions,
    segment_crops,
    threshold_labelmap,
)
from segmesh.mesh.slabs import slab_layers
from segmesh.models import stl_document
from segmesh.settings import Settings
from tests.builders import ct_series
from tests.conftest import encode
from tests.orthanc_server import OrthancServer

#: Soft tissue and bone of the demo phantom (air -1000, water 0, organs 100, bone 700 HU).
THRESHOLD = 50


def whole_mask_mesh(study: DemoStudy, threshold: ThresholdOptions, options: MeshOptions) -> Mesh:
    """The mesh of the whole-mask path, made here from the same images."""
    return whole_mask_mesh_of(study.images, threshold, options)


def whole_mask_mesh_of(
    images: list[Dataset], threshold: ThresholdOptions, options: MeshOptions
) -> Mesh:
    """The mesh of the whole-mask path of ``images``."""
    labelmap = threshold_labelmap(images, threshold, Settings())
    ((_, crop),) = segment_crops(labelmap, None)
    assert crop is not None
    mesh = crop.mesh(labelmap.geometry, options)
    assert mesh is not None
    return mesh


def corners(mesh: Mesh) -> list[tuple[float, ...]]:
    """Each triangle's corners in float32 (as STL holds them), from its least corner on (the
    winding kept), sorted."""
    points = np.round(mesh.vertices.astype(np.float32).astype(np.float64), 3)
    found = []
    for face in mesh.faces.tolist():
        triangle = [tuple(points[n]) for n in face]
        first = triangle.index(min(triangle))
        found.append(tuple(np.concatenate(triangle[first:] + triangle[:first]).tolist()))
    return sorted(found)


def stored(orthanc: OrthancServer, series: str, body: dict) -> tuple[Mesh, dict, dict]:
    response = orthanc.post(f"/series/{series}/segmesh/stl", json=body)
    assert response.status_code == 200, response.text
    (item,) = response.json()["Instances"]
    data = orthanc.get(f"/instances/{item['ID']}/file").content
    dataset = dcmread(io.BytesIO(data))
    return read_binary_stl(stl_document(dataset)), item, response.json()


def test_the_stored_model_is_the_one_of_the_whole_mask(orthanc, demo_ids, demo_study):
    threshold = ThresholdOptions(THRESHOLD)
    expected = whole_mask_mesh(demo_study, threshold, MeshOptions(smoothing=Smoothing.NONE))
    mesh, item, answer = stored(
        orthanc, demo_ids["CTSeries"], {"Threshold": THRESHOLD, "Smoothing": "none"}
    )
    assert answer["Skipped"] == []
    assert item["Segment"] == 1
    assert item["Label"] == threshold.label
    assert item["Triangles"] == expected.triangle_count == mesh.triangle_count
    assert item["VolumeMl"] == pytest.approx(expected.volume / 1000, abs=1e-3)
    assert corners(mesh) == corners(expected)


def test_smoothing_runs_on_the_stitched_mesh(orthanc, demo_ids, demo_study):
    expected = whole_mask_mesh(demo_study, ThresholdOptions(THRESHOLD), MeshOptions())
    mesh, item, _ = stored(orthanc, demo_ids["CTSeries"], {"Threshold": THRESHOLD})
    assert item["Triangles"] == expected.triangle_count
    assert mesh.volume == pytest.approx(expected.volume, rel=1e-5)
    np.testing.assert_allclose(mesh.bounds, expected.bounds, atol=1e-3)


@pytest.mark.parametrize("body", [{"KeepLargest": 1}, {"Step": 2}])
def test_keep_largest_and_a_step_give_the_models_of_the_whole_mask(
    orthanc, demo_ids, demo_study, body
):
    threshold = ThresholdOptions(THRESHOLD, keep_largest=body.get("KeepLargest"))
    options = MeshOptions(smoothing=Smoothing.NONE, sampling=Sampling(step=body.get("Step", 1)))
    expected = whole_mask_mesh(demo_study, threshold, options)
    mesh, item, _ = stored(
        orthanc,
        demo_ids["CTSeries"],
        {"Threshold": THRESHOLD, "Smoothing": "none", **body},
    )
    assert item["Triangles"] == expected.triangle_count
    assert corners(mesh) == corners(expected)


def test_the_preview_is_the_mesh_of_the_whole_mask(orthanc, demo_ids, demo_study):
    threshold = ThresholdOptions(600)
    expected = whole_mask_mesh(demo_study, threshold, MeshOptions(smoothing=Smoothing.NONE))
    response = orthanc.get(
        f"/series/{demo_ids['CTSeries']}/segmesh/stl",
        params={"threshold": "600", "smoothing": "none"},
    )
    assert response.status_code == 200, response.text
    mesh = read_binary_stl(response.content)
    assert int(response.headers["X-Segmesh-Triangles"]) == expected.triangle_count
    assert corners(mesh) == corners(expected)
    options = MeshOptions(smoothing=Smoothing.NONE)
    largest = whole_mask_mesh(demo_study, ThresholdOptions(THRESHOLD, keep_largest=1), options)
    response = orthanc.get(
        f"/series/{demo_ids['CTSeries']}/segmesh/stl",
        params={"threshold": str(THRESHOLD), "smoothing": "none", "keep-largest": "1"},
    )
    assert response.status_code == 200, response.text
    assert corners(read_binary_stl(response.content)) == corners(largest)
    every = whole_mask_mesh(demo_study, ThresholdOptions(THRESHOLD), options)
    assert largest.triangle_count < every.triangle_count


def test_a_series_of_several_slabs_is_stitched_as_one_pass(orthanc):
    """600 x 600 slices are meshed 45 layers at a time: a tilted cylinder with a hole through
    it, a ball and a lone voxel cross the planes shared by the slabs (mask slices 44 and 89)."""
    shape = (100, 600, 600)
    assert slab_layers(*shape[1:]) == 45
    k, j, i = np.ogrid[: shape[0], : shape[1], : shape[2]]
    mask = ((j - 200 - k) ** 2 + (i - 300) ** 2 <= 60**2) & (
        (j - 200 - k) ** 2 + (i - 300) ** 2 > 9
    )
    mask |= (k - 44) ** 2 / 4 + (j - 450) ** 2 / 9 + (i - 120) ** 2 / 16 <= 100
    mask[89, 5, 7] = True
    images = ct_series(shape, (0.3, 0.4, 0.9), pixels=mask.astype(np.int16) * 1000)
    series = ""
    for image in images:
        instance = orthanc.upload(encode(image))
        series = orthanc.get(f"/instances/{instance}").json()["ParentSeries"]
    threshold, options = ThresholdOptions(500), MeshOptions(smoothing=Smoothing.NONE)
    labelmap = threshold_labelmap(images, threshold, Settings())
    ((_, crop),) = segment_crops(labelmap, None)
    assert crop is not None
    expected = crop.mesh(labelmap.geometry, options)
    assert expected is not None
    mesh, item, _ = stored(orthanc, series, {"Threshold": 500, "Smoothing": "none"})
    assert item["Triangles"] == expected.triangle_count
    assert corners(mesh) == corners(expected)
    largest = orthanc.get(
        f"/series/{series}/segmesh/stl",
        params={"threshold": "500", "smoothing": "none", "keep-largest": "2"},
    )
    assert largest.status_code == 200, largest.text
    kept = whole_mask_mesh_of(images, ThresholdOptions(500, keep_largest=2), options)
    assert corners(read_binary_stl(largest.content)) == corners(kept)
    assert kept.triangle_count < expected.triangle_count  # the lone voxel left out


def test_an_empty_threshold_stores_nothing(orthanc, demo_ids):
    before = len(orthanc.get("/instances").json())
    response = orthanc.post(f"/series/{demo_ids['CTSeries']}/segmesh/stl", json={"Threshold": 5000})
    assert response.status_code == 422, response.text
    assert response.json()["Error"] == "Nothing to mesh"
    assert len(orthanc.get("/instances").json()) == before
