"""A new model's printability report created by one in-process call (unit tests of
``OrthancHost.create_metadata`` on a stand-in ``orthanc`` answering as Orthanc does with
``CheckRevisions``; the real Orthancs are in ``test_printability_routes.py``)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from segmesh.errors import NotFoundError
from segmesh.service.host import HostError, Revisioned
from tests.test_access_control import RecordingOrthanc, _adapter

KNOWN = "model-1"
PATH = f"/instances/{KNOWN}/metadata/4604"


class MetadataOrthanc(RecordingOrthanc):
    """Orthanc's metadata PUT without ``If-Match`` under ``CheckRevisions``: it creates, and
    refuses (error 43) where a value exists; an unknown instance is error 17."""

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, bytes] = {}
        self.puts: list[str] = []

    def RestApiPut(self, path: str, body: bytes) -> bytes:  # noqa: N802 (the SDK's name)
        self.puts.append(path)
        if not path.startswith(f"/instances/{KNOWN}/"):
            raise self.OrthancException(17, "Unknown resource")
        if path.endswith("/4605"):
            raise self.OrthancException(1, "Internal error")
        if path in self.values:
            raise self.OrthancException(43, "A bad revision number was provided")
        self.values[path] = body
        return b""


class LoopbackWrites:
    """The loopback client's reads and compare-and-set writes, on the stand-in's values."""

    def __init__(self, orthanc: MetadataOrthanc) -> None:
        self.orthanc = orthanc
        self.loopback = None
        self.writes: list[tuple[str, str | None]] = []

    def read(self, path: str) -> Revisioned | None:
        value = self.orthanc.values.get(path)
        return None if value is None else Revisioned(value, '"1"')

    def write(self, path: str, value: bytes, etag: str | None) -> bool:
        self.writes.append((path, etag))
        self.orthanc.values[path] = value
        return True


@pytest.fixture
def stand_in() -> Iterator[tuple[MetadataOrthanc, Any]]:
    """The stand-in ``orthanc`` and ``segmesh.orthanc.host`` imported on it."""
    saved = {name: module for name, module in sys.modules.items() if _adapter(name)}
    for name in saved:
        del sys.modules[name]
    orthanc = MetadataOrthanc()
    sys.modules["orthanc"] = orthanc
    try:
        import segmesh.orthanc.host

        yield orthanc, segmesh.orthanc.host
    finally:
        for name in [name for name in sys.modules if _adapter(name)]:
            del sys.modules[name]
        sys.modules.update(saved)


def test_created_once_in_process_then_refused(stand_in: tuple[MetadataOrthanc, Any]) -> None:
    orthanc, module = stand_in
    writes = LoopbackWrites(orthanc)
    host = module.OrthancHost(writes)
    assert host.create_metadata("instances", KNOWN, 4604, b'{"Bodies": 1}') is True
    assert host.create_metadata("instances", KNOWN, 4604, b'{"Bodies": 2}') is False
    assert orthanc.values == {PATH: b'{"Bodies": 1}'}
    assert orthanc.puts == [PATH, PATH]
    assert writes.writes == []  # nothing over the loopback
    with pytest.raises(NotFoundError):
        host.create_metadata("instances", "gone", 4604, b"{}")
    with pytest.raises(HostError, match="Internal error"):
        host.create_metadata("instances", KNOWN, 4605, b"{}")


def test_a_report_kept_before_is_replaced_over_the_loopback(
    stand_in: tuple[MetadataOrthanc, Any],
) -> None:
    from segmesh.mesh.printability import Printability
    from segmesh.service.tasks.printability import keep_printability

    orthanc, module = stand_in
    writes = LoopbackWrites(orthanc)
    host = module.OrthancHost(writes)
    orthanc.values[PATH] = b"{}"  # another request's report, as if created meanwhile
    report = Printability(True, True, True, 1, 1.5, 7.0, (0.0, 0.0, 0.0), (1.0, 2.0, 3.0), None)
    keep_printability(host, KNOWN, report, new=True)
    # Refused in process (it exists), then read and replaced by compare-and-set.
    assert orthanc.puts == [PATH]
    assert writes.writes == [(PATH, '"1"')]
    assert json.loads(orthanc.values[PATH]) == report.to_json()
