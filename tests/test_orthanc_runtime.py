"""The adapter on the running Orthanc: one code path whatever orthanc-python offers.

Runs unchanged on Orthanc 1.10.1 / orthanc-python 4.0 and on 1.12.7 / 5.0 (``make test-compat``).
"""

from __future__ import annotations

import pytest

from tests.orthanc_server import OrthancServer


def plugin_version(orthanc: OrthancServer) -> tuple[int, ...]:
    version = orthanc.get("/plugins/python").json()["Version"]
    return tuple(int(part) for part in version.split(".")[:2])


def test_the_log_names_the_variant_the_running_plugin_offers(orthanc: OrthancServer) -> None:
    # NEWS of orthanc-python: 4.2 changed SendHttpStatus; the start-up line must say which form
    # is in use, and that must be the right one for the plugin actually loaded.
    expected = "4.2 or newer" if plugin_version(orthanc) >= (4, 2) else "4.0/4.1"
    lines = [line for line in orthanc.log().splitlines() if "segmesh" in line and "loaded" in line]
    assert len(lines) == 1, lines
    assert f"orthanc-python {expected}" in lines[0]


@pytest.mark.parametrize(
    ("sent", "received"),
    [
        # requests percent-encodes these: %2525%2C%2B arrives as the three characters again.
        ({"outline": "%25,+"}, "'%25,+'"),
        ({"outline": "100%"}, "'100%'"),
    ],
)
def test_query_values_are_decoded_exactly_once(
    orthanc: OrthancServer,
    demo_ids: dict[str, str],
    sent: dict[str, str],
    received: str,
) -> None:
    image_id = orthanc.get(f"/series/{demo_ids['CTSeries']}").json()["Instances"][0]
    response = orthanc.get(
        f"/instances/{demo_ids['SEG']}/segmesh/overlay/{image_id}.png", params=sent
    )
    assert response.status_code == 400
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json()["Error"] == "Bad parameter outline"
    assert response.json()["Details"].startswith(received)


def test_a_plus_in_the_query_string_is_a_space(
    orthanc: OrthancServer, demo_ids: dict[str, str]
) -> None:
    # As browsers' URLSearchParams write it: "a b" becomes a+b.
    image_id = orthanc.get(f"/series/{demo_ids['CTSeries']}").json()["Instances"][0]
    response = orthanc.get(
        f"/instances/{demo_ids['SEG']}/segmesh/overlay/{image_id}.png?outline=a+b%2Bc"
    )
    assert response.status_code == 400
    assert response.json()["Details"].startswith("'a b+c'")


@pytest.mark.parametrize(
    ("path", "status", "error"),
    [
        ("/instances/0000/segmesh/segments", 404, "Unknown instance"),
        ("/segmesh/app/no-such-file.js", 404, "Unknown file"),
    ],
)
def test_error_answers_keep_their_status_and_json_body(
    orthanc: OrthancServer, path: str, status: int, error: str
) -> None:
    response = orthanc.get(path)
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json()["Error"] == error
    assert "HttpError" not in response.json()
