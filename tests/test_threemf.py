"""Unit tests of the 3MF writer and of the colours of OBJ, MTL and PLY files, read back with
lib3mf (3MF) and trimesh (OBJ, PLY)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from xml.etree import ElementTree

import lib3mf
import numpy as np
import pytest
import trimesh
from scipy import ndimage

from segmesh.demo import DemoStudy
from segmesh.formats import Appearance, MeshFormat, export_mesh, threemf_file
from segmesh.formats.threemf import MODEL_NAMESPACE, MODEL_PATH
from segmesh.labelmap import Segment
from segmesh.mesh import Mesh, MeshOptions, SegmentCrop, build
from segmesh.work import MeshPart, PackThreeMF

NAMES = {1: "Liver & <bile>", 2: "Spleen"}
COLORS = {1: (221, 130, 101), 2: (157, 108, 162)}


def vertex_colors(mesh: trimesh.Trimesh) -> np.ndarray:
    """(N, 3) RGB 0-255 of each vertex of a loaded mesh."""
    visual = mesh.visual
    assert isinstance(visual, trimesh.visual.ColorVisuals)
    assert visual.kind == "vertex"
    return np.asarray(visual.vertex_colors[:, :3])


def material_color(mesh: trimesh.Trimesh) -> tuple[int, ...]:
    """RGB 0-255 of the diffuse colour of a loaded mesh's material."""
    visual = mesh.visual
    assert isinstance(visual, trimesh.visual.TextureVisuals)
    material = visual.material
    assert isinstance(material, trimesh.visual.material.SimpleMaterial)
    return tuple(int(value) for value in material.diffuse[:3])


def organ(demo_study: DemoStudy, number: int) -> Mesh:
    mesh = build(demo_study.masks[number], demo_study.geometry, MeshOptions())
    assert mesh is not None
    return mesh


@pytest.fixture(scope="module")
def organs(demo_study: DemoStudy) -> dict[int, Mesh]:
    return {number: organ(demo_study, number) for number in NAMES}


def lib3mf_objects(path: Path) -> tuple[lib3mf.Model, list[dict]]:
    """Each mesh object of the package at ``path``, read strictly by lib3mf: its name, colour
    (from its base material), vertices and triangles, in file order."""
    model = lib3mf.get_wrapper().CreateModel()
    reader = model.QueryReader("3mf")
    reader.SetStrictModeActive(True)
    reader.ReadFromFile(str(path))
    assert reader.GetWarningCount() == 0
    objects = []
    found = model.GetMeshObjects()
    while found.MoveNext():
        item = found.GetCurrentMeshObject()
        resource, property_id, has_property = item.GetObjectLevelProperty()
        assert has_property
        color = model.GetBaseMaterialGroupByID(resource).GetDisplayColor(property_id)
        vertices = np.array([list(v.Coordinates) for v in item.GetVertices()])
        triangles = np.array([list(t.Indices) for t in item.GetTriangleIndices()])
        objects.append(
            {
                "name": item.GetName(),
                "color": (color.Red, color.Green, color.Blue),
                "mesh": Mesh(vertices, triangles.astype(np.int64)),
                "closed": item.IsManifoldAndOriented(),
            }
        )
    return model, objects


def check_package(path: Path, organs: dict[int, Mesh]) -> None:
    model, objects = lib3mf_objects(path)
    assert model.GetUnit() == lib3mf.ModelUnit.MilliMeter
    assert model.GetBuildItems().Count() == len(organs)
    assert [o["name"] for o in objects] == [NAMES[n] for n in organs]
    assert [o["color"] for o in objects] == [COLORS[n] for n in organs]
    for read, mesh in zip(objects, organs.values(), strict=True):
        assert read["closed"]
        assert read["mesh"].triangle_count == mesh.triangle_count
        assert len(read["mesh"].vertices) == len(mesh.vertices)
        # Coordinates are kept in LPS mm to 0.1 um.
        np.testing.assert_allclose(read["mesh"].vertices, mesh.vertices, atol=6e-5)
        assert read["mesh"].volume == pytest.approx(mesh.volume, rel=1e-6)


def test_package_reads_back_with_lib3mf(organs: dict[int, Mesh], tmp_path: Path):
    path = tmp_path / "organs.3mf"
    path.write_bytes(threemf_file([(NAMES[n], COLORS[n], organs[n]) for n in organs]))
    check_package(path, organs)


def test_package_parts(organs: dict[int, Mesh]):
    data = threemf_file([(NAMES[1], COLORS[1], organs[1])])
    with zipfile.ZipFile(io.BytesIO(data)) as package:
        assert set(package.namelist()) == {"[Content_Types].xml", "_rels/.rels", MODEL_PATH}
        root = ElementTree.fromstring(package.read(MODEL_PATH))
    space = {"m": MODEL_NAMESPACE}
    assert root.get("unit") == "millimeter"
    (base,) = root.findall("m:resources/m:basematerials/m:base", space)
    assert base.get("displaycolor") == "#DD8265"
    (item,) = root.findall("m:resources/m:object", space)
    assert (item.get("type"), item.get("name"), item.get("pid"), item.get("pindex")) == (
        "model",
        NAMES[1],
        "1",
        "0",
    )
    (build_item,) = root.findall("m:build/m:item", space)
    assert build_item.get("objectid") == item.get("id")


def test_parts_written_by_workers_make_the_same_package(
    demo_study: DemoStudy, organs: dict[int, Mesh], tmp_path: Path
):
    parts = []
    for number in NAMES:
        mask = demo_study.masks[number]
        (box,) = ndimage.find_objects(mask.astype(np.uint8))
        origin = (box[0].start, box[1].start, box[2].start)
        crop = SegmentCrop(Segment(number, NAMES[number], COLORS[number]), mask[box], origin)
        path = tmp_path / f"{number}.part"
        path.touch()
        work = MeshPart(
            crop=crop, geometry=demo_study.geometry, options=MeshOptions(), path=str(path)
        )
        assert work.run() == organs[number].triangle_count
        parts.append((NAMES[number], COLORS[number], str(path)))
    package = tmp_path / "organs.3mf"
    PackThreeMF(parts=parts, path=str(package)).run()
    check_package(package, organs)


def test_empty_crop_writes_no_part(demo_study: DemoStudy, tmp_path: Path):
    crop = SegmentCrop(Segment(1, "Nothing", (1, 2, 3)), np.zeros((3, 3, 3), bool), (0, 0, 0))
    path = tmp_path / "empty.part"
    path.touch()
    work = MeshPart(crop=crop, geometry=demo_study.geometry, options=MeshOptions(), path=str(path))
    assert work.run() is None
    assert path.stat().st_size == 0


def test_obj_and_mtl_carry_the_colour(organs: dict[int, Mesh], tmp_path: Path):
    liver = organs[1]
    appearance = Appearance(NAMES[1], COLORS[1], "segment-1")
    obj = export_mesh(liver, MeshFormat.OBJ, appearance)
    assert b"mtllib segment-1.mtl\n" in obj
    assert b"usemtl segment-1\n" in obj
    # Alone, its vertices' colours.
    loaded = trimesh.load_mesh(io.BytesIO(obj), file_type="obj", process=False)
    assert np.all(vertex_colors(loaded) == COLORS[1])
    np.testing.assert_allclose(loaded.vertices, liver.vertices, atol=1e-6)
    assert loaded.volume == pytest.approx(liver.volume, rel=1e-6)
    # Beside its MTL, saved under the name the OBJ gives it: the material's diffuse colour.
    (tmp_path / "segment-1.obj").write_bytes(obj)
    (tmp_path / "segment-1.mtl").write_bytes(export_mesh(liver, MeshFormat.MTL, appearance))
    with_material = trimesh.load_mesh(tmp_path / "segment-1.obj", process=False)
    assert material_color(with_material) == COLORS[1]


def test_obj_without_appearance_has_no_material(organs: dict[int, Mesh]):
    obj = export_mesh(organs[2], MeshFormat.OBJ)
    assert b"mtllib" not in obj
    loaded = trimesh.load_mesh(io.BytesIO(obj), file_type="obj", process=False)
    assert loaded.volume == pytest.approx(organs[2].volume, rel=1e-6)


def test_ply_carries_the_colour(organs: dict[int, Mesh]):
    ply = export_mesh(organs[2], MeshFormat.PLY, Appearance(NAMES[2], COLORS[2], "segment-2"))
    header = ply[: ply.index(b"end_header")].decode()
    for channel in ("red", "green", "blue"):
        assert f"property uchar {channel}" in header
    loaded = trimesh.load_mesh(io.BytesIO(ply), file_type="ply", process=False)
    assert np.all(vertex_colors(loaded) == COLORS[2])
    assert loaded.volume == pytest.approx(organs[2].volume, rel=1e-5)


def test_one_mesh_as_3mf(organs: dict[int, Mesh], tmp_path: Path):
    appearance = Appearance(NAMES[2], COLORS[2], "segment-2")
    path = tmp_path / "one.3mf"
    path.write_bytes(export_mesh(organs[2], MeshFormat.THREEMF, appearance))
    check_package(path, {2: organs[2]})


def test_new_formats_parse():
    assert MeshFormat.parse("3MF") is MeshFormat.THREEMF
    assert MeshFormat.THREEMF.mime_type == "model/3mf"
    assert MeshFormat.parse("mtl").mime_type == "model/mtl"
