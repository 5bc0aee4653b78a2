"""The Orthanc Explorer 2 buttons of docker/orthanc-explorer-2.json, pressed against a real
Orthanc: each URL and payload, resolved as OE2 resolves it (relative to /ui/app/, {UUID} the
resource's Orthanc id), does what its tooltip says. OE2 itself is not run here."""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import nibabel as nib
import numpy as np
import pytest

from segmesh.demo import DemoStudy
from tests.conftest import encode
from tests.orthanc_server import ROOT, OrthancServer
from tests.test_jobs import wait
from tests.test_threemf import lib3mf_objects

CONFIGURATION = ROOT / "docker" / "orthanc-explorer-2.json"
#: Where OE2's pages live: its buttons' relative URLs start from here.
OE2_APP = "http://orthanc/ui/app/"


def buttons(level: str) -> dict[str, dict[str, Any]]:
    """The configured buttons of one resource level, by Id."""
    options = json.loads(CONFIGURATION.read_text())["OrthancExplorer2"]["UiOptions"]
    return {button["Id"]: button for button in options["CustomButtons"][level]}


def press(server: OrthancServer, button: dict[str, Any], uuid: str) -> Any:
    """The request OE2 sends for ``button`` on the resource ``uuid``."""
    url = urlsplit(urljoin(OE2_APP, button["Url"].replace("{UUID}", uuid)))
    path = url.path + (f"?{url.query}" if url.query else "")
    if button["HttpMethod"] == "GET":
        return server.get(path)
    return server.post(path, json=button["Payload"])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OrthancServer]:
    orthanc = OrthancServer(tmp_path_factory.mktemp("oe2"))
    orthanc.start()
    yield orthanc
    orthanc.stop()


@pytest.fixture(scope="module")
def ids(server: OrthancServer, demo_study: DemoStudy) -> dict[str, str]:
    image_id = ""
    for image in demo_study.images:
        image_id = server.upload(encode(image))
    return {
        "SEG": server.upload(encode(demo_study.seg)),
        "CTSeries": server.get(f"/instances/{image_id}").json()["ParentSeries"],
    }


def test_every_button_has_a_unique_id_and_a_segmesh_url() -> None:
    every = [b for level in ("instance", "series", "study") for b in buttons(level).values()]
    assert len({b["Id"] for b in every}) == len(every) == 6
    for button in every:
        assert "/segmesh/" in button["Url"]
        assert "{UUID}" in button["Url"]
        assert button["HttpMethod"] == "GET" or isinstance(button["Payload"], dict)


def test_the_compose_file_loads_the_buttons() -> None:
    compose = (ROOT / "docker" / "docker-compose.yml").read_text()
    assert f"./{CONFIGURATION.name}:/etc/orthanc/" in compose


def test_viewer_button_opens_the_viewer(server: OrthancServer, ids: dict[str, str]) -> None:
    response = press(server, buttons("instance")["segmesh-viewer"], ids["SEG"])
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    assert "viewer.js" in response.text


def test_labelmap_button_downloads_the_segments_voxels(
    server: OrthancServer, ids: dict[str, str], demo_study: DemoStudy
) -> None:
    response = press(server, buttons("instance")["segmesh-labelmap"], ids["SEG"])
    assert response.status_code == 200, response.text
    labels = np.asarray(nib.Nifti1Image.from_bytes(gzip.decompress(response.content)).dataobj)
    for number, mask in demo_study.masks.items():
        assert int((labels == number).sum()) == int(mask.sum())


def test_statistics_button_downloads_a_row_per_segment(
    server: OrthancServer, ids: dict[str, str], demo_study: DemoStudy
) -> None:
    response = press(server, buttons("instance")["segmesh-statistics"], ids["SEG"])
    assert response.status_code == 200, response.text
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert {int(row["Number"]): int(row["Voxels"]) for row in rows} == {
        number: int(mask.sum()) for number, mask in demo_study.masks.items()
    }


def test_3mf_button_downloads_a_named_object_per_segment(
    server: OrthancServer, ids: dict[str, str], demo_study: DemoStudy, tmp_path: Path
) -> None:
    response = press(server, buttons("instance")["segmesh-3mf"], ids["SEG"])
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("model/3mf")
    path = tmp_path / "segments.3mf"
    path.write_bytes(response.content)
    _, objects = lib3mf_objects(path)
    labels = [
        s["Label"]
        for s in server.get(f"/instances/{ids['SEG']}/segmesh/segments").json()["Segments"]
    ]
    assert [o["name"] for o in objects] == labels
    assert len(objects) == len(demo_study.masks)


def test_models_button_stores_a_model_per_segment_in_a_job(
    server: OrthancServer, ids: dict[str, str], demo_study: DemoStudy
) -> None:
    response = press(server, buttons("instance")["segmesh-models-job"], ids["SEG"])
    assert response.status_code == 202, response.text
    record = wait(server, response.json()["Path"])
    assert record["State"] == "Success", record
    instances = record["Result"]["Instances"]
    assert len(instances) == len(demo_study.masks)
    tags = server.get(f"/instances/{instances[0]['ID']}/simplified-tags").json()
    assert tags["Modality"] == "M3D"


def test_threshold_button_stores_one_model_of_the_ct_in_a_job(
    server: OrthancServer, ids: dict[str, str]
) -> None:
    response = press(server, buttons("series")["segmesh-threshold-job"], ids["CTSeries"])
    assert response.status_code == 202, response.text
    record = wait(server, response.json()["Path"])
    assert record["State"] == "Success", record
    [instance] = record["Result"]["Instances"]
    tags = server.get(f"/instances/{instance['ID']}/simplified-tags").json()
    assert tags["Modality"] == "M3D"
    assert tags["DocumentTitle"] == "Threshold >= 300, 1 largest"
