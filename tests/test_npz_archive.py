"""The npz archive written with ISA-L (formats.npz_archive): what numpy.load and zipfile read."""

from __future__ import annotations

import io
import zipfile

import numpy as np

from segmesh.formats.npz_archive import NpzMember, npz_archive


def test_numpy_and_zipfile_read_every_member_back() -> None:
    rng = np.random.default_rng(3)
    labels = np.zeros((2, 5, 7, 9), dtype=np.uint16)
    labels[0, 1:3, 2:5, 3:8] = 7
    labels[1, 4, 6, 8] = 65535
    image = rng.integers(-1024, 3000, (5, 7, 9), dtype=np.int16)
    fortran = np.asfortranarray(rng.random((3, 4)))
    data = npz_archive(
        [
            NpzMember("labels", labels, deflate=True),
            NpzMember("segments", np.array('[{"Number": 7}]'), deflate=True),
            NpzMember("fortran", fortran, deflate=True),
            NpzMember("image", image, deflate=False),
        ]
    )
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None  # every CRC-32 checked
        infos = {info.filename: info for info in archive.infolist()}
    assert list(infos) == ["labels.npy", "segments.npy", "fortran.npy", "image.npy"]
    assert infos["labels.npy"].compress_type == zipfile.ZIP_DEFLATED
    assert infos["labels.npy"].compress_size < infos["labels.npy"].file_size
    assert infos["image.npy"].compress_type == zipfile.ZIP_STORED
    assert infos["image.npy"].file_size == image.nbytes + 128  # the .npy header
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        assert npz["labels"].dtype == np.uint16
        np.testing.assert_array_equal(npz["labels"], labels)
        assert str(npz["segments"]) == '[{"Number": 7}]'
        np.testing.assert_array_equal(npz["fortran"], fortran)
        np.testing.assert_array_equal(npz["image"], image)


def test_an_empty_archive_is_a_zip() -> None:
    with zipfile.ZipFile(io.BytesIO(npz_archive([]))) as archive:
        assert archive.namelist() == []
