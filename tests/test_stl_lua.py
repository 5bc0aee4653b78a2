"""The sample Lua script: a stored SEG gets its STL models automatically (a second Orthanc)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from segmesh.demo import DemoStudy
from tests.conftest import encode
from tests.orthanc_server import ROOT, OrthancServer

SCRIPT = ROOT / "orthanc-config" / "lua" / "segmesh-auto-stl.lua"


@pytest.fixture
def lua_orthanc(tmp_path: Path):
    server = OrthancServer(tmp_path, {"LuaScripts": [str(SCRIPT)], "StableAge": 1})
    server.start()
    yield server
    server.stop()
    assert "Traceback" not in server.log()


def test_stored_seg_gets_models(lua_orthanc: OrthancServer, demo_study: DemoStudy):
    for image in demo_study.images:
        lua_orthanc.upload(encode(image))
    lua_orthanc.upload(encode(demo_study.seg))
    deadline = time.monotonic() + 60
    models: list[str] = []
    while time.monotonic() < deadline and len(models) < len(demo_study.masks):
        time.sleep(0.5)
        models = lua_orthanc.post(
            "/tools/find", json={"Level": "Instance", "Query": {"Modality": "M3D"}}
        ).json()
    assert len(models) == len(demo_study.masks), lua_orthanc.log()[-3000:]
    tags = lua_orthanc.get(f"/instances/{models[0]}/simplified-tags").json()
    assert tags["StudyInstanceUID"] == demo_study.seg.StudyInstanceUID
    assert "Decimate" in tags["DerivationAlgorithmSequence"][0]["AlgorithmParameters"]
    assert "STL models of SEG" in lua_orthanc.log()
