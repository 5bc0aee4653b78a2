"""A bounded load on loopback: 8 clients send the mixed load of :mod:`tests.mixed_load`
(segment tables, npz label maps, overlays, single-segment meshes) over the demo SEG, the demo
RT-STRUCT and a 100-segment SEG for ``SEGMESH_LOAD_SECONDS`` (40 by default; the issue's full
run is 120). Every answer is right, and Orthanc's resident memory (Orthanc and its worker
processes) after the run is within 1.2x of its value after a warm-up of the same mix.

The per-route percentiles are printed at the end of the run; they are never pass/fail.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from segmesh.demo import DemoStudy
from tests import builders
from tests.conftest import encode
from tests.mixed_load import ROUTES, MixedLoad, load_source, warm_up_seconds
from tests.orthanc_server import OrthancServer

LOAD_SECONDS = float(os.environ.get("SEGMESH_LOAD_SECONDS", "40"))
WARM_SECONDS = warm_up_seconds(LOAD_SECONDS)
CLIENTS = 8
MEMORY_GROWTH = 1.2


def test_mixed_load_answers_right_and_holds_its_memory(
    tmp_path: Path, demo_study: DemoStudy, request: pytest.FixtureRequest
) -> None:
    server = OrthancServer(tmp_path, {"SegMesh": {"Workers": 2}})
    server.start()
    try:
        images, seg, _ = builders.lattice_seg_study((40, 64, 64), (1.0, 1.0, 2.0), (0, 0, 0))
        for image in [*demo_study.images, *images]:
            server.upload(encode(image))
        ids = {
            "demo SEG": server.upload(encode(demo_study.seg)),
            "demo RT-STRUCT": server.upload(encode(demo_study.rtstruct)),
            "100-segment SEG": server.upload(encode(seg)),
        }
        sources = [load_source(server, name, instance_id) for name, instance_id in ids.items()]
        assert [len(source.meshable) for source in sources] == [
            len(demo_study.seg.SegmentSequence),
            len(demo_study.masks),
            100,
        ]
        load = MixedLoad(server, sources)
        first = load.warm()
        warm_up = load.run(CLIENTS, WARM_SECONDS, seed=1)
        warm_kb, warm_orthanc_kb = server.resident_kilobytes(), server.resident_kilobytes(False)
        result = load.run(CLIENTS, LOAD_SECONDS, seed=2)
        after_kb, after_orthanc_kb = server.resident_kilobytes(), server.resident_kilobytes(False)
    finally:
        server.stop()
    reports = request.config.segmesh_reports  # type: ignore[attr-defined]
    reports.append(
        f"mixed load, {CLIENTS} clients, {len(sources)} sources, {LOAD_SECONDS:.0f} s after a "
        f"{WARM_SECONDS:.0f} s warm-up (SEGMESH_LOAD_SECONDS):"
    )
    reports += [f"  {line}" for line in result.table()]
    reports.append(
        f"  resident memory of Orthanc and its worker processes (VmRSS): after warm-up "
        f"{warm_kb / 1024:.0f} MB, after the run {after_kb / 1024:.0f} MB "
        f"({after_kb / warm_kb:.2f}x); Orthanc alone {warm_orthanc_kb / 1024:.0f} MB, "
        f"{after_orthanc_kb / 1024:.0f} MB"
    )
    errors = first.errors + warm_up.errors + result.errors
    assert not errors, f"{len(errors)} wrong answers, first: {errors[:10]}"
    assert all(result.times[route] for route in ROUTES)
    assert after_kb <= MEMORY_GROWTH * warm_kb, reports[-1]
    assert "Traceback" not in server.log()
