"""Every segmesh route, as registered, answers 401 without credentials and works with them.

The route table is collected by running :func:`segmesh.orthanc.register` against a recording
stand-in ``orthanc`` module, then each pattern is instantiated with ids of a second Orthanc
that has ``AuthenticationEnabled`` and is asked with every method the route accepts.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import sys
import types
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from segmesh.demo import DemoStudy
from tests.conftest import encode
from tests.orthanc_server import OrthancServer, free_port
from tests.test_stl import demo_nifti

USER = ("user", "pw")
GROUP = re.compile(r"\([^)]*\)")


class RecordingOrthanc(types.ModuleType):
    """Just enough of ``orthanc`` for :func:`segmesh.orthanc.register`, recording routes."""

    class OrthancException(Exception):  # noqa: N818 (the SDK's name)
        pass

    def __init__(self) -> None:
        super().__init__("orthanc")
        self.routes: list[tuple[str, Any]] = []

    def GetConfiguration(self) -> str:  # noqa: N802 (the SDK's names)
        # A port nobody listens on: segmesh's start waits for Orthanc there, in vain.
        return json.dumps({"HttpPort": free_port()})

    def RegisterRestCallback(self, pattern: str, callback: Any) -> None:  # noqa: N802
        self.routes.append((pattern, callback))

    def ExtendOrthancExplorer(self, script: str) -> None:  # noqa: N802
        pass

    def SetRootUri(self, uri: str) -> None:  # noqa: N802
        pass

    def GenerateRestApiAuthorizationToken(self) -> str:  # noqa: N802
        return "Bearer stand-in"

    def LogWarning(self, message: str) -> None:  # noqa: N802
        pass

    LogError = LogInfo = LogWarning


@pytest.fixture
def registered_routes() -> Iterator[list[tuple[str, tuple[str, ...]]]]:
    """(pattern, methods) of every route segmesh registers, imported afresh on the stand-in."""
    saved = {name: module for name, module in sys.modules.items() if _adapter(name)}
    for name in saved:
        del sys.modules[name]
    stand_in = RecordingOrthanc()
    sys.modules["orthanc"] = stand_in
    try:
        import segmesh.orthanc

        segmesh.orthanc.register()
        yield [(pattern, callback.methods) for pattern, callback in stand_in.routes]
    finally:
        for name in [name for name in sys.modules if _adapter(name)]:
            del sys.modules[name]
        sys.modules.update(saved)
        # register() sends the segmesh logger to the stand-in; give it back to pytest.
        logger = logging.getLogger("segmesh")
        logger.handlers.clear()
        logger.propagate = True


def _adapter(name: str) -> bool:
    return name == "orthanc" or name.startswith("segmesh.orthanc")


@pytest.fixture(scope="module")
def secured(
    tmp_path_factory: pytest.TempPathFactory, demo_study: DemoStudy
) -> Iterator[tuple[OrthancServer, dict[str, str]]]:
    """An Orthanc with authentication, holding the demo study and one stored model."""
    server = OrthancServer(
        tmp_path_factory.mktemp("orthanc-auth"),
        {"AuthenticationEnabled": True, "RegisteredUsers": {USER[0]: USER[1]}},
    )
    server.session.auth = USER
    server.start()
    images = [server.upload(encode(image)) for image in demo_study.images]
    seg = server.upload(encode(demo_study.seg))
    series = server.get(f"/instances/{images[0]}").json()["ParentSeries"]
    model = server.post(f"/instances/{seg}/segmesh/stl", json={"Segments": [1]})
    assert model.status_code == 200, model.text
    job = server.post(f"/instances/{seg}/segmesh/stl", json={"Segments": [1], "Asynchronous": True})
    assert job.status_code == 202, job.text
    ids = {
        "Job": job.json()["ID"],
        "SEG": seg,
        "Image": images[0],
        "Series": series,
        "Study": server.get(f"/series/{series}").json()["ParentStudy"],
        "Model": model.json()["Instances"][0]["ID"],
    }
    yield server, ids
    server.stop()
    assert "Traceback" not in server.log(), "Orthanc logged a Python traceback"


def _request(
    pattern: str, method: str, ids: dict[str, str], demo_study: DemoStudy
) -> tuple[str, dict[str, Any], int, str]:
    """Path, request arguments, expected status and MIME type of one registered route."""
    path = pattern.replace(r"\.", ".")
    suffix = GROUP.sub("*", path)
    cases: dict[tuple[str, str], tuple[list[str], dict[str, Any], int, str]] = {
        ("/instances/*/segmesh/segments", "GET"): ([ids["SEG"]], {}, 200, "application/json"),
        ("/instances/*/segmesh/labelmap", "GET"): (
            [ids["SEG"]],
            {"params": {"format": "npz"}},
            200,
            "application/octet-stream",
        ),
        ("/instances/*/segmesh/overlay/*.png", "GET"): (
            [ids["SEG"], ids["Image"]],
            {},
            200,
            "image/png",
        ),
        ("/instances/*/segmesh/volume", "GET"): ([ids["SEG"]], {}, 200, "application/json"),
        ("/instances/*/segmesh/volume/labels.npy", "GET"): (
            [ids["SEG"]],
            {},
            200,
            "application/octet-stream",
        ),
        ("/instances/*/segmesh/volume/image.npy", "GET"): (
            [ids["SEG"]],
            {},
            200,
            "application/octet-stream",
        ),
        ("/instances/*/segmesh/volume/planes/*.npy", "GET"): (
            [ids["SEG"], "image"],
            {"params": {"voxel": "1,2,3"}},
            200,
            "application/octet-stream",
        ),
        ("/instances/*/segmesh/stl", "GET"): (
            [ids["SEG"]],
            {"params": {"segment": "2", "smoothing": "none"}},
            200,
            "model/stl",
        ),
        ("/instances/*/segmesh/stl", "POST"): (
            [ids["SEG"]],
            {"json": {"Segments": [3], "Smoothing": "none"}},
            200,
            "application/json",
        ),
        ("/instances/*/segmesh/model", "GET"): ([ids["Model"]], {}, 200, "model/stl"),
        ("/instances/*/segmesh/printability", "GET"): (
            [ids["Model"]],
            {},
            200,
            "application/json",
        ),
        ("/series/*/segmesh/stl", "POST"): (
            [ids["Series"]],
            {"json": {"Threshold": 100, "KeepLargest": 1, "Smoothing": "none"}},
            200,
            "application/json",
        ),
        ("/series/*/segmesh/stl", "GET"): (
            [ids["Series"]],
            {"params": {"threshold": "100", "step": "2", "smoothing": "none"}},
            200,
            "model/stl",
        ),
        ("/series/*/segmesh/histogram", "GET"): (
            [ids["Series"]],
            {"params": {"bins": "16"}},
            200,
            "application/json",
        ),
        ("/studies/*/segmesh/nifti-stl", "POST"): (
            [ids["Study"]],
            {
                "json": {
                    "Nifti": base64.b64encode(demo_nifti(demo_study)).decode(),
                    "Labels": {"1": "Liver"},
                    "Smoothing": "none",
                }
            },
            200,
            "application/json",
        ),
        ("/series/*/segmesh/import", "POST"): (
            [ids["Series"]],
            {
                "data": demo_nifti(demo_study),
                "headers": {"X-SegMesh-Fields": '{"To": "LABELMAP", "Segments": {"1": "Liver"}}'},
            },
            200,
            "application/json",
        ),
        ("/instances/*/segmesh/statistics", "GET"): ([ids["SEG"]], {}, 200, "application/json"),
        ("/instances/*/segmesh/convert", "POST"): (
            [ids["SEG"]],
            {"json": {"To": "RTSTRUCT", "Segments": [1]}},
            200,
            "application/json",
        ),
        ("/instances/*/segmesh/status", "GET"): ([ids["SEG"]], {}, 200, "application/json"),
        ("/segmesh/jobs", "GET"): ([], {}, 200, "application/json"),
        ("/segmesh/query-probe", "GET"): (
            [],
            {"params": {"value": "%2B"}},
            200,
            "application/json",
        ),
        ("/segmesh/jobs/*", "GET"): ([ids["Job"]], {}, 200, "application/json"),
        ("/segmesh/jobs/*", "DELETE"): ([ids["Job"]], {}, 200, "application/json"),
        ("/segmesh/datasets", "POST"): (
            [],
            {"json": {"Resources": [ids["SEG"]]}},
            202,
            "application/json",
        ),
        # A model job has no output file: the route answers, in JSON, that it has none.
        ("/segmesh/jobs/*/output", "GET"): ([ids["Job"]], {}, 404, "application/json"),
        ("/segmesh/app/*", "GET"): (["viewer.html"], {}, 200, "text/html"),
    }
    assert (suffix, method) in cases, f"no request written for {method} {pattern}"
    values, arguments, status, mime_type = cases[(suffix, method)]
    for value in values:
        path = GROUP.sub(value, path, count=1)
    return path, arguments, status, mime_type


def test_every_registered_route_needs_credentials(
    registered_routes: list[tuple[str, tuple[str, ...]]],
    secured: tuple[OrthancServer, dict[str, str]],
    demo_study: DemoStudy,
) -> None:
    server, ids = secured
    walked = 0
    for pattern, methods in registered_routes:
        for method in methods:
            path, arguments, status, mime_type = _request(pattern, method, ids, demo_study)
            url = f"{server.url}{path}"
            anonymous = requests.request(method, url, timeout=120, **arguments)
            assert anonymous.status_code == 401, f"{method} {path}: {anonymous.status_code}"
            wrong = requests.request(method, url, auth=("user", "no"), timeout=120, **arguments)
            assert wrong.status_code == 401, f"{method} {path} with a wrong password"
            answer = requests.request(method, url, auth=USER, timeout=300, **arguments)
            assert answer.status_code == status, f"{method} {path}: {answer.text[:300]}"
            assert answer.headers["Content-Type"].startswith(mime_type), path
            if mime_type == "application/json":
                json.loads(answer.content)
            walked += 1
    assert walked == sum(len(methods) for _, methods in registered_routes)
    # segments, labelmap, statistics, overlay, volume (grid, labels, image, planes), stl (GET,
    # POST), model, printability, series stl (GET, POST), series histogram, nifti-stl, convert,
    # import, jobs, job (GET, DELETE), status, app, the query-decoding probe, datasets, a job's
    # output.
    assert len(registered_routes) == 23
    assert walked == 26
