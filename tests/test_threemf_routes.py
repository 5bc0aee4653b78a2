"""3MF, OBJ (with its MTL) and PLY downloads on a real Orthanc: the demo SEG's segments as one
3MF read back by lib3mf (names, colours, volumes), a chosen subset, the threshold preview as
3MF, and the segment's colour in OBJ, MTL and PLY read back by trimesh."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import trimesh

from segmesh.demo import DemoStudy
from segmesh.mesh.threshold import THRESHOLD_COLOR
from tests.orthanc_server import OrthancServer
from tests.test_stl_routes import organ_volume_and_centroid
from tests.test_threemf import lib3mf_objects, material_color, vertex_colors


def segments_of(orthanc: OrthancServer, seg_id: str) -> dict[int, dict]:
    answer = orthanc.get(f"/instances/{seg_id}/segmesh/segments").json()
    return {item["Number"]: item for item in answer["Segments"]}


def read_3mf(response, tmp_path: Path) -> list[dict]:
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("model/3mf")
    path = tmp_path / "answer.3mf"
    path.write_bytes(response.content)
    model, objects = lib3mf_objects(path)
    assert model.GetBuildItems().Count() == len(objects)
    return objects


def test_every_segment_as_one_3mf(orthanc, demo_ids, tmp_path):
    seg_id = demo_ids["SEG"]
    response = orthanc.get(f"/instances/{seg_id}/segmesh/stl", params={"format": "3mf"})
    objects = read_3mf(response, tmp_path)
    assert 'filename="segments.3mf"' in response.headers["Content-Disposition"]
    segments = segments_of(orthanc, seg_id)
    statistics = orthanc.get(f"/instances/{seg_id}/segmesh/statistics").json()
    voxel_ml = {item["Number"]: item["VolumeMl"] for item in statistics["Segments"]}
    assert [o["name"] for o in objects] == [s["Label"] for s in segments.values()]
    assert [list(o["color"]) for o in objects] == [s["Color"] for s in segments.values()]
    for read, number in zip(objects, segments, strict=True):
        assert read["closed"]
        assert read["mesh"].volume / 1000 == pytest.approx(voxel_ml[number], rel=0.03)


def test_chosen_segments_as_3mf(orthanc, demo_ids, demo_study: DemoStudy, tmp_path):
    seg_id = demo_ids["SEG"]
    segments = segments_of(orthanc, seg_id)
    response = orthanc.get(
        f"/instances/{seg_id}/segmesh/stl",
        params={"format": "3mf", "segments": "4,1", "smoothing": "none"},
    )
    objects = read_3mf(response, tmp_path)
    # In the source's order, whatever the query's.
    assert [o["name"] for o in objects] == [segments[1]["Label"], segments[4]["Label"]]
    for read, number in zip(objects, (1, 4), strict=True):
        volume, centroid = organ_volume_and_centroid(demo_study, number)
        assert read["mesh"].volume == pytest.approx(volume, rel=0.03)
        np.testing.assert_allclose(read["mesh"].centroid, centroid, atol=0.5)
    one = orthanc.get(f"/instances/{seg_id}/segmesh/stl", params={"format": "3mf", "segment": "2"})
    (only,) = read_3mf(one, tmp_path)
    assert only["name"] == segments[2]["Label"]
    assert 'filename="segment-2.3mf"' in one.headers["Content-Disposition"]


def test_threshold_preview_as_3mf(orthanc, demo_ids, demo_study: DemoStudy, tmp_path):
    response = orthanc.get(
        f"/series/{demo_ids['CTSeries']}/segmesh/stl",
        params={"threshold": "400", "keep-largest": "1", "format": "3mf"},
    )
    (read,) = read_3mf(response, tmp_path)
    assert read["name"] == "Threshold >= 400, 1 largest"
    assert read["color"] == THRESHOLD_COLOR
    assert read["mesh"].triangle_count == int(response.headers["X-Segmesh-Triangles"])
    volume, centroid = organ_volume_and_centroid(demo_study, 5)  # the vertebra: the only bone
    assert read["mesh"].volume == pytest.approx(volume, rel=0.03)
    np.testing.assert_allclose(read["mesh"].centroid, centroid, atol=0.5)
    material = orthanc.get(
        f"/series/{demo_ids['CTSeries']}/segmesh/stl", params={"threshold": "400", "format": "mtl"}
    )
    assert material.status_code == 200, material.text
    assert b"Kd 0.9451 0.8392 0.5686\n" in material.content


def test_obj_with_its_mtl_and_ply_carry_the_colour(orthanc, demo_ids, demo_study, tmp_path):
    seg_id = demo_ids["SEG"]
    color = tuple(segments_of(orthanc, seg_id)[3]["Color"])
    files = {}
    for mesh_format in ("obj", "mtl", "ply"):
        response = orthanc.get(
            f"/instances/{seg_id}/segmesh/stl", params={"segment": "3", "format": mesh_format}
        )
        assert response.status_code == 200, response.text
        disposition = response.headers["Content-Disposition"]
        assert f'filename="segment-3.{mesh_format}"' in disposition
        files[mesh_format] = response.content
    assert b"mtllib segment-3.mtl\n" in files["obj"]
    # Saved as a browser names them, the OBJ finds its MTL: the material's colour.
    for name in ("obj", "mtl"):
        (tmp_path / f"segment-3.{name}").write_bytes(files[name])
    obj = trimesh.load_mesh(tmp_path / "segment-3.obj", process=False)
    assert material_color(obj) == color
    alone = trimesh.load_mesh(io.BytesIO(files["obj"]), file_type="obj", process=False)
    assert np.all(vertex_colors(alone) == color)
    ply = trimesh.load_mesh(io.BytesIO(files["ply"]), file_type="ply", process=False)
    assert np.all(vertex_colors(ply) == color)
    volume, _ = organ_volume_and_centroid(demo_study, 3)
    assert ply.volume == pytest.approx(volume, rel=0.03)
    assert alone.volume == pytest.approx(ply.volume, rel=1e-4)


@pytest.mark.parametrize(
    ("query", "detail"),
    [
        ({"format": "dwg"}, "format"),
        ({"format": "3mf", "segments": "1,99"}, "segment"),
        ({"format": "3mf", "segments": "1,x"}, "segments"),
        ({"format": "3mf", "segments": ","}, "segments"),
        ({"format": "3mf", "segment": "99"}, "segment"),
        ({"format": "stl", "segments": "1,2"}, "segments"),
        ({"format": "obj"}, "segment"),
    ],
)
def test_bad_3mf_requests_are_400(orthanc, demo_ids, query, detail):
    response = orthanc.get(f"/instances/{demo_ids['SEG']}/segmesh/stl", params=query)
    assert response.status_code == 400, response.text
    answer = response.json()
    assert set(answer) == {"Error", "Details"}
    assert detail in answer["Error"].lower()
