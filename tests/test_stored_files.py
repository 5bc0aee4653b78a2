"""Stored files as workers read them: in place in Orthanc's storage area where Orthanc keeps
them plainly, else over Orthanc's REST API on the loopback. A real Orthanc."""

from __future__ import annotations

import pickle
from io import BytesIO
from pathlib import Path

import pytest
from pydicom import dcmread

from segmesh.errors import NotFoundError
from segmesh.worker_io.loopback import Loopback
from segmesh.worker_io.storage_area import StorageArea, StoredFile
from segmesh.worker_io.stored_files import FETCHERS, StoredFiles, file_streams, stored_file
from tests.builders import ct_series
from tests.conftest import encode
from tests.orthanc_server import OrthancServer, free_port

#: A loopback on which nothing answers: whatever is read through it was read in place.
NOWHERE = f"http://127.0.0.1:{free_port()}"


def stored_files_of(orthanc: OrthancServer, ids: list[str]) -> tuple[StoredFile, ...]:
    return tuple(StoredFile.of(orthanc.get(f"/instances/{i}").json()) for i in ids)


@pytest.fixture
def stored(orthanc: OrthancServer) -> list[str]:
    images = ct_series((3 * FETCHERS + 2, 8, 8), (1.0, 1.0, 2.0))
    return [orthanc.upload(encode(image)) for image in images]


def configuration(orthanc: OrthancServer) -> dict[str, object]:
    return {"HttpPort": orthanc.port, "StorageDirectory": str(orthanc.work_dir / "storage")}


@pytest.mark.parametrize("in_place", [True, False], ids=["in place", "over the loopback"])
def test_files_come_in_order_as_orthanc_stores_them(
    orthanc: OrthancServer, stored: list[str], in_place: bool
) -> None:
    storage = StorageArea.of(configuration(orthanc)) if in_place else StorageArea(None)
    base_url = NOWHERE if in_place else orthanc.url
    loopback = Loopback(base_url, "unused: no authentication", storage)
    files = StoredFiles(loopback, stored_files_of(orthanc, list(reversed(stored))))
    expected = [orthanc.get(f"/instances/{i}/file").content for i in reversed(stored)]
    assert list(files) == expected  # read ahead, in threads, yet in order
    assert files[2] == expected[2]
    assert files[1:3] == expected[1:3]
    # What a worker receives: the reference, not the files.
    assert len(pickle.dumps(files)) < 2000
    assert list(pickle.loads(pickle.dumps(files))) == expected


@pytest.mark.parametrize("in_place", [True, False], ids=["in place", "over the loopback"])
def test_streams_read_headers_as_far_as_asked(
    orthanc: OrthancServer, stored: list[str], in_place: bool
) -> None:
    """In place, each stream is the stored file itself, and a header read from it stops
    before the pixel data; over the loopback, the whole file fetched. Either way the same
    headers, in order, as from the whole files."""
    storage = StorageArea.of(configuration(orthanc)) if in_place else StorageArea(None)
    loopback = Loopback(NOWHERE if in_place else orthanc.url, "unused", storage)
    files = StoredFiles(loopback, stored_files_of(orthanc, stored))
    expected = [
        dcmread(BytesIO(orthanc.get(f"/instances/{i}/file").content), stop_before_pixels=True)
        for i in stored
    ]
    read = []
    for stream, stored_file_ in zip(file_streams(files), files.files, strict=True):
        read.append(dcmread(stream, stop_before_pixels=True))
        assert stream.tell() < stored_file_.size  # not read through its pixel data
        if in_place:
            assert stream.name == storage.path(stored_file_)
    assert [ds.SOPInstanceUID for ds in read] == [ds.SOPInstanceUID for ds in expected]
    assert read == expected
    # Files given as bytes (a caller outside Orthanc) stream the same.
    plain = [orthanc.get(f"/instances/{i}/file").content for i in stored]
    assert [dcmread(s, stop_before_pixels=True) for s in file_streams(plain)] == expected


@pytest.mark.parametrize("in_place", [True, False], ids=["in place", "over the loopback"])
def test_a_file_deleted_before_its_turn_is_an_unknown_instance(
    orthanc: OrthancServer, stored: list[str], in_place: bool
) -> None:
    storage = StorageArea.of(configuration(orthanc)) if in_place else StorageArea(None)
    loopback = Loopback(orthanc.url, "unused: no authentication", storage)
    files = StoredFiles(loopback, stored_files_of(orthanc, stored))
    orthanc.session.delete(f"{orthanc.url}/instances/{stored[-1]}").raise_for_status()
    read = iter(files)
    assert next(read) == orthanc.get(f"/instances/{stored[0]}/file").content
    with pytest.raises(NotFoundError) as raised:
        list(read)
    assert (raised.value.message, raised.value.details) == ("Unknown instance", stored[-1])
    with pytest.raises(NotFoundError) as raised:
        list(file_streams(files))
    assert (raised.value.message, raised.value.details) == ("Unknown instance", stored[-1])


def test_a_file_not_kept_plainly_is_fetched(
    orthanc: OrthancServer, stored: list[str], tmp_path: Path
) -> None:
    """Another size than the index's (compressed), another layout or folder, a name that is no
    UUID: never read in place, fetched through the REST API instead."""
    area = StorageArea.of(configuration(orthanc))
    stored_file_ = stored_files_of(orthanc, stored[:1])[0]
    assert area.path(stored_file_) is not None
    expected = orthanc.get(f"/instances/{stored[0]}/file").content
    for other in (
        StoredFile(stored_file_.instance_id, stored_file_.uuid, stored_file_.size + 1),
        StoredFile(stored_file_.instance_id, "../../" + stored_file_.uuid[6:], stored_file_.size),
    ):
        assert area.path(other) is None
        assert stored_file(Loopback(orthanc.url, "unused", area), other) == expected
    assert StorageArea(str(tmp_path)).path(stored_file_) is None
    assert StorageArea.of({**configuration(orthanc), "StorageCompression": True}).directory is None
    assert StorageArea.of({"StorageDirectory": "OrthancStorage"}).directory is None  # relative
    assert StorageArea.of({}).directory is None
