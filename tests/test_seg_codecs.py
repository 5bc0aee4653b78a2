"""The small frame decoders of segmesh.frame_codecs: PackBits, 1-bit RLE, inflate."""

from __future__ import annotations

import zlib

import numpy as np
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import UID, ExplicitVRLittleEndian, RLELossless

from segmesh.errors import BrokenFileError
from segmesh.seg.frame_codecs import inflate_frame, packbits_decode, rle_1bit_frame
from segmesh.seg.pixels import DEFLATED_IMAGE_FRAME_COMPRESSION, FrameReader


def test_packbits_reference_vector() -> None:
    # Apple's PackBits example (TN1023): literal, replicate and no-op (0x80) runs.
    encoded = bytes.fromhex("FE AA 02 80 00 2A FD AA 03 80 00 2A 22 F7 AA")
    expected = bytes.fromhex(
        "AA AA AA 80 00 2A AA AA AA AA 80 00 2A 22 AA AA AA AA AA AA AA AA AA AA"
    )
    assert packbits_decode(encoded) == expected
    assert packbits_decode(b"\x80\x00\x07") == b"\x07"


def rle_frame(segment: bytes, segments: int = 1) -> bytes:
    header = np.zeros(16, dtype="<u4")
    header[0] = segments
    header[1 : 1 + segments] = 64
    return header.tobytes() + segment


def test_rle_1bit_replicate_runs() -> None:
    # 3 rows x 16 columns packed: 2 bytes per row; rows 0xFF 0xFF, 0x00 0x00, 0x01 0x80.
    packed = bytes([0xFF, 0xFF, 0x00, 0x00, 0x01, 0x80])
    segment = bytes([0xFF, 0xFF, 0xFF, 0x00, 0x01, 0x01, 0x80])  # 2 x FF, 2 x 00, literal 2
    frame = rle_1bit_frame(rle_frame(segment), 3, 16, 0).reshape(3, 16)
    expected = np.unpackbits(np.frombuffer(packed, np.uint8), bitorder="little").reshape(3, 16)
    np.testing.assert_array_equal(frame, expected.astype(bool))
    assert frame[2].tolist() == [True] + [False] * 14 + [True]


def test_rle_1bit_errors() -> None:
    with pytest.raises(BrokenFileError, match="64 bytes"):
        rle_1bit_frame(b"\x01\x00", 2, 2, 0)
    with pytest.raises(BrokenFileError, match="1 segment"):
        rle_1bit_frame(rle_frame(b"\x00\x01", segments=2), 2, 2, 0)
    with pytest.raises(BrokenFileError, match="decodes to 1 bytes"):
        rle_1bit_frame(rle_frame(b"\x00\x01"), 40, 40, 3)


def test_inflate_frame() -> None:
    values = (np.arange(5 * 7) % 3 == 0).reshape(5, 7)
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
    packed = np.packbits(values.ravel(), bitorder="little").tobytes()
    fragment = compressor.compress(packed) + compressor.flush()
    np.testing.assert_array_equal(inflate_frame(fragment, 5, 7, 1, 0).reshape(5, 7), values)
    words = np.arange(12, dtype="<u2")
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
    fragment = compressor.compress(words.tobytes()) + compressor.flush()
    np.testing.assert_array_equal(inflate_frame(fragment, 3, 4, 16, 0), words)
    with pytest.raises(BrokenFileError, match="frame 2: not deflated"):
        inflate_frame(b"\xff\xff\xff", 3, 4, 8, 1)
    with pytest.raises(BrokenFileError, match="fewer than"):
        inflate_frame(fragment, 30, 40, 16, 0)


@pytest.mark.parametrize("columns", [24, 64, 136])
def test_native_1bit_patches_match_the_frames(columns: int) -> None:
    """Byte-aligned frames are cropped on packed bytes: the patches put back give the frames."""
    rng = np.random.default_rng(columns)
    frames = np.zeros((6, 11, columns), dtype=bool)
    frames[1, 2:5, 3:9] = True
    frames[2] = rng.random((11, columns)) < 0.05
    frames[4, 10, columns - 1] = True  # the last pixel only
    frames[5, 0, 0] = True  # the first pixel only
    dataset = Dataset()
    dataset.file_meta = FileMetaDataset()
    dataset.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    dataset.Rows, dataset.Columns, dataset.BitsAllocated = 11, columns, 1
    dataset.PixelData = np.packbits(frames.ravel(), bitorder="little").tobytes()
    reader = FrameReader(dataset, len(frames))
    for index, patch in reader.patches(range(len(frames))):
        rebuilt = np.zeros(frames.shape[1:], dtype=bool)
        if patch is not None:
            rows, width = patch.values.shape
            rebuilt[patch.row : patch.row + rows, patch.column : patch.column + width] = (
                patch.values
            )
        np.testing.assert_array_equal(rebuilt, frames[index], err_msg=f"frame {index}")
    assert dict(reader.patches([0, 3]))[0] is None


@pytest.mark.parametrize("transfer_syntax", [RLELossless, DEFLATED_IMAGE_FRAME_COMPRESSION])
def test_broken_encapsulation_is_a_broken_file(transfer_syntax: UID) -> None:
    """PixelData that is not an encapsulated item sequence: 400, not a traceback."""
    dataset = Dataset()
    dataset.file_meta = FileMetaDataset()
    dataset.file_meta.TransferSyntaxUID = transfer_syntax
    dataset.Rows, dataset.Columns, dataset.BitsAllocated = 4, 8, 1
    dataset.PixelData = b"\x01" * 64
    reader = FrameReader(dataset, 2)
    with pytest.raises(BrokenFileError, match="encapsulated PixelData"):
        list(reader.patches([0]))
