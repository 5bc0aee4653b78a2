"""Files read over Orthanc's REST API on the loopback, as workers read them: a real Orthanc."""

from __future__ import annotations

import pickle

import pytest

from segmesh.errors import NotFoundError
from segmesh.loopback import Loopback
from segmesh.stored_files import FETCHERS, StoredFiles
from tests.builders import ct_series
from tests.conftest import encode
from tests.orthanc_server import OrthancServer


@pytest.fixture
def stored(orthanc: OrthancServer) -> tuple[Loopback, list[str]]:
    images = ct_series((3 * FETCHERS + 2, 8, 8), (1.0, 1.0, 2.0))
    ids = [orthanc.upload(encode(image)) for image in images]
    return Loopback.of({"HttpPort": orthanc.port}, "unused: no authentication"), ids


def test_files_come_in_order_as_orthanc_stores_them(
    orthanc: OrthancServer, stored: tuple[Loopback, list[str]]
) -> None:
    loopback, ids = stored
    files = StoredFiles(loopback, tuple(reversed(ids)))
    expected = [orthanc.get(f"/instances/{i}/file").content for i in reversed(ids)]
    assert list(files) == expected  # fetched ahead, in threads, yet in order
    assert files[2] == expected[2]
    assert files[1:3] == expected[1:3]
    # What a worker receives: the reference, not the files.
    assert len(pickle.dumps(files)) < 2000
    assert list(pickle.loads(pickle.dumps(files))) == expected


def test_a_file_deleted_before_its_turn_is_an_unknown_instance(
    orthanc: OrthancServer, stored: tuple[Loopback, list[str]]
) -> None:
    loopback, ids = stored
    files = StoredFiles(loopback, tuple(ids))
    orthanc.session.delete(f"{orthanc.url}/instances/{ids[-1]}").raise_for_status()
    read = iter(files)
    assert next(read) == orthanc.get(f"/instances/{ids[0]}/file").content
    with pytest.raises(NotFoundError) as raised:
        list(read)
    assert (raised.value.message, raised.value.details) == ("Unknown instance", ids[-1])
