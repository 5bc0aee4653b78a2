"""The units of work that cross into worker processes (``segmesh.work``): each a frozen,
picklable dataclass, run alike in the calling thread (``Workers`` 0) and in a worker process;
the pool refuses anything else."""

from __future__ import annotations

import dataclasses
import inspect
import pickle
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest

import segmesh.sources
import segmesh.work
from segmesh.dicom.part10 import part10
from segmesh.service.workers import WorkerPool
from segmesh.settings import Settings
from segmesh.work import (
    WORK_TYPES,
    DecodedLabelMap,
    DecodeLabelMap,
    Histogram,
    NativeGrid,
    SeriesGrid,
    run_work,
)
from tests import builders

SHAPE = (6, 16, 12)


@pytest.fixture(scope="module", params=[0, 1], ids=["in-process", "one-worker"])
def pool(request: pytest.FixtureRequest) -> Iterator[WorkerPool]:
    started = WorkerPool(request.param)
    try:
        yield started
    finally:
        started.shutdown()


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[bytes], str]:
    """A small CT series' Part-10 files (values -1000 to 1000) and the path of a two-segment
    SEG on it."""
    values = np.linspace(-1000, 1000, num=int(np.prod(SHAPE))).reshape(SHAPE).astype(np.int16)
    images = builders.ct_series(SHAPE, (0.8, 0.7, 2.5), origin=(-5.0, 3.0, 10.0), pixels=values)
    labels = builders.ellipsoid_labels(SHAPE, [[2, 6, 5], [3, 10, 7]], [[2, 3, 3], [2, 3, 2]])
    masks = np.stack([labels == 1, labels == 2], axis=-1)
    seg = builders.seg(images, masks, ["first", "second"])
    path = tmp_path_factory.mktemp("work") / "seg.dcm"
    path.write_bytes(part10(seg))
    return [part10(image) for image in images], str(path)


def _submodule_work_types() -> set[type]:
    """Every dataclass with a ``run`` method declared in a module of ``segmesh.work``."""
    modules = [m for name, m in sys.modules.items() if name.startswith("segmesh.work.")]
    return {
        value
        for module in modules
        for _, value in inspect.getmembers(module, inspect.isclass)
        if value.__module__ == module.__name__
        and dataclasses.is_dataclass(value)
        and callable(getattr(value, "run", None))
    }


def test_the_work_package_never_imports_the_adapter() -> None:
    # A fresh interpreter: this one has the adapter imported by other tests.
    code = (
        "import sys, segmesh.work; "
        "print(sorted(n for n in sys.modules if n.split('.')[:2] in (['orthanc'], "
        "['segmesh', 'orthanc'])))"
    )
    found = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert found.strip() == "[]"


def test_the_package_lists_every_unit_of_work() -> None:
    assert set(WORK_TYPES) == _submodule_work_types()
    assert {work.__name__ for work in WORK_TYPES} <= set(segmesh.work.__all__)


@pytest.mark.parametrize("work_type", WORK_TYPES, ids=lambda work_type: work_type.__name__)
def test_each_unit_of_work_is_a_frozen_picklable_dataclass(work_type: type) -> None:
    assert dataclasses.is_dataclass(work_type)
    assert work_type.__dataclass_params__.frozen  # type: ignore[attr-defined]
    assert "__slots__" in vars(work_type)
    fields = dataclasses.fields(work_type)
    work = work_type(**{field.name: (field.name,) for field in fields})
    assert pickle.loads(pickle.dumps(work)) == work
    if fields:
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(work, fields[0].name, None)
    assert isinstance(work, segmesh.work.Work)


def test_a_histogram_is_the_same_in_a_worker(pool: Any, study: tuple[list[bytes], str]) -> None:
    files, _ = study
    histogram = pool.run(Histogram(files=files, bins=8, settings=Settings()))
    expected = run_work(Histogram(files=files, bins=8, settings=Settings()))
    assert histogram.to_json() == expected.to_json()
    assert histogram.to_json()["Voxels"] == int(np.prod(SHAPE))


@pytest.mark.parametrize("on_series", [True, False], ids=["series-grid", "native-grid"])
def test_a_decoded_label_map_is_the_same_in_a_worker(
    pool: Any, study: tuple[list[bytes], str], tmp_path: Path, on_series: bool
) -> None:
    files, source = study
    grid = SeriesGrid(image_files=files) if on_series else NativeGrid()

    def decode(name: str) -> DecodeLabelMap:
        return DecodeLabelMap(
            source_path=source,
            grid=grid,
            segments=None,
            threshold=0.5,
            settings=Settings(),
            layers_path=str(tmp_path / name),
        )

    decoded: DecodedLabelMap = pool.run(decode("pool.labels"))
    expected = decode("here.labels").run()
    labelmap, wanted = decoded.read(), expected.read()
    assert np.array_equal(labelmap.layers, wanted.layers)
    assert labelmap.layers.any()
    assert labelmap.geometry.shape == wanted.geometry.shape
    assert np.allclose(labelmap.geometry.affine, wanted.geometry.affine)
    assert labelmap.segments == wanted.segments
    assert [s.label for s in labelmap.segments] == ["first", "second"]
    assert sorted(decoded.planes) == sorted(expected.planes)
    assert len(decoded.planes) == (len(files) if on_series else 0)


def test_imap_keeps_the_order(pool: Any, study: tuple[list[bytes], str]) -> None:
    files, _ = study
    works = [Histogram(files=files, bins=bins, settings=Settings()) for bins in (3, 5, 7, 9)]
    assert [len(h.counts) for h in pool.imap(iter(works))] == [3, 5, 7, 9]


def test_the_pool_refuses_anything_but_a_unit_of_work(pool: Any) -> None:
    with pytest.raises(TypeError, match="not a unit of work"):
        pool.run(sorted)
    with pytest.raises(TypeError, match="not a unit of work"):
        pool.submit((sorted, [2, 1]))
    with pytest.raises(TypeError, match="not a unit of work"):
        list(pool.imap([Histogram]))


def test_a_description_given_is_not_made_again(
    pool: Any, study: tuple[list[bytes], str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The route has described the source already: the worker takes that description (pickled
    with the work) instead of parsing a SEG's segments again, and decodes the same map."""
    files, source = study
    description = segmesh.sources.describe(pydicom.dcmread(source, stop_before_pixels=True))
    work = DecodeLabelMap(
        source_path=source,
        grid=SeriesGrid(image_files=files),
        segments=None,
        threshold=0.5,
        settings=Settings(),
        layers_path=str(tmp_path / "described.labels"),
        description=description,
    )
    expected = pool.run(dataclasses.replace(work, description=None)).read()

    def described_again(*_: object) -> None:
        raise AssertionError("described again")

    monkeypatch.setattr(segmesh.sources, "describe", described_again)
    labelmap = work.run().read()
    assert np.array_equal(labelmap.layers, expected.layers)
    assert labelmap.segments == expected.segments
    assert [s.label for s in labelmap.segments] == ["first", "second"]
