"""The 3MF of a source's segments (:func:`source_models_3mf`) on the in-memory host: empty
segments left out, 422 where every asked one is empty, 400 for numbers the source lacks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from segmesh.errors import BadRequestError, UnprocessableError
from segmesh.mesh import MeshOptions
from segmesh.service.cache import LabelMapCache
from segmesh.service.host import Host
from segmesh.service.tasks.context import TaskContext
from segmesh.service.tasks.model_files import source_models_3mf
from segmesh.service.workers import WorkerPool
from segmesh.settings import Settings
from tests.builders import ct_series, seg
from tests.memory_host import InMemoryHost
from tests.test_threemf import lib3mf_objects

SPACING = (1.0, 1.0, 2.0)  # column, row, slice mm


@pytest.fixture
def cube_and_nothing(tmp_path: Path) -> tuple[TaskContext, str]:
    """A SEG of a 4 x 4 x 2 voxel cube ("Cube", 1) and an empty segment ("Nothing", 2)."""
    host = InMemoryHost(tmp_path / "storage")
    images = ct_series((6, 16, 16), SPACING)
    for image in images:
        host.add(image)
    mask = np.zeros((6, 16, 16, 2), bool)
    mask[2:4, 5:9, 5:9, 0] = True
    seg_id = host.add(seg(images, mask, ["Cube", "Nothing"]))
    typed: Host = host
    context = TaskContext(Settings.from_configuration({}), WorkerPool(0), LabelMapCache(64), typed)
    return context, seg_id


def test_empty_segments_are_left_out(cube_and_nothing, tmp_path: Path):
    context, seg_id = cube_and_nothing
    path = tmp_path / "cube.3mf"
    options = MeshOptions(iterations=0)
    path.write_bytes(source_models_3mf(seg_id, None, options, context))
    _, objects = lib3mf_objects(path)
    (cube,) = objects
    assert cube["name"] == "Cube"
    assert cube["closed"]
    # 32 voxels of 2 mm^3; marching cubes cuts each of the box's 12 edges and 8 corners off.
    voxels = 32 * np.prod(SPACING)
    assert cube["mesh"].volume == pytest.approx(voxels, rel=0.25)
    assert cube["mesh"].volume < voxels


def test_only_empty_segments_are_422(cube_and_nothing):
    context, seg_id = cube_and_nothing
    with pytest.raises(UnprocessableError, match="every asked segment is empty"):
        source_models_3mf(seg_id, (2,), MeshOptions(), context)


def test_unknown_segments_are_400(cube_and_nothing):
    context, seg_id = cube_and_nothing
    with pytest.raises(BadRequestError, match="Unknown segment numbers"):
        source_models_3mf(seg_id, (1, 7), MeshOptions(), context)
