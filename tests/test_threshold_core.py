"""Unit tests of the threshold path's memory-saving forms: they give what the plain forms do."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from segmesh.dicom.part10 import read_image
from segmesh.mesh import ThresholdOptions, threshold_labelmap
from segmesh.mesh.threshold import keep_largest
from segmesh.settings import Settings
from segmesh.statistics.histogram import value_histogram
from segmesh.worker_io.stored_files import read_headers
from tests.conftest import encode
from tests.test_sampling import ball_ct


def test_keep_largest_with_more_components_than_int16_holds() -> None:
    mask = np.zeros((66, 66, 66), dtype=bool)
    mask[::2, ::2, ::2] = True  # 33^3 = 35937 single voxels, each its own component
    mask[10:20, 10:20, 10:20] = True  # the largest
    mask[40:46, 40:46, 40:46] = True  # the second largest
    labels, count = ndimage.label(mask)
    assert count > np.iinfo(np.int16).max
    # The cubes with the lattice voxels touching their faces.
    cube, small_cube = labels == labels[15, 15, 15], labels == labels[43, 43, 43]
    assert cube.sum() > small_cube.sum() > 216
    np.testing.assert_array_equal(keep_largest(mask.copy(), 1), cube)
    np.testing.assert_array_equal(keep_largest(mask.copy(), 2), cube | small_cube)


def test_keep_largest_reduces_in_place() -> None:
    mask = np.zeros((4, 10, 10), dtype=bool)
    mask[1, 1:3, 1:3] = True  # 4 voxels, first
    mask[1, 6:8, 6:8] = True  # 4 voxels, second
    kept = keep_largest(mask, 1)
    assert kept is mask
    assert kept.sum() == 4
    assert kept[1, 6, 6]  # of equal sizes, the later component (as before slice by slice)


def test_headers_and_pixels_read_apart_give_the_same_mask_and_histogram() -> None:
    images = ball_ct((12, 30, 40))
    files = [encode(image) for image in images]
    headers = read_headers(files)
    assert all("PixelData" not in header for header in headers)
    options = ThresholdOptions(-500, 100, 1)
    full = threshold_labelmap([read_image(data) for data in files], options, Settings())
    apart = threshold_labelmap(headers, options, Settings(), lambda n: read_image(files[n]))
    np.testing.assert_array_equal(full.layers, apart.layers)
    histogram = value_histogram(headers, 7, Settings(), lambda n: read_image(files[n]))
    hu = np.stack([image.pixel_array.astype(int) - 1000 for image in images])
    counts, edges = np.histogram(hu, bins=7, range=(hu.min(), hu.max()))
    np.testing.assert_array_equal(histogram.counts, counts)
    np.testing.assert_allclose(histogram.edges, edges)
    assert histogram.unit == "HU"
