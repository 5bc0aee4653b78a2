"""GET /instances/{id}/segmesh/overlay/{imageId}.png in a real Orthanc, on the demo study."""

from __future__ import annotations

from copy import deepcopy
from io import BytesIO

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image
from pydicom.uid import UID, generate_uid

from segmesh.demo import DemoStudy
from segmesh.demo.phantom import ORGANS, ORIGIN, SLICE_THICKNESS
from tests import builders
from tests.conftest import encode
from tests.orthanc_server import OrthancServer

COLORS = {organ.number: organ.color for organ in ORGANS}


@pytest.fixture(scope="module")
def slice_images(orthanc_server: OrthancServer, demo_ids: dict[str, str]) -> dict[int, str]:
    """Slice index k of the demo grid -> Orthanc id of the CT image there (by position)."""
    images = {}
    for image_id in orthanc_server.get(f"/series/{demo_ids['CTSeries']}").json()["Instances"]:
        tags = orthanc_server.get(f"/instances/{image_id}/tags?simplify").json()
        z = float(tags["ImagePositionPatient"].split("\\")[2])
        images[round((z - ORIGIN[2]) / SLICE_THICKNESS)] = image_id
    return images


def overlay(
    orthanc: OrthancServer, source_id: str, image_id: str, query: str = ""
) -> npt.NDArray[np.uint8]:
    response = orthanc.get(f"/instances/{source_id}/segmesh/overlay/{image_id}.png{query}")
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "image/png"
    image = Image.open(BytesIO(response.content))
    assert image.mode == "RGBA"
    return np.asarray(image)


@pytest.mark.parametrize("kind", ["SEG", "RTSTRUCT"])
@pytest.mark.parametrize("k", [4, 17, 26])
def test_overlay_pixels_match_the_organs_at_the_images_position(
    orthanc: OrthancServer,
    demo_ids: dict[str, str],
    demo_study: DemoStudy,
    slice_images: dict[int, str],
    kind: str,
    k: int,
) -> None:
    rgba = overlay(orthanc, demo_ids[kind], slice_images[k], "?opacity=1")
    assert rgba.shape == (120, 160, 4)  # the CT's Rows x Columns
    assert set(np.unique(rgba[..., 3])) <= {0, 255}
    for number in demo_study.masks:
        drawn = np.all(rgba[..., :3] == COLORS[number], axis=-1) & (rgba[..., 3] == 255)
        # The kidneys share a colour: compare the union where colours coincide. The demo
        # RT-STRUCT reproduces the masks exactly, so both kinds must match them exactly.
        same = [n for n, c in COLORS.items() if c == COLORS[number]]
        np.testing.assert_array_equal(drawn, np.any([demo_study.masks[n][k] for n in same], 0))


def test_the_liver_is_drawn_at_its_centre(
    orthanc: OrthancServer,
    demo_ids: dict[str, str],
    demo_study: DemoStudy,
    slice_images: dict[int, str],
) -> None:
    # Liver centre (-30, 0, 8) mm: column (x - x0) / 0.9, row (y - y0) / 1.2, slice (z - z0) / 2.5.
    i, j, k = (
        round((-30 - ORIGIN[0]) / 0.9),
        round((0 - ORIGIN[1]) / 1.2),
        round((8 - ORIGIN[2]) / 2.5),
    )
    assert demo_study.masks[1][k, j, i]
    rgba = overlay(orthanc, demo_ids["SEG"], slice_images[k], "?opacity=0.5")
    assert tuple(rgba[j, i]) == (*COLORS[1], 128)
    assert tuple(rgba[j, 159 - i]) != (*COLORS[1], 128)  # not mirrored


def test_segments_and_outline_parameters(
    orthanc: OrthancServer,
    demo_ids: dict[str, str],
    demo_study: DemoStudy,
    slice_images: dict[int, str],
) -> None:
    k = 22
    liver = demo_study.masks[1][k]
    only_liver = overlay(orthanc, demo_ids["SEG"], slice_images[k], "?segments=1&opacity=1")
    np.testing.assert_array_equal(only_liver[..., 3] > 0, liver)
    # A browser encodes the comma; Orthanc 1.10 passes it on encoded.
    two = overlay(orthanc, demo_ids["SEG"], slice_images[k], "?segments=1%2C5&opacity=1")
    np.testing.assert_array_equal(two[..., 3] > 0, liver | demo_study.masks[5][k])
    outline = overlay(orthanc, demo_ids["SEG"], slice_images[k], "?segments=1&outline=true")
    drawn = outline[..., 3] > 0
    assert drawn.any()
    assert not drawn[~liver].any()
    assert drawn.sum() < 0.3 * liver.sum()
    assert set(np.unique(outline[..., 3])) == {0, 128}  # default opacity 0.5


def test_a_slice_without_the_segment_is_fully_transparent(
    orthanc: OrthancServer,
    demo_ids: dict[str, str],
    demo_study: DemoStudy,
    slice_images: dict[int, str],
) -> None:
    k = 0
    assert not demo_study.masks[2][k].any()
    rgba = overlay(orthanc, demo_ids["SEG"], slice_images[k], "?segments=2")
    assert rgba.shape == (120, 160, 4)
    assert not rgba[..., 3].any()


@pytest.mark.parametrize(
    ("query", "status", "error"),
    [
        ("?opacity=abc", 400, "Bad parameter opacity"),
        ("?opacity=1.5", 400, "Bad parameter opacity"),
        ("?outline=maybe", 400, "Bad parameter outline"),
        ("?segments=1,x", 400, "Bad parameter segments"),
        ("?segments=99", 400, "Unknown segment numbers"),
    ],
)
def test_bad_parameters(
    orthanc: OrthancServer,
    demo_ids: dict[str, str],
    slice_images: dict[int, str],
    query: str,
    status: int,
    error: str,
) -> None:
    response = orthanc.get(
        f"/instances/{demo_ids['SEG']}/segmesh/overlay/{slice_images[3]}.png{query}"
    )
    assert response.status_code == status
    assert response.json()["Error"] == error


def test_images_outside_the_referenced_series_are_404(
    orthanc: OrthancServer, demo_ids: dict[str, str], slice_images: dict[int, str]
) -> None:
    seg, rtstruct = demo_ids["SEG"], demo_ids["RTSTRUCT"]
    for source, image, error in [
        (seg, rtstruct, "Image not in the referenced series"),
        (seg, seg, "Image not in the referenced series"),
        (seg, "no-such-image", "Unknown image"),
        ("no-such-source", slice_images[3], "Unknown instance"),
    ]:
        response = orthanc.get(f"/instances/{source}/segmesh/overlay/{image}.png")
        assert response.status_code == 404, (source, image)
        assert response.json()["Error"] == error


def test_an_image_is_not_a_source(orthanc: OrthancServer, slice_images: dict[int, str]) -> None:
    response = orthanc.get(f"/instances/{slice_images[3]}/segmesh/overlay/{slice_images[4]}.png")
    assert response.status_code == 415
    assert response.json()["Error"]


def test_post_is_405(
    orthanc: OrthancServer, demo_ids: dict[str, str], slice_images: dict[int, str]
) -> None:
    response = orthanc.post(f"/instances/{demo_ids['SEG']}/segmesh/overlay/{slice_images[3]}.png")
    assert response.status_code == 405


def test_a_deleted_source_is_not_served_from_the_cache(
    orthanc: OrthancServer, demo_study: DemoStudy, slice_images: dict[int, str]
) -> None:
    copy = deepcopy(demo_study.seg)
    copy.SOPInstanceUID = copy.file_meta.MediaStorageSOPInstanceUID = UID(
        "1.2.826.0.1.3680043.8.498.61"
    )
    source_id = orthanc.upload(encode(copy))
    assert overlay(orthanc, source_id, slice_images[20])[..., 3].any()
    assert orthanc.session.delete(f"{orthanc.url}/instances/{source_id}").ok
    response = orthanc.get(f"/instances/{source_id}/segmesh/overlay/{slice_images[20]}.png")
    assert response.status_code == 404


def test_an_image_stored_after_the_source_is_found(
    orthanc: OrthancServer, demo_study: DemoStudy
) -> None:
    # A copy of the demo CT under new UIDs, a liver SEG on it; the last slice (no liver there)
    # arrives after the first overlay has cached the label map.
    series_uid, study_uid = generate_uid(), generate_uid()
    images = []
    for original in demo_study.images:
        image = deepcopy(original)
        image.SOPInstanceUID = image.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        image.SeriesInstanceUID, image.StudyInstanceUID = series_uid, study_uid
        images.append(image)
    liver = demo_study.masks[1]
    assert not liver[-1].any()
    seg = builders.seg(images, liver, ["Liver"], series_number=7)
    ids = [orthanc.upload(encode(image)) for image in images[:-1]]
    source_id = orthanc.upload(encode(seg))
    first = overlay(orthanc, source_id, ids[20], "?opacity=1")
    np.testing.assert_array_equal(first[..., 3] > 0, liver[20])
    last = orthanc.upload(encode(images[-1]))
    rgba = overlay(orthanc, source_id, last, "?opacity=1")
    assert rgba.shape == (120, 160, 4)
    assert not rgba[..., 3].any()
    # Deleted, an image served before is unknown again (its identity is kept, not its being
    # stored), and stored anew it is found again.
    assert orthanc.session.delete(f"{orthanc.url}/instances/{last}").ok
    response = orthanc.get(f"/instances/{source_id}/segmesh/overlay/{last}.png")
    assert (response.status_code, response.json()["Error"]) == (404, "Unknown image")
    assert orthanc.upload(encode(images[-1])) == last
    assert overlay(orthanc, source_id, last).shape == (120, 160, 4)
