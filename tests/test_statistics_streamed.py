"""The statistics workers read the layers a box or a slice at a time and the image one file at a
time (no volume, nothing mapped whole): the same figures, to the last bit, as the statistics of
the whole label map and image volume in memory."""

from __future__ import annotations

from io import BytesIO
from pathlib import Path

import numpy as np
import pytest
from pydicom import dcmread
from scipy import ndimage

from segmesh.errors import SegMeshError
from segmesh.geometry import geometry_from_images
from segmesh.images.image_volume import image_volume
from segmesh.labelmap import LabelMap, Segment, slab_boxes
from segmesh.statistics import SegmentStatistics, segment_statistics, with_image_figures
from segmesh.work import MeasureImage, MeasureLabelMap
from segmesh.worker_io.packed_files import PackedArray, packed_array
from tests.builders import ct_series

SHAPE = (9, 14, 17)  # slices, rows, columns


def series_files(slope: str) -> list[bytes]:
    """A CT series of SHAPE with varied values (HU = stored x ``slope`` - 1024), as files."""
    rng = np.random.default_rng(7)
    pixels = rng.integers(-600, 2500, SHAPE).astype(np.int16)
    pixels[6] = 2000  # a slice whose values x 20 leave int16: the volume is int32 then
    files = []
    for image in ct_series(SHAPE, (0.7, 0.9, 2.5), (-5.0, 3.0, 7.0), pixels=pixels,
                           rescale_intercept=-1024):  # fmt: skip
        image.RescaleSlope = slope
        stream = BytesIO()
        image.save_as(stream, enforce_file_format=True)
        files.append(stream.getvalue())
    return files


def labelled() -> tuple[np.ndarray, tuple[Segment, ...]]:
    """(2, *SHAPE) uint8 layers: segments across many slices, overlapping in layer 1, one
    empty, values not in segment order."""
    layers = np.zeros((2, *SHAPE), np.uint8)
    layers[0, 1:8, 2:11, 3:9] = 3
    layers[0, 4:9, 5:13, 10:16] = 1
    layers[0, 0, 0, 0] = 1  # far from the rest of its voxels: a box of the whole slab
    layers[1, 2:7, 1:12, 2:15] = 2
    layers[1, 3, 4, 5] = 0  # a hole
    segments = (Segment(3, "C", (1, 2, 3)), Segment(1, "A", (1, 2, 3)),
                Segment(2, "B", (1, 2, 3), layer=1), Segment(4, "Empty", (1, 2, 3)))  # fmt: skip
    return layers, segments


def fields(statistics: SegmentStatistics) -> tuple[object, ...]:
    arrays = (statistics.centroid_lps, statistics.bounds_lps, statistics.extent_mm)
    return (statistics.number, statistics.layer, statistics.voxels, statistics.volume_ml,
            statistics.mesh_volume_ml, statistics.surface_area_mm2, statistics.image,
            *(None if a is None else a.tobytes() for a in arrays))  # fmt: skip


@pytest.mark.parametrize(
    ("slope", "dtype"), [("1", np.int16), ("20", np.int32), ("0.5", np.float32)]
)
def test_the_workers_give_the_statistics_of_the_whole_volume(
    slope: str, dtype: type, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = series_files(slope)
    images = [dcmread(BytesIO(file)) for file in files]
    geometry, _ = geometry_from_images(images)
    layers, segments = labelled()
    volume = image_volume(images, geometry)
    assert volume.dtype == dtype  # each of image_volume's three kinds of volume
    expected = segment_statistics(LabelMap(layers, geometry, segments), image=volume)
    # The workers' mapping holds nothing: every value they use is read from the file.
    monkeypatch.setattr(PackedArray, "mapped", lambda packed: np.zeros(packed.shape, np.uint8))
    with packed_array(layers) as packed:
        measured = MeasureLabelMap(layers=packed, geometry=geometry, segments=segments,
                                   boxes={}).run()  # fmt: skip
        figures = MeasureImage(layers=packed, geometry=geometry, segments=segments,
                               image_files=files).run()  # fmt: skip
    assert figures[3] is None
    assert [fields(s) for s in with_image_figures(measured.statistics, figures)] == [
        fields(s) for s in expected
    ]
    assert measured.boxes == {n: ndimage.find_objects(layers[n]) for n in (0, 1)}


def test_an_image_cut_short_is_a_clear_error() -> None:
    layers, segments = labelled()
    files = series_files("1")
    geometry, _ = geometry_from_images([dcmread(BytesIO(file)) for file in files])
    broken = [*files[:4], files[4][:-100], *files[5:]]  # its pixels cut short
    with packed_array(layers) as packed:
        unit = MeasureImage(layers=packed, geometry=geometry, segments=segments,
                            image_files=broken)  # fmt: skip
        with pytest.raises(SegMeshError) as raised:
            unit.run()
    assert raised.value.http_status == 415
    assert raised.value.message == "Cannot decode the image pixels"


@pytest.mark.parametrize("thickness", [1, 3, 16])
def test_slab_boxes_are_those_of_the_whole_layer(thickness: int) -> None:
    rng = np.random.default_rng(thickness)
    layer = np.zeros((11, 6, 7), np.uint16)
    for value in (2, 5, 300, 301):  # 1, 3, 4 ... absent; 300 only in the last slabs
        low = 8 if value >= 300 else 0
        k, j, i = rng.integers(low, 11), rng.integers(0, 6, 2), rng.integers(0, 7, 2)
        layer[k, j[0], i[0]] = layer[rng.integers(0, 11), j[1], i[1]] = value
    slabs = [(start, layer[start : start + thickness]) for start in range(0, 11, thickness)]
    assert slab_boxes(slabs) == ndimage.find_objects(layer)


def test_boxes_and_slabs_read_from_a_packed_array(tmp_path: Path) -> None:
    array = np.arange(2 * 5 * 4 * 6, dtype=np.int16).reshape(2, 5, 4, 6)
    packed = PackedArray.write(array, str(tmp_path / "layers"))
    for layer, box in [
        (1, (slice(1, 4), slice(2, 4), slice(1, 5))),
        (0, (slice(4, 5), slice(None), slice(None))),
        (1, (slice(2, 2), slice(0, 3), slice(0, 3))),  # empty
    ]:
        read = packed.read_box(layer, box)
        assert read.dtype == array.dtype
        np.testing.assert_array_equal(read, array[layer][box])
    slabs = list(packed.slabs(1, 2))
    assert [start for start, _ in slabs] == [0, 2, 4]
    np.testing.assert_array_equal(np.concatenate([slab for _, slab in slabs]), array[1])
