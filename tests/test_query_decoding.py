"""Query arguments decoded exactly once whatever the running Orthanc does (unit tests of
``segmesh.orthanc.query``, on a stand-in loopback; the real Orthancs are in
``test_orthanc_runtime.py``)."""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from tests.test_access_control import RecordingOrthanc, _adapter


class ProbedLoopback:
    """Answers the probe as an Orthanc that decodes (``received`` "+") or not ("%2B") would;
    ``None`` refuses the connection."""

    def __init__(self, received: str | None) -> None:
        self.received = received
        self.asked: list[str] = []

    def open(self, method: str, path: str) -> io.BytesIO:
        self.asked.append(f"{method} {path}")
        if self.received is None:
            raise ConnectionRefusedError("nobody listens")
        return io.BytesIO(json.dumps({"Value": self.received}).encode())


@pytest.fixture
def query_module() -> Iterator[Any]:
    """``segmesh.orthanc.query``, imported on a stand-in ``orthanc`` module."""
    saved = {name: module for name, module in sys.modules.items() if _adapter(name)}
    for name in saved:
        del sys.modules[name]
    sys.modules["orthanc"] = RecordingOrthanc()
    try:
        import segmesh.orthanc.query

        yield segmesh.orthanc.query
    finally:
        for name in [name for name in sys.modules if _adapter(name)]:
            del sys.modules[name]
        sys.modules.update(saved)


@pytest.mark.parametrize(
    ("received", "raw", "meant"),
    [
        # Orthanc 1.13 decodes: what arrives is what the client meant.
        ("+", {"outline": "%, ", "a+b": "1"}, {"outline": "%, ", "a+b": "1"}),
        # Orthanc 1.10 and 1.12 do not: segmesh decodes, "+" a space and %2B a plus.
        ("%2B", {"outline": "%25%2C+", "a%2Bb": "1"}, {"outline": "%, ", "a+b": "1"}),
    ],
)
def test_arguments_are_decoded_once_as_the_probe_says(
    query_module: Any, received: str, raw: dict[str, str], meant: dict[str, str]
) -> None:
    loopback = ProbedLoopback(received)
    decoding = query_module.QueryDecoding(loopback, lambda: "unused")
    assert decoding.decode(raw) == meant
    assert decoding.decode(raw) == meant
    assert loopback.asked == ["GET /segmesh/query-probe?value=%2B"]


def test_plain_arguments_need_no_probe(query_module: Any) -> None:
    loopback = ProbedLoopback("+")
    decoding = query_module.QueryDecoding(loopback, lambda: "unused")
    assert decoding.decode({"segments": "1,4", "format": "npz"}) == {
        "segments": "1,4",
        "format": "npz",
    }
    assert loopback.asked == []


@pytest.mark.parametrize(("version", "decoded"), [("1.10.1", False), ("1.13.0", True)])
def test_where_the_probe_fails_the_version_decides_with_a_warning(
    query_module: Any, caplog: pytest.LogCaptureFixture, version: str, decoded: bool
) -> None:
    decoding = query_module.QueryDecoding(ProbedLoopback(None), lambda: version)
    with caplog.at_level(logging.WARNING, logger="segmesh"):
        assert decoding.decoded_by_orthanc() is decoded
    assert "could not be probed" in caplog.text
