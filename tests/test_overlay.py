"""The overlay core on synthetic label maps and the demo study's masks."""

from __future__ import annotations

import dataclasses
from io import BytesIO

import numpy as np
import pytest
from PIL import Image

from segmesh.demo import DemoStudy
from segmesh.demo.phantom import ORIGIN, PIXEL_SPACING, SHAPE, SLICE_THICKNESS
from segmesh.errors import BadRequestError
from segmesh.geometry import Plane, image_planes
from segmesh.labelmap import LabelMap, LayerBuilder, Segment
from segmesh.overlay import (
    OverlayStyle,
    encode_png,
    outline_of,
    overlay_png,
    plane_labels,
    render,
)
from segmesh.requests.overlay_query import overlay_style

AXIAL = np.array([1.0, 0, 0, 0, 1, 0])


@pytest.fixture(scope="module")
def demo_labelmap(demo_study: DemoStudy) -> LabelMap:
    """The demo masks packed into layers (kidneys, liver etc. do not overlap: one layer)."""
    builder = LayerBuilder(demo_study.geometry, np.dtype(np.uint8))
    for number, mask in demo_study.masks.items():
        segment = Segment(number, f"organ {number}", (10 * number, 20 * number, 30 * number))
        builder.add(segment, {k: mask[k] for k in range(mask.shape[0]) if mask[k].any()})
    return builder.build()


def demo_plane(k: float, rows: int = SHAPE[1], columns: int = SHAPE[2]) -> Plane:
    """An axial plane at (fractional) slice k of the demo grid, first pixel at the origin."""
    position = np.array([ORIGIN[0], ORIGIN[1], ORIGIN[2] + k * SLICE_THICKNESS])
    return Plane(position, AXIAL, np.array(PIXEL_SPACING), rows, columns)


def test_style_from_query() -> None:
    style = overlay_style({"segments": "4,1", "opacity": "0.25", "outline": "TRUE"})
    assert style == OverlayStyle((4, 1), 0.25, True)
    assert overlay_style({}) == OverlayStyle(None, 0.5, False)
    assert overlay_style({"outline": "false", "opacity": "1"}).opacity == 1.0


@pytest.mark.parametrize(
    "query",
    [
        {"opacity": "abc"},
        {"opacity": "1.5"},
        {"opacity": "-0.1"},
        {"outline": "maybe"},
        {"segments": "1,x"},
    ],
)
def test_style_rejects_bad_parameters(query: dict[str, str]) -> None:
    with pytest.raises(BadRequestError) as caught:
        overlay_style(query)
    assert caught.value.http_status == 400
    assert next(iter(query)) in caught.value.message


def test_unknown_segment_is_a_400(demo_labelmap: LabelMap) -> None:
    with pytest.raises(BadRequestError, match="Unknown segment numbers"):
        OverlayStyle(segments=(1, 99)).selected(demo_labelmap.segments)


def test_each_demo_image_gets_its_own_slice_by_position(
    demo_study: DemoStudy, demo_labelmap: LabelMap
) -> None:
    # Images in a shuffled order: the slice comes from ImagePositionPatient, not the order.
    order = np.random.default_rng(1).permutation(len(demo_study.images))
    for index in order:
        plane = image_planes(demo_study.images[index])[0]
        labels = plane_labels(demo_labelmap, plane)
        assert labels.shape == (1, SHAPE[1], SHAPE[2])
        for number, mask in demo_study.masks.items():
            np.testing.assert_array_equal(labels[0] == number, mask[index])


def test_plane_between_slices_snaps_within_half_a_step(
    demo_study: DemoStudy, demo_labelmap: LabelMap
) -> None:
    liver = demo_study.masks[1]
    np.testing.assert_array_equal(plane_labels(demo_labelmap, demo_plane(20.4))[0] == 1, liver[20])
    np.testing.assert_array_equal(plane_labels(demo_labelmap, demo_plane(20.6))[0] == 1, liver[21])
    assert not plane_labels(demo_labelmap, demo_plane(-0.6)).any()
    assert not plane_labels(demo_labelmap, demo_plane(SHAPE[0] - 0.4)).any()


def test_a_larger_finer_image_grid_is_resampled_at_its_pixel_centres(
    demo_study: DemoStudy, demo_labelmap: LabelMap
) -> None:
    # Half the pixel spacing, starting 10 columns and 5 rows outside the label map.
    k = 22
    spacing = np.array(PIXEL_SPACING) / 2
    position = np.array(
        [ORIGIN[0] - 10 * PIXEL_SPACING[1], ORIGIN[1] - 5 * PIXEL_SPACING[0], ORIGIN[2] + k * 2.5]
    )
    plane = Plane(position, AXIAL, spacing, 300, 360)
    labels = plane_labels(demo_labelmap, plane)[0]
    # Oracle: each pixel centre's nearest demo voxel, from the phantom's constants.
    rows, columns = np.meshgrid(np.arange(300), np.arange(360), indexing="ij")
    x = position[0] + columns * spacing[1]
    y = position[1] + rows * spacing[0]
    i = np.rint((x - ORIGIN[0]) / PIXEL_SPACING[1]).astype(int)
    j = np.rint((y - ORIGIN[1]) / PIXEL_SPACING[0]).astype(int)
    inside = (i >= 0) & (i < SHAPE[2]) & (j >= 0) & (j < SHAPE[1])
    expected = np.zeros((300, 360), dtype=np.uint8)
    for number, mask in demo_study.masks.items():
        hit = np.zeros_like(inside)
        hit[inside] = mask[k][j[inside], i[inside]]
        expected[hit] = number
    # Pixel centres exactly half-way between two voxels may round either way: allow those.
    halfway = (np.abs((x - ORIGIN[0]) / PIXEL_SPACING[1] % 1 - 0.5) < 1e-6) | (
        np.abs((y - ORIGIN[1]) / PIXEL_SPACING[0] % 1 - 0.5) < 1e-6
    )
    assert expected[~halfway].any()
    np.testing.assert_array_equal(labels[~halfway], expected[~halfway])


def test_render_colours_opacity_and_transparency(demo_labelmap: LabelMap) -> None:
    labels = plane_labels(demo_labelmap, demo_plane(20))
    rgba = render(labels, demo_labelmap.segments, OverlayStyle(opacity=0.4))
    assert rgba.shape == (SHAPE[1], SHAPE[2], 4)
    for segment in demo_labelmap.segments:
        where = labels[0] == segment.number
        if where.any():
            assert np.all(rgba[where] == (*segment.color, 102))
    assert np.all(rgba[labels[0] == 0] == 0)


def test_render_only_the_chosen_segments(demo_labelmap: LabelMap) -> None:
    labels = plane_labels(demo_labelmap, demo_plane(20))
    style = OverlayStyle(segments=(1,), opacity=1.0)
    rgba = render(labels, style.selected(demo_labelmap.segments), style)
    np.testing.assert_array_equal(rgba[..., 3] > 0, labels[0] == 1)
    assert np.all(rgba[labels[0] == 1] == (10, 20, 30, 255))


def test_opacity_zero_draws_nothing(demo_labelmap: LabelMap) -> None:
    labels = plane_labels(demo_labelmap, demo_plane(20))
    assert not render(labels, demo_labelmap.segments, OverlayStyle(opacity=0.0))[..., 3].any()


def test_outline_of_a_square_is_its_perimeter() -> None:
    labels = np.zeros((8, 10), dtype=np.uint8)
    labels[2:6, 3:8] = 4
    edge = outline_of(labels)
    expected = np.zeros_like(edge)
    expected[2:6, 3:8] = True
    expected[3:5, 4:7] = False
    np.testing.assert_array_equal(edge, expected)
    # Touching the image border is an edge too.
    labels[:, :] = 1
    assert outline_of(labels).sum() == 2 * 8 + 2 * 10 - 4


def test_outline_mode_draws_only_boundaries(demo_labelmap: LabelMap) -> None:
    labels = plane_labels(demo_labelmap, demo_plane(20))
    rgba = render(labels, demo_labelmap.segments, OverlayStyle(opacity=1.0, outline=True))
    drawn = rgba[..., 3] > 0
    liver = labels[0] == 1
    assert drawn[liver].any()
    assert drawn[liver].sum() < 0.3 * liver.sum()
    assert not drawn[labels[0] == 0].any()
    interior = liver.copy()
    interior[1:-1, 1:-1] &= liver[:-2, 1:-1] & liver[2:, 1:-1] & liver[1:-1, :-2] & liver[1:-1, 2:]
    assert not drawn[1:-1, 1:-1][interior[1:-1, 1:-1]].any()


def test_later_layers_draw_on_top_and_uint16_numbers_work(demo_study: DemoStudy) -> None:
    geometry = demo_study.geometry
    builder = LayerBuilder(geometry, np.dtype(np.uint16))
    big = np.zeros(SHAPE[1:], dtype=bool)
    big[10:50, 10:60] = True
    small = np.zeros_like(big)
    small[20:30, 20:30] = True
    builder.add(Segment(300, "big", (255, 0, 0)), {5: big})
    builder.add(Segment(2, "small", (0, 0, 255)), {5: small})
    labelmap = builder.build()
    assert labelmap.layers.shape[0] == 2
    rgba = render(plane_labels(labelmap, demo_plane(5)), labelmap.segments, OverlayStyle())
    assert tuple(rgba[25, 25]) == (0, 0, 255, 128)
    assert tuple(rgba[40, 40]) == (255, 0, 0, 128)
    assert tuple(rgba[5, 5]) == (0, 0, 0, 0)
    only_big = OverlayStyle(segments=(300,))
    rgba = render(
        plane_labels(labelmap, demo_plane(5)), only_big.selected(labelmap.segments), only_big
    )
    assert tuple(rgba[25, 25]) == (255, 0, 0, 128)


def test_png_has_the_image_size_and_the_pixels(demo_labelmap: LabelMap) -> None:
    plane = demo_plane(20)
    png = overlay_png(demo_labelmap, plane, OverlayStyle(opacity=1.0))
    image = Image.open(BytesIO(png))
    assert image.mode == "RGBA"
    assert image.size == (SHAPE[2], SHAPE[1])  # (width = columns, height = rows)
    expected = render(
        plane_labels(demo_labelmap, plane), demo_labelmap.segments, OverlayStyle(opacity=1.0)
    )
    np.testing.assert_array_equal(np.asarray(image), expected)
    rgba = np.zeros((3, 4, 4), dtype=np.uint8)
    rgba[1, 2] = (1, 2, 3, 4)
    np.testing.assert_array_equal(np.asarray(Image.open(BytesIO(encode_png(rgba)))), rgba)


@pytest.mark.parametrize("shape", [(1, 1), (7, 13), (512, 512)])
def test_png_encoding_keeps_every_pixel_and_passes_pillows_checks(
    shape: tuple[int, int],
) -> None:
    rgba = np.random.default_rng(sum(shape)).integers(0, 256, (*shape, 4), dtype=np.uint8)
    rgba[: shape[0] // 2] = 0  # transparent rows, as most of an overlay is
    png = encode_png(rgba[:, ::-1])  # not contiguous: a view, as a resampled plane may be
    with Image.open(BytesIO(png)) as image:
        image.verify()  # chunk CRCs and structure
    with Image.open(BytesIO(png)) as image:
        assert (image.mode, image.size) == ("RGBA", (shape[1], shape[0]))
        np.testing.assert_array_equal(np.asarray(image), rgba[:, ::-1])


def test_a_plane_without_segments_is_fully_transparent(demo_labelmap: LabelMap) -> None:
    png = overlay_png(demo_labelmap, demo_plane(-3), OverlayStyle(opacity=1.0))
    assert not np.asarray(Image.open(BytesIO(png)))[..., 3].any()


def test_another_orientation_is_resampled(demo_study: DemoStudy, demo_labelmap: LabelMap) -> None:
    # A coronal plane (rows along -z) through row j = 60 of the demo grid.
    j = 60
    y = ORIGIN[1] + j * PIXEL_SPACING[0]
    top = ORIGIN[2] + (SHAPE[0] - 1) * SLICE_THICKNESS
    plane = Plane(
        np.array([ORIGIN[0], y, top]),
        np.array([1.0, 0, 0, 0, 0, -1]),
        np.array([SLICE_THICKNESS, PIXEL_SPACING[1]]),
        SHAPE[0],
        SHAPE[2],
    )
    labels = plane_labels(demo_labelmap, plane)[0]
    expected = np.zeros((SHAPE[0], SHAPE[2]), dtype=np.uint8)
    for number, mask in demo_study.masks.items():
        expected[mask[::-1, j, :]] = number
    np.testing.assert_array_equal(labels, expected)


def test_geometry_with_non_uniform_slices(demo_study: DemoStudy, demo_labelmap: LabelMap) -> None:
    # Drop slice 10: the plane of the old slice 11 is now slice 10 of the label map.
    keep = [k for k in range(SHAPE[0]) if k != 10]
    geometry = dataclasses.replace(
        demo_labelmap.geometry,
        shape=(len(keep), SHAPE[1], SHAPE[2]),
        slice_positions=demo_labelmap.geometry.slice_positions[keep],
    )
    labelmap = LabelMap(demo_labelmap.layers[:, keep], geometry, demo_labelmap.segments)
    assert not geometry.is_uniform
    labels = plane_labels(labelmap, demo_plane(11))[0]
    np.testing.assert_array_equal(labels == 1, demo_study.masks[1][11])
