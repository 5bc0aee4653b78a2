"""Bad input is never a 500: real SEG and RT-STRUCT files, mutated, sent to every route.

Each case is a mutation (:mod:`tests.fuzz_mutations`) of a real file, stored in an Orthanc of
its own (a refusal by Orthanc counts as an answer) and sent to every route that reads a source.
Every answer must be a result or a 4xx JSON error. ``SEGMESH_FUZZ_CASES`` sets the number of
cases (300 by default); the seed is fixed (``derandomize``), so a run repeats the last.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from pydicom import dcmread
from pydicom.dataset import Dataset

from segmesh.demo import make_demo_study
from tests.conftest import encode
from tests.fuzz_mutations import explicit_little_endian, mutate
from tests.orthanc_server import OrthancServer
from tests.testdata import TESTDATA

CASES = int(os.environ.get("SEGMESH_FUZZ_CASES", "300"))

#: Third-party sources (file, folder of its images), used where the shared test data exist.
THIRD_PARTY = (
    ("dcmqi/segmentations/liver.dcm", "dcmqi/segmentations/ct-3slice"),
    ("highdicom/seg_image_ct_binary.dcm", "pydicom/dicomdirtests/77654033/CT2"),
    ("highdicom/seg_image_ct_binary_overlap.dcm", "pydicom/dicomdirtests/77654033/CT2"),
    ("rt-utils/mock_data/rt.dcm", "rt-utils/mock_data"),
    ("DicomRTTool/AnonDICOM", "DicomRTTool/AnonDICOM"),
)


@dataclass(frozen=True)
class Base:
    """A real source to mutate, with an image of its series for the overlay route."""

    name: str
    dataset: Dataset
    image_id: str
    segment: int


@dataclass
class Fuzz:
    server: OrthancServer
    bases: list[Base]
    statuses: Counter[str]
    failures: list[str]


def _first_segment(dataset: Dataset) -> int:
    items = dataset.get("SegmentSequence") or dataset.get("StructureSetROISequence")
    return int(items[0].get("SegmentNumber", items[0].get("ROINumber", 1)))


def _bases(server: OrthancServer) -> list[Base]:
    demo = make_demo_study()
    image_ids = [server.upload(encode(image)) for image in demo.images]
    bases = [
        Base("demo SEG", explicit_little_endian(demo.seg), image_ids[0], 1),
        Base("demo RT-STRUCT", explicit_little_endian(demo.rtstruct), image_ids[0], 1),
    ]
    for source, folder in THIRD_PARTY:
        if not (TESTDATA / source).exists():
            continue
        path = TESTDATA / source
        if path.is_dir():
            path = next(path.glob("RS*.dcm"))
        images = [
            p for p in sorted((TESTDATA / folder).iterdir()) if p.is_file() and p.name[:2] != "RS"
        ]
        ids = [server.upload(p) for p in images if p != path and p.name != "rt.dcm"]
        dataset = explicit_little_endian(dcmread(path))
        bases.append(Base(Path(source).name, dataset, ids[0], _first_segment(dataset)))
    return bases


@pytest.fixture(scope="module")
def fuzz(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fuzz]:
    """An Orthanc of its own (the cases would crowd the shared one), with the sources' images."""
    server = OrthancServer(tmp_path_factory.mktemp("orthanc-fuzz"))
    server.start()
    yield Fuzz(server, _bases(server), Counter(), [])
    server.stop()
    assert "Traceback" not in server.log(), "Orthanc logged a Python traceback"


def _routes(instance_id: str, base: Base) -> list[tuple[str, str, dict[str, Any] | None]]:
    """(method, path, JSON body) of every route that reads a source."""
    root = f"/instances/{instance_id}/segmesh"
    labelmaps = [("GET", f"{root}/labelmap?format={f}", None) for f in ("nifti", "nrrd", "npz")]
    return [
        ("GET", f"{root}/segments", None),
        *labelmaps,
        ("GET", f"{root}/labelmap?format=hdf5&grid=native", None),
        ("GET", f"{root}/overlay/{base.image_id}.png", None),
        ("GET", f"{root}/stl?segment={base.segment}&smoothing=none", None),
        ("POST", f"{root}/stl", {"Segments": [base.segment], "Smoothing": "none"}),
    ]


def _check(response: requests.Response) -> str | None:
    """What is wrong with an answer, or None: a result, or a 4xx JSON error."""
    if response.status_code >= 500:
        return f"{response.status_code} {response.text[:300]}"
    if 400 <= response.status_code < 500:
        try:
            error = response.json()
        except ValueError:
            return f"{response.status_code} not JSON: {response.text[:200]}"
        if not {"Error", "Details"} <= set(error):
            return f"{response.status_code} without Error and Details: {error}"
    elif not response.content:
        return f"{response.status_code} with an empty body"
    return None


@settings(
    max_examples=CASES,
    derandomize=True,
    deadline=None,
    database=None,
    phases=[Phase.generate],  # failures are collected, not shrunk: the time stays bounded
    suppress_health_check=list(HealthCheck),
)
@given(data=st.data())
def run_case(fuzz: Fuzz, data: st.DataObject) -> None:
    """One case: mutate, store, ask every route; record statuses and failures."""
    base = data.draw(st.sampled_from(fuzz.bases), label="base")
    mutation, body = mutate(data, base.dataset)
    server = fuzz.server
    stored = server.session.post(f"{server.url}/instances", data=body, timeout=120)
    fuzz.statuses["cases"] += 1
    if stored.status_code != 200:
        fuzz.statuses[f"refused by Orthanc {stored.status_code}"] += 1
        if stored.status_code >= 500:
            fuzz.failures.append(f"{base.name} {mutation}: upload {stored.status_code}")
        return
    instance_id = stored.json()["ID"]

    def ask(route: tuple[str, str, dict[str, Any] | None]) -> tuple[str, str | None, int]:
        method, path, json = route
        response = server.session.request(method, f"{server.url}{path}", json=json, timeout=300)
        return path, _check(response), response.status_code

    # Two at a time: Orthanc's HTTP threads overlap the work that releases the GIL.
    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(ask, _routes(instance_id, base)))
    for path, problem, status in answers:
        fuzz.statuses[str(status)] += 1
        if problem is not None:
            fuzz.failures.append(f"{base.name} {mutation} {path.split('/segmesh/')[1]}: {problem}")
    server.session.delete(f"{server.url}/instances/{instance_id}", timeout=60)


def test_mutated_sources_never_answer_500(fuzz: Fuzz, request: pytest.FixtureRequest) -> None:
    run_case(fuzz)
    counts = ", ".join(f"{key}: {value}" for key, value in sorted(fuzz.statuses.items()))
    request.config.segmesh_reports.append(  # type: ignore[attr-defined]
        f"fuzz: {CASES} cases over {len(fuzz.bases)} sources; answers {counts}"
    )
    assert fuzz.server.is_running(), f"Orthanc stopped:\n{fuzz.server.log()[-3000:]}"
    assert not fuzz.failures, "\n".join(sorted(set(fuzz.failures))[:40])
    assert fuzz.statuses["cases"] >= CASES
