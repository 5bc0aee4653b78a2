"""Routes read stored files in place where Orthanc keeps them plainly, and fetch them through
its REST API where it does not (here: StorageCompression): the answers are the same."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from segmesh.demo import DemoStudy
from tests.conftest import encode
from tests.orthanc_server import OrthancServer


def test_compressed_storage_gives_the_same_answers(
    orthanc: OrthancServer,
    demo_ids: dict[str, str],
    demo_study: DemoStudy,
    tmp_path: Path,
) -> None:
    compressed = OrthancServer(tmp_path, {"StorageCompression": True, "SegMesh": {"Workers": 1}})
    compressed.start()
    try:
        for image in demo_study.images:
            compressed.upload(encode(image))
        seg_id = compressed.upload(encode(demo_study.seg))
        assert seg_id == demo_ids["SEG"]  # Orthanc's ids derive from the UIDs
        # Nothing Orthanc stored is plain: no file could be read in place.
        stored = [p for p in (tmp_path / "storage").rglob("*") if p.is_file() and "-" in p.name]
        sizes = {p.stat().st_size for p in stored}
        plain = len(encode(demo_study.seg))
        assert stored
        assert plain not in sizes
        for path in (
            f"/instances/{seg_id}/segmesh/labelmap?format=npz&include=image",
            f"/instances/{seg_id}/segmesh/statistics?format=csv",
        ):
            answer = compressed.get(path)
            assert answer.status_code == 200, answer.text
            expected = orthanc.get(path)
            if "npz" in path:
                with (
                    np.load(io.BytesIO(answer.content)) as got,
                    np.load(io.BytesIO(expected.content)) as want,
                ):
                    for name in ("labels", "image", "affine"):
                        np.testing.assert_array_equal(got[name], want[name])
            else:
                assert answer.text == expected.text
    finally:
        compressed.stop()
    assert "Traceback" not in compressed.log()
