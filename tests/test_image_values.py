"""The image figures of segments: 8- and 16-bit integers counted into a histogram give NumPy's
figures; a label map given the boxes another found on the same layers (a worker's) gives the
same statistics as one that finds them itself."""

from __future__ import annotations

import numpy as np
import pytest

from segmesh.geometry import VolumeGeometry
from segmesh.labelmap import LabelMap, Segment
from segmesh.statistics import (
    PERCENTILES,
    ImageFigures,
    image_figures,
    segment_statistics,
    with_image_figures,
)


def numpy_figures(values: np.ndarray) -> tuple[float, ...]:
    """mean, min, p5, median, p95, max by NumPy on float64 (int16 arithmetic would wrap)."""
    data = values.astype(np.float64)
    p5, median, p95 = np.percentile(data, PERCENTILES)
    return (data.mean(), data.min(), p5, median, p95, data.max())


@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.int16, np.uint16])
@pytest.mark.parametrize("count", [1, 2, 3, 7, 20, 1001])
def test_integer_figures_are_numpys(dtype: type, count: int) -> None:
    info = np.iinfo(dtype)
    rng = np.random.default_rng(count)
    values: np.ndarray = rng.integers(info.min, int(info.max) + 1, count).astype(dtype)
    values[0] = info.max  # the whole range: its ends and a histogram as wide as it goes
    if count > 1:
        values[1] = info.min
    figures = ImageFigures.of(values)
    got = (figures.mean, figures.min, figures.p5, figures.median, figures.p95, figures.max)
    assert got == numpy_figures(values)
    assert figures.std == pytest.approx(values.astype(np.float64).std(), rel=1e-12, abs=1e-12)


def test_ct_values_of_few_levels_and_ties() -> None:
    # Mostly air and one bone value: percentiles fall on long runs of equal values.
    values = np.array([-1000] * 90 + [40] * 7 + [1200] * 3, dtype=np.int16)
    figures = ImageFigures.of(values)
    assert (figures.p5, figures.median, figures.min, figures.max) == (-1000, -1000, -1000, 1200)
    assert figures.p95 == pytest.approx(np.percentile(values.astype(float), 95), rel=1e-15)
    assert figures.p95 == 40.0  # virtual index 94.05: between the 95th and 96th, both 40
    assert figures.mean == pytest.approx(values.mean(dtype=np.float64), rel=1e-15)


def test_boxes_found_elsewhere_give_the_same_statistics() -> None:
    shape = (12, 16, 20)
    rng = np.random.default_rng(3)
    image = rng.normal(50, 200, shape).round().astype(np.int16)
    layers = np.zeros((2, *shape), np.uint8)
    layers[0, 2:7, 3:9, 4:15] = 1
    layers[0, 8:11, 10:15, 1:6] = 2
    layers[1, 1:10, 2:14, 3:18] = 3  # overlaps both, in the second layer
    segments = (Segment(1, "A", (1, 2, 3)), Segment(2, "B", (1, 2, 3)),
                Segment(3, "C", (1, 2, 3), layer=1), Segment(4, "Empty", (1, 2, 3)))  # fmt: skip
    affine = np.diag([0.8, 0.6, 2.5, 1.0])
    positions = np.array([k * affine[:3, 2] for k in range(shape[0])])
    geometry = VolumeGeometry(shape, affine, "1.2.3", positions)
    finder = LabelMap(layers, geometry, segments)
    assert finder.boxes_found() == {}
    expected = segment_statistics(finder, image=image)
    assert finder.boxes_found().keys() == {0, 1}
    # A worker's label map: the same layers (as mapped from disk), the boxes sent with them.
    worker = LabelMap(layers.copy(), geometry, segments)
    worker.adopt_boxes(finder.boxes_found())
    assert worker.boxes_found() == finder.boxes_found()
    figures = image_figures(worker, list(segments), image)
    assert figures[3] is None
    for segment, found in zip(segments[:3], figures[:3], strict=True):
        values = image[layers[segment.layer] == segment.value]
        assert found is not None
        assert (found.min, found.max) == (values.min(), values.max())
        assert found.median == np.median(values.astype(np.float64))
    joined = with_image_figures(segment_statistics(worker), figures)
    assert [(s.number, s.voxels, s.image) for s in joined] == [
        (s.number, s.voxels, s.image) for s in expected
    ]
    for ours, theirs in zip(joined[:3], expected[:3], strict=True):
        assert ours.mesh_volume_ml == theirs.mesh_volume_ml
        np.testing.assert_array_equal(ours.centroid_lps, theirs.centroid_lps)
        np.testing.assert_array_equal(ours.bounds_lps, theirs.bounds_lps)
