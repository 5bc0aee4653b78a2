"""What a worker reads of a series' headers for a label map's grid (``IMAGE_KEYWORDS``,
pydicom's ``specific_tags``): the same grid, planes and label map as from the whole headers,
single-frame and enhanced multi-frame alike."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import numpy as np
import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from segmesh import geometry
from segmesh.dicom.part10 import part10
from segmesh.formats.export import Format, export
from segmesh.geometry import Plane, geometry_from_images, image_planes
from segmesh.settings import Settings
from segmesh.sources import describe
from segmesh.work import DecodeLabelMap, FileOut, SeriesGrid
from segmesh.work.labelmaps import IMAGE_KEYWORDS, DecodedLabelMap
from segmesh.worker_io.stored_files import read_headers
from tests import builders

SHAPE = (5, 12, 10)


def enhanced(image: Dataset, positions: list[list[float]]) -> Dataset:
    """``image`` as an enhanced multi-frame object: its geometry in functional groups, one
    frame per position."""
    multi = copy.deepcopy(image)
    shared, measures, orientation = Dataset(), Dataset(), Dataset()
    measures.PixelSpacing = image.PixelSpacing
    orientation.ImageOrientationPatient = image.ImageOrientationPatient
    shared.PixelMeasuresSequence = Sequence([measures])
    shared.PlaneOrientationSequence = Sequence([orientation])
    frames = []
    for position in positions:
        frame, plane = Dataset(), Dataset()
        plane.ImagePositionPatient = position
        frame.PlanePositionSequence = Sequence([plane])
        frames.append(frame)
    multi.SharedFunctionalGroupsSequence = Sequence([shared])
    multi.PerFrameFunctionalGroupsSequence = Sequence(frames)
    multi.NumberOfFrames = len(positions)
    for keyword in ("ImagePositionPatient", "ImageOrientationPatient", "PixelSpacing"):
        delattr(multi, keyword)
    return multi


def test_only_the_grid_is_read_and_it_is_the_same() -> None:
    images = builders.ct_series(SHAPE, (0.8, 0.7, 2.5), origin=(-5.0, 3.0, 10.0))
    positions = [[-5.0, 3.0, 10.0 + 2.5 * k] for k in range(SHAPE[0], SHAPE[0] + 3)]
    files = [part10(image) for image in images] + [part10(enhanced(images[0], positions))]
    whole = read_headers(files)
    read = read_headers(files, IMAGE_KEYWORDS)
    allowed = {*IMAGE_KEYWORDS, "SpecificCharacterSet"}
    for ds, full in zip(read, whole, strict=True):
        assert set(ds.dir()) <= allowed
        assert "PatientName" in full
        assert "PatientName" not in ds
        assert ds.SOPInstanceUID == full.SOPInstanceUID
        assert ds.SeriesInstanceUID == full.SeriesInstanceUID
        for plane, expected in zip(image_planes(ds), image_planes(full), strict=True):
            assert np.array_equal(plane.position, expected.position)
            assert np.array_equal(plane.orientation, expected.orientation)
            assert np.array_equal(plane.pixel_spacing, expected.pixel_spacing)
            assert (plane.rows, plane.columns) == (expected.rows, expected.columns)
    geometry, order = geometry_from_images(read)
    expected_geometry, expected_order = geometry_from_images(whole)
    assert geometry.shape == expected_geometry.shape == (SHAPE[0] + 3, *SHAPE[1:])
    assert np.array_equal(geometry.affine, expected_geometry.affine)
    assert order == expected_order
    assert order[-3:] == [(SHAPE[0], 0), (SHAPE[0], 1), (SHAPE[0], 2)]


def test_a_label_map_decoded_with_the_callers_description_is_the_same(tmp_path: Path) -> None:
    images = builders.ct_series(SHAPE, (0.8, 0.7, 2.5), origin=(-5.0, 3.0, 10.0))
    labels = builders.ellipsoid_labels(SHAPE, [[2, 6, 5], [2, 4, 3]], [[2, 3, 3], [1, 2, 2]])
    seg = builders.seg(images, np.stack([labels == 1, labels == 2], axis=-1), ["a", "b"])
    source = tmp_path / "seg.dcm"
    source.write_bytes(part10(seg))
    grid = SeriesGrid(image_files=[part10(image) for image in images])

    def decoded(name: str, described: bool) -> DecodeLabelMap:
        return DecodeLabelMap(
            source_path=str(source),
            grid=grid,
            segments=None,
            threshold=0.5,
            settings=Settings(),
            layers_path=str(tmp_path / name),
            description=describe(seg) if described else None,
        )

    given, read = decoded("given", True).run(), decoded("read", False).run()
    assert np.array_equal(given.read().layers, read.read().layers)
    assert given.read().layers.any()
    assert given.segments == read.segments
    assert [segment.label for segment in given.segments] == ["a", "b"]
    assert sorted(given.planes) == sorted(str(image.SOPInstanceUID) for image in images)
    for uid, plane in given.planes.items():
        assert np.array_equal(plane.position, read.planes[uid].position)
    # Every step of the worker is a named stage (the route shows them in Server-Timing).
    assert [name for name, _ in given.stages] == ["images", "decode", "layers-out"]


def without_write_time(body: bytes) -> bytes:
    """``body`` without the line pynrrd writes of when (to the second) it wrote a .seg.nrrd:
    two writes of one label map a second apart differ there alone."""
    return re.sub(rb"\n# on [^\n]*\(GMT\)\.\n", b"\n", body, count=1)


@pytest.mark.parametrize("file_format", list(Format))
def test_the_file_the_worker_writes_is_the_label_maps_file(
    tmp_path: Path, file_format: Format
) -> None:
    """Asked for a file, the worker writes the same bytes as the label map's export (what
    the route writes where the map comes from the cache), and the same layers."""
    images = builders.ct_series(SHAPE, (0.8, 0.7, 2.5), origin=(-5.0, 3.0, 10.0))
    labels = builders.ellipsoid_labels(SHAPE, [[2, 6, 5], [2, 4, 3]], [[2, 3, 3], [1, 2, 2]])
    seg = builders.seg(images, np.stack([labels == 1, labels == 2], axis=-1), ["a", "b"])
    source = tmp_path / "seg.dcm"
    source.write_bytes(part10(seg))

    def decoded(name: str, asked: Format | None) -> DecodedLabelMap:
        return DecodeLabelMap(
            source_path=str(source),
            grid=SeriesGrid(image_files=[part10(image) for image in images]),
            segments=None,
            threshold=0.5,
            settings=Settings(),
            layers_path=str(tmp_path / name),
            file=None if asked is None else FileOut(asked, str(tmp_path / f"{name}.file")),
        ).run()

    with_file, without = decoded("with", file_format), decoded("without", None)
    assert without.file is None
    assert with_file.file is not None
    labelmap = with_file.read()
    assert np.array_equal(labelmap.layers, without.read().layers)
    written, exported = with_file.file.read(), export(labelmap, file_format)
    assert (written.mime_type, written.extension) == (exported.mime_type, exported.extension)
    assert without_write_time(written.body) == without_write_time(exported.body)
    assert [name for name, _ in with_file.stages] == ["images", "decode", "layers-out+encode"]


def test_each_images_planes_are_found_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The grid and the planes the worker keeps come from one pass over the images."""
    images = builders.ct_series(SHAPE, (0.8, 0.7, 2.5), origin=(-5.0, 3.0, 10.0))
    labels = builders.ellipsoid_labels(SHAPE, [[2, 6, 5]], [[2, 3, 3]])
    seg = builders.seg(images, (labels == 1)[..., np.newaxis], ["a"])
    source = tmp_path / "seg.dcm"
    source.write_bytes(part10(seg))
    found: list[str] = []

    def counted(dataset: Dataset, index: int = 0) -> list[Plane]:
        found.append(str(dataset.SOPInstanceUID))
        return image_planes(dataset, index)

    monkeypatch.setattr(geometry, "image_planes", counted)
    decoded = DecodeLabelMap(
        source_path=str(source),
        grid=SeriesGrid(image_files=[part10(image) for image in images]),
        segments=None,
        threshold=0.5,
        settings=Settings(),
        layers_path=str(tmp_path / "layers"),
    ).run()
    assert sorted(found) == sorted(str(image.SOPInstanceUID) for image in images)
    assert decoded.geometry.shape == SHAPE
    for image in images:
        plane = decoded.planes[str(image.SOPInstanceUID)]
        assert plane.position.tolist() == [float(v) for v in image.ImagePositionPatient]
