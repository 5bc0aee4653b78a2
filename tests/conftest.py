"""Shared fixtures: one real Orthanc with segmesh for the whole session, and the demo study."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from io import BytesIO
from pathlib import Path

import pytest
from pydicom.dataset import Dataset

from segmesh.demo import DemoStudy, make_demo_study
from tests.orthanc_server import OrthancServer


@pytest.fixture(scope="session")
def orthanc_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OrthancServer]:
    server = OrthancServer(tmp_path_factory.mktemp("orthanc"))
    server.start()
    request.config.segmesh_versions = server.versions()  # type: ignore[attr-defined]
    yield server
    server.stop()
    assert "Traceback" not in server.log(), "Orthanc logged a Python traceback"


@pytest.fixture
def orthanc(orthanc_server: OrthancServer) -> Iterator[OrthancServer]:
    """The shared Orthanc, checked to be alive after each test."""
    yield orthanc_server
    assert orthanc_server.is_running(), f"Orthanc stopped:\n{orthanc_server.log()[-3000:]}"


@pytest.fixture(scope="session")
def demo_study() -> DemoStudy:
    return make_demo_study()


def encode(dataset: Dataset) -> bytes:
    """A dataset as a Part-10 file."""
    buffer = BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


@pytest.fixture(scope="session")
def demo_ids(orthanc_server: OrthancServer, demo_study: DemoStudy) -> dict[str, str]:
    """Orthanc ids of the demo objects: "SEG", "RTSTRUCT", "CTSeries", "Study"."""
    image_ids = [orthanc_server.upload(encode(image)) for image in demo_study.images]
    seg_id = orthanc_server.upload(encode(demo_study.seg))
    rtstruct_id = orthanc_server.upload(encode(demo_study.rtstruct))
    instance = orthanc_server.get(f"/instances/{image_ids[0]}").json()
    return {
        "SEG": seg_id,
        "RTSTRUCT": rtstruct_id,
        "CTSeries": instance["ParentSeries"],
        "Study": orthanc_server.get(f"/series/{instance['ParentSeries']}").json()["ParentStudy"],
    }


@pytest.fixture(scope="session")
def upload_folder(orthanc_server: OrthancServer) -> Callable[[Path], list[str]]:
    """Uploads every .dcm (or extension-less DICOM) file of a folder; returns their ids."""

    def upload(folder: Path) -> list[str]:
        return [
            orthanc_server.upload(path)
            for path in sorted(folder.rglob("*"))
            if path.is_file() and path.suffix in ("", ".dcm", ".seg")
        ]

    return upload


def pytest_configure(config: pytest.Config) -> None:
    """Lines tests report at the end of the run (say, the fuzz test's counts)."""
    config.segmesh_reports = []  # type: ignore[attr-defined]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """What tests reported, and which Orthanc, orthanc-python and Python this run tested."""
    for line in getattr(terminalreporter.config, "segmesh_reports", []):
        terminalreporter.write_line(line)
    versions = getattr(terminalreporter.config, "segmesh_versions", None)
    if versions:
        terminalreporter.write_line(f"segmesh tested on {versions}")
