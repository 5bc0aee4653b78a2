"""The 64 x 64 icon of a stored model: shapes of known outline and slope, seen from the front."""

from __future__ import annotations

import numpy as np
import trimesh

from segmesh.mesh import Mesh, merge
from segmesh.models import icon_pixels

#: 0.3 + 0.7 cos 45 degrees, of 255: a surface at 45 degrees to the viewer.
AT_45_DEGREES = round((0.3 + 0.7 / np.sqrt(2.0)) * 255)


def mesh_of(shape: trimesh.Trimesh, offset: tuple[float, float, float] = (0, 0, 0)) -> Mesh:
    return Mesh(np.asarray(shape.vertices, dtype=np.float64) + offset, np.asarray(shape.faces))


def turned_box(extents: tuple[float, float, float]) -> trimesh.Trimesh:
    """A box turned 45 degrees about the head-foot (z) axis: its front is two faces at 45."""
    box = trimesh.creation.box(extents)
    box.apply_transform(trimesh.transformations.rotation_matrix(np.pi / 4, [0, 0, 1]))
    return box


def test_a_box_face_on_fills_the_icon_lit_full():
    # 12 triangles, each far larger than a pixel: drawn from points inside them.
    icon = icon_pixels(mesh_of(trimesh.creation.box((40, 30, 40))))
    assert (icon[1:63, 1:63] == 255).all()
    assert not icon[[0, 63], :].any()
    assert not icon[:, [0, 63]].any()


def test_faces_at_45_degrees_are_shaded_by_their_slope():
    icon = icon_pixels(mesh_of(turned_box((30, 30, 40))))
    lit = icon[icon > 0].astype(int)
    assert abs(np.median(lit) - AT_45_DEGREES) <= 6
    assert (np.abs(lit - AT_45_DEGREES) <= 25).mean() > 0.9


def test_the_nearest_surface_hides_the_one_behind():
    # A flat wall 50 mm behind (larger y, posterior) a turned box, seen through both
    # orders of the vertices: where they overlap the box shows, at 45 degrees.
    wall = mesh_of(trimesh.creation.box((60, 4, 60)), (0, 50, 0))
    box = mesh_of(turned_box((20, 20, 20)))
    for mesh in (merge([wall, box]), merge([box, wall])):
        icon = icon_pixels(mesh)
        middle = icon[26:38, 26:38].astype(int)
        assert abs(np.median(middle) - AT_45_DEGREES) <= 6
        assert (icon[2:10, 2:62] == 255).all()  # the wall alone, face-on


def test_a_sphere_is_a_disc_bright_in_the_middle_dark_at_the_rim():
    sphere = trimesh.creation.icosphere(subdivisions=4, radius=20.0)
    icon = icon_pixels(mesh_of(sphere))
    # 61 pixels across: a disc of radius 30.5 pixels.
    assert abs((icon > 0).sum() - np.pi * 30.5**2) < 0.03 * np.pi * 30.5**2
    assert icon[31:33, 31:33].min() >= 250
    rim = icon[32, 1:4]
    assert 0 < rim.max() < 200


def test_a_ring_face_on_keeps_its_hole():
    ring = trimesh.creation.torus(major_radius=30.0, minor_radius=8.0)
    ring.apply_transform(trimesh.transformations.rotation_matrix(np.pi / 2, [1, 0, 0]))
    icon = icon_pixels(mesh_of(ring))
    assert not icon[24:40, 24:40].any()
    assert (icon[30:34, 3:8] > 0).all()
    assert (icon[30:34, 56:61] > 0).all()


def test_head_is_up():
    # A large box below (inferior, smaller z) a small one.
    below = mesh_of(trimesh.creation.box((40, 40, 40)), (0, 0, -30))
    above = mesh_of(trimesh.creation.box((10, 10, 10)), (0, 0, 30))
    icon = icon_pixels(merge([below, above]))
    assert (icon[:32] > 0).sum() < 0.5 * (icon[32:] > 0).sum()


def test_large_triangles_draw_as_their_subdivision():
    # The same box as 12 large triangles and as thousands of small ones: the same icon.
    coarse = trimesh.creation.box((30, 30, 40))
    fine = coarse.subdivide().subdivide().subdivide().subdivide()
    turned = trimesh.transformations.rotation_matrix(np.pi / 4, [0, 0, 1])
    coarse.apply_transform(turned)
    fine.apply_transform(turned)
    first, second = icon_pixels(mesh_of(coarse)), icon_pixels(mesh_of(fine))
    assert ((first > 0) == (second > 0)).mean() > 0.99
    for icon in (first, second):
        assert abs(np.median(icon[icon > 0]) - AT_45_DEGREES) <= 6
