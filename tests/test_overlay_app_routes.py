"""GET /segmesh/app/…: the viewer's static files, and nothing outside the app folder."""

from __future__ import annotations

import http.client
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.orthanc_server import OrthancServer

APP_DIR = Path(__file__).resolve().parents[1] / "plugin" / "segmesh" / "app"
SECRET = Path(__file__).resolve().parents[1] / "plugin" / "segmesh" / "overlay.py"


def raw_get(orthanc: OrthancServer, path: str) -> tuple[int, bytes]:
    """GET ``path`` exactly as written (no client-side normalisation of dot segments)."""
    connection = http.client.HTTPConnection(urlsplit(orthanc.url).netloc, timeout=60)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


@pytest.mark.parametrize(
    ("name", "mime_type"),
    [
        ("viewer.html", "text/html"),
        ("viewer.js", "text/javascript"),
        ("viewer.css", "text/css"),
        ("node_modules/three/build/three.module.js", "text/javascript"),
        ("node_modules/three/examples/jsm/loaders/STLLoader.js", "text/javascript"),
    ],
)
def test_app_files_are_served(orthanc: OrthancServer, name: str, mime_type: str) -> None:
    response = orthanc.get(f"/segmesh/app/{name}")
    assert response.status_code == 200, name
    assert response.headers["Content-Type"].startswith(mime_type)
    assert response.content == (APP_DIR / name).read_bytes()


def test_three_is_the_pinned_version(orthanc: OrthancServer) -> None:
    package = orthanc.get("/segmesh/app/node_modules/three/package.json").json()
    lock = orthanc.get("/segmesh/app/package-lock.json").json()
    assert package["version"] == lock["packages"]["node_modules/three"]["version"]


CLIMBS = [
    "../overlay.py",
    "..%2foverlay.py",
    "%2e%2e/overlay.py",
    "%2e%2e%2foverlay.py",
    ".%2e/overlay.py",
    "%252e%252e%252foverlay.py",
    "%25252e%25252e%25252foverlay.py",
    "..%5coverlay.py",
    "..\\overlay.py",
    "node_modules/three/../../../overlay.py",
    "node_modules/three/%2e%2e/%2e%2e/%2e%2e/overlay.py",
    "%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "/etc/passwd",
    "%2fetc%2fpasswd",
    "%252fetc%252fpasswd",
    "..",
    ".",
    "",
    ".gitignore",
    "node_modules/.package-lock.json",
    "no-such-file.js",
    "node_modules",
]


@pytest.mark.parametrize("path", CLIMBS)
def test_nothing_outside_the_app_folder_is_served(orthanc: OrthancServer, path: str) -> None:
    status, body = raw_get(orthanc, f"/segmesh/app/{path}")
    assert status == 404, (path, body[:200])
    assert b"def plane_labels" not in body
    assert b"root:" not in body


def test_explorer_is_extended(orthanc: OrthancServer) -> None:
    script = orthanc.get("/plugins/explorer.js").text
    assert (APP_DIR / "explorer-extension.js").read_text() in script
