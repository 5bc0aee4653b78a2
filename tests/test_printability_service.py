"""The printability reports of stored models on the in-memory host: kept with each model as it
is stored, answered from there, and computed from the STL where the host kept none."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from segmesh.demo import DemoStudy
from segmesh.errors import NotFoundError, UnsupportedError
from segmesh.mesh import MeshOptions, Smoothing
from segmesh.service.cache import LabelMapCache
from segmesh.service.host import HostError, read_json_metadata
from segmesh.service.tasks.context import TaskContext
from segmesh.service.tasks.models import StoreOptions, store_source_models
from segmesh.service.tasks.printability import PRINTABILITY_METADATA, stored_printability
from segmesh.service.workers import WorkerPool
from segmesh.settings import Settings
from tests.memory_host import InMemoryHost
from tests.test_service import store_demo

OPTIONS = StoreOptions(MeshOptions(Smoothing.NONE, 0), (1, 5), False, {})


class RefusingHost(InMemoryHost):
    """A host whose database takes no printability metadata (say, an older index)."""

    def write_metadata(
        self, level: str, identifier: str, key: int, value: bytes, etag: str | None
    ) -> bool:
        if key == PRINTABILITY_METADATA:
            raise HostError("Orthanc refused the metadata", f"{key}")
        return super().write_metadata(level, identifier, key, value, etag)


def context_of(host: InMemoryHost) -> TaskContext:
    return TaskContext(Settings.from_configuration({}), WorkerPool(0), LabelMapCache(256), host)


def test_each_stored_model_keeps_its_report(tmp_path: Path, demo_study: DemoStudy) -> None:
    host = InMemoryHost(tmp_path / "storage")
    context = context_of(host)
    seg_id = store_demo(host, demo_study)
    answer = store_source_models(seg_id, OPTIONS, context)
    for item in answer["Instances"]:
        kept = read_json_metadata(host, "instances", item["ID"], PRINTABILITY_METADATA)
        assert kept is not None
        assert kept == item["Printability"]
        assert stored_printability(item["ID"], context) == {**kept, "Source": "model"}
    # Asked again, Orthanc keeps the models it holds, and their reports as they were.
    again = store_source_models(seg_id, OPTIONS, context)
    assert [i["Printability"] for i in again["Instances"]] == [
        i["Printability"] for i in answer["Instances"]
    ]
    with pytest.raises(UnsupportedError):
        stored_printability(seg_id, context)
    with pytest.raises(NotFoundError):
        stored_printability("no-such-instance", context)


def test_a_host_refusing_the_report_keeps_the_models(
    tmp_path: Path, demo_study: DemoStudy, caplog: pytest.LogCaptureFixture
) -> None:
    host = RefusingHost(tmp_path / "storage")
    context = context_of(host)
    seg_id = store_demo(host, demo_study)
    with caplog.at_level(logging.WARNING, "segmesh.service.tasks.printability"):
        answer = store_source_models(seg_id, OPTIONS, context)
    assert [i["Segment"] for i in answer["Instances"]] == [1, 5]
    assert sum("was not kept" in r.getMessage() for r in caplog.records) == 2
    for item in answer["Instances"]:
        assert host.exists("instances", item["ID"])
        computed = stored_printability(item["ID"], context)
        assert computed["Source"] == "stl"
        assert computed["ThinnestWallMm"] is None
        report = item["Printability"]
        for key in ("Closed", "Manifold", "OutwardNormals", "Bodies"):
            assert computed[key] == report[key]
        assert computed["VolumeMl"] == pytest.approx(report["VolumeMl"], abs=2e-3)
        assert computed["BoundsMm"]["Max"] == pytest.approx(report["BoundsMm"]["Max"], abs=1e-3)
