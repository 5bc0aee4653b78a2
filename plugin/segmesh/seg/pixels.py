"""Decoding the frames of a SEG, one at a time, cropped to what they hold.

Native little-endian pixel data is read straight from the PixelData bytes: 1-bit frames run on
across frame boundaries where Rows x Columns is not a multiple of 8, and byte-aligned frames are
cropped on their packed bytes before unpacking, which keeps large sparse SEGs fast. Big endian
is swapped to little endian first. Deflated
Image Frame Compression and 1-bit RLE are decoded in :mod:`segmesh.frame_codecs` (pydicom 3.0
has no decoder for them); every other encapsulated syntax goes through
pydicom's decoders and their plugins.
"""

from __future__ import annotations

import functools
import mmap
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.encaps import generate_frames
from pydicom.pixels import get_decoder, iter_pixels
from pydicom.uid import (
    UID,
    AllTransferSyntaxes,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    RLELossless,
)

from ..errors import BrokenFileError, UnsupportedError
from .frame_codecs import inflate_frame, rle_1bit_frame

#: Deflated Image Frame Compression (PS3.5 A.4.13): each frame raw-deflated on its own.
DEFLATED_IMAGE_FRAME_COMPRESSION = UID("1.2.840.10008.1.2.8.1")

_NATIVE_LITTLE_ENDIAN = (
    ImplicitVRLittleEndian,
    ExplicitVRLittleEndian,
    DeflatedExplicitVRLittleEndian,
)

PixelArray = npt.NDArray[Any]

#: Frames of 1-bit pixel data scanned for their occupied rows at once, by all the scanning
#: threads together (32 MB of 512 x 512: the mapped pages held before they are released).
_SCANNED_FRAMES = 1024
#: The threads that scan (:func:`_scanners`): one per core, up to 4.
_SCANNING_THREADS = min(os.cpu_count() or 1, 4)


@functools.cache
def _scanners() -> ThreadPoolExecutor:
    """The threads that scan parts of a SEG's 1-bit pixel data at once: numpy releases the GIL
    while it scans, so the parts run on every core (a 150 MB SEG's frames: 0.05 to 0.08 s on
    2 cores, against 0.07 to 0.10 s in one thread, on a shared machine)."""
    return ThreadPoolExecutor(_SCANNING_THREADS, thread_name_prefix="segmesh-scan")


@dataclass(frozen=True)
class Patch:
    """The part of a frame that holds non-zero pixels: ``values`` (rows, columns) starting at
    frame row ``row`` and column ``column``."""

    row: int
    column: int
    values: PixelArray


@dataclass(frozen=True)
class Block:
    """Several frames cropped to one box: ``values`` (frames, rows, columns) of the frames
    ``frames``, starting at frame row ``row`` and column ``column``."""

    frames: npt.NDArray[np.int64]
    row: int
    column: int
    values: PixelArray


def transfer_syntax_of(dataset: Dataset) -> UID:
    """The transfer syntax of a dataset read from a file (implicit VR where unknown).

    A UID that is no transfer syntax (a SOP class, garbage) is a broken file (400); a valid
    private UID is a transfer syntax pydicom does not know (415). pydicom's own checks would
    raise a bare ValueError later, in the middle of decoding.
    """
    meta = getattr(dataset, "file_meta", None)
    value = meta.get("TransferSyntaxUID") if meta is not None else None
    if not value:
        return ImplicitVRLittleEndian
    uid = UID(str(value))
    if uid in AllTransferSyntaxes or uid == DEFLATED_IMAGE_FRAME_COMPRESSION:
        return uid
    # Transfer syntaxes are 1.2.840.10008.1.2[.n...]: one newer than pydicom is unsupported.
    if uid.is_valid and (uid.is_private or uid.startswith("1.2.840.10008.1.2.")):
        raise UnsupportedError("Unknown transfer syntax", f"TransferSyntaxUID {uid}")
    raise BrokenFileError(
        "Malformed file meta information", f"TransferSyntaxUID {uid!s:.64} is not a transfer syntax"
    )


def crop(values: PixelArray, row: int = 0, column: int = 0) -> Patch | None:
    """The bounding box of the non-zero pixels of ``values`` (rows, columns); None if all zero."""
    rows = np.flatnonzero(values.any(axis=1))
    if rows.size == 0:
        return None
    columns = np.flatnonzero(values[rows[0] : rows[-1] + 1].any(axis=0))
    return Patch(
        row + int(rows[0]),
        column + int(columns[0]),
        values[rows[0] : rows[-1] + 1, columns[0] : columns[-1] + 1],
    )


def _first_last(occupied: npt.NDArray[np.bool_]) -> tuple[npt.NDArray[np.int64], ...]:
    """For (frames, n) occupancy: the first and one past the last occupied index per frame."""
    first = np.argmax(occupied, axis=1)
    last = occupied.shape[1] - np.argmax(occupied[:, ::-1], axis=1)
    return first.astype(np.int64), last.astype(np.int64)


def _any_last_axis(words: npt.NDArray[np.unsignedinteger[Any]]) -> npt.NDArray[np.bool_]:
    """``np.any(words, axis=-1)`` of a C-contiguous array, a third of its time where the last
    axis is short (8 words in a row of 512 pixels): numpy reduces a short axis element by
    element, so the words' nonzero flags are read back as wider integers instead, a row's
    flags one integer where they fit (150 MB of frames: 20 ms against 66 ms)."""
    flags = words != 0
    length = flags.shape[-1]
    width = next(size for size in (8, 4, 2, 1) if length % size == 0)
    grouped = flags.view(f"<u{width}")
    if not 0 < grouped.shape[-1] <= 4:
        return np.any(grouped, axis=-1)
    occupied = grouped[..., 0] != 0
    for column in range(1, grouped.shape[-1]):
        occupied |= grouped[..., column] != 0
    return occupied


def packed_rows(packed: npt.NDArray[np.uint8]) -> list[tuple[int, int]]:
    """First and end occupied row of each of (frames, rows, row bytes) packed 1-bit frames, all
    frames in one pass; (0, 0) for an empty frame.

    Vectorised over frames because per-frame numpy calls on whole frames, not the bit
    unpacking, would dominate the decoding of a SEG with thousands of frames. Rows are read 8
    bytes at a time where their length allows."""
    first, end = _row_extents(packed)
    return list(zip(first.tolist(), end.tolist(), strict=True))


def _row_extents(packed: npt.NDArray[np.uint8]) -> tuple[npt.NDArray[np.int64], ...]:
    """:func:`packed_rows` as two arrays (frames,): first and end occupied row."""
    words = packed.view("<u8") if packed.shape[2] % 8 == 0 else packed
    occupied = _any_last_axis(words)
    first, end = _first_last(occupied)
    end[~np.any(occupied, axis=1)] = 0
    return first, end


def _pixel_bytes(dataset: Dataset, transfer_syntax: UID) -> bytes | memoryview:
    """The PixelData value; mapped from its file where ``dcmread`` left it there (a deferred
    element of a native little-endian file read from a path): the pages are then read once, by
    the scan of the frames, not copied into a buffer first (0.1 s for 150 MB). Mapped pages
    stay readable after Orthanc deletes the file."""
    element = dataset.get_item("PixelData", keep_deferred=True)
    filename = getattr(dataset, "filename", None)
    if (
        isinstance(element, RawDataElement)
        and element.value is None
        and transfer_syntax in (ExplicitVRLittleEndian, ImplicitVRLittleEndian)
        and element.length != 0xFFFFFFFF  # a defined length
        and isinstance(filename, str)
    ):
        try:
            with open(filename, "rb") as handle:
                mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        except (OSError, ValueError):
            pass  # pydicom reads it below, and says what is wrong
        else:
            start, end = element.value_tell, element.value_tell + element.length
            if end <= len(mapped):
                return memoryview(mapped)[start:end]
    # An element of length 0 holds None.
    return bytes(dataset.PixelData or b"")


class FrameReader:
    """Reads frames of one SEG dataset as :class:`Patch` objects (None for an empty frame).

    1-bit pixels come out as bool, 8- and 16-bit pixels as uint8 or uint16.
    """

    def __init__(self, dataset: Dataset, frame_count: int) -> None:
        if "PixelData" not in dataset:
            raise BrokenFileError("Malformed SEG", "no PixelData")
        self.dataset = dataset
        self.frame_count = frame_count
        self.rows = int(dataset.Rows)
        self.columns = int(dataset.Columns)
        self.bits_allocated = int(dataset.get("BitsAllocated", 1))
        if self.bits_allocated not in (1, 8, 16):
            raise UnsupportedError(
                "Unsupported BitsAllocated", f"{self.bits_allocated} (SEG uses 1, 8 or 16)"
            )
        self.transfer_syntax = transfer_syntax_of(dataset)
        self._pixels = _pixel_bytes(dataset, self.transfer_syntax)
        #: The file mapping the pixel data lies in, and where in it: see :meth:`_release`.
        self._mapping: tuple[mmap.mmap, int] | None = None
        if isinstance(self._pixels, memoryview) and isinstance(self._pixels.obj, mmap.mmap):
            element = dataset.get_item("PixelData", keep_deferred=True)
            self._mapping = (self._pixels.obj, int(getattr(element, "value_tell", 0)))
        if self.transfer_syntax == ExplicitVRBigEndian:
            # Big endian OW holds 16-bit words: swapping each word gives the little-endian
            # byte stream (also of packed 1-bit data); OB bytes are the same in both orders.
            if dataset["PixelData"].VR != "OB":
                words = np.frombuffer(self._pixels[: len(self._pixels) // 2 * 2], ">u2")
                self._pixels = words.astype("<u2").tobytes()
            self.transfer_syntax = ExplicitVRLittleEndian
        self._decoded: list[Patch | None] | None = None
        self._fragments: list[bytes] | None = None
        self._own_codec = self.transfer_syntax == DEFLATED_IMAGE_FRAME_COMPRESSION or (
            self.transfer_syntax == RLELossless and self.bits_allocated == 1
        )
        frame_bits = self.rows * self.columns * self.bits_allocated
        if self.transfer_syntax in _NATIVE_LITTLE_ENDIAN:
            needed = (frame_bits * frame_count + 7) // 8
            if len(self._pixels) < needed:
                raise BrokenFileError(
                    "Malformed SEG",
                    f"PixelData holds {len(self._pixels)} bytes, {frame_count} frames need {needed}",
                )
        elif not self._own_codec:
            decoder = (
                get_decoder(self.transfer_syntax) if self.transfer_syntax.is_compressed else None
            )
            if decoder is not None and not decoder.is_available:
                raise UnsupportedError(
                    "No decoder for the transfer syntax",
                    f"{self.transfer_syntax.name}: install {', '.join(decoder.missing_dependencies)}",
                )

    def patches(self, indices: Sequence[int]) -> Iterator[tuple[int, Patch | None]]:
        """(frame index, patch) for each index in ``indices``, in that order."""
        if self.transfer_syntax in _NATIVE_LITTLE_ENDIAN:
            for index in indices:
                yield index, self._native_patch(index)
        elif self._own_codec:
            yield from self._own_codec_patches(indices)
        else:
            yield from self._pydicom_patches(indices)

    def _dtype(self) -> np.dtype[Any]:
        return np.dtype("<u2" if self.bits_allocated == 16 else np.uint8)

    @cached_property
    def _packed(self) -> npt.NDArray[np.uint8]:
        """(frames, rows, row bytes) view of byte-aligned 1-bit pixel data."""
        row_bytes = self.columns // 8
        count = self.frame_count * self.rows * row_bytes
        return np.frombuffer(self._pixels, np.uint8, count).reshape(
            self.frame_count, self.rows, row_bytes
        )

    @cached_property
    def _occupied_rows(self) -> list[tuple[int, int]]:
        """First and end occupied row of each byte-aligned 1-bit frame; see :func:`packed_rows`.
        Scanned in parts, each part's mapped pages released once scanned; the parts on
        :func:`_scanners`' threads where there are several."""
        packed = self._packed
        # Each thread's part a share of _SCANNED_FRAMES: as many pages mapped at once as in one.
        size = max(_SCANNED_FRAMES // _SCANNING_THREADS, 1)

        def scanned(first: int) -> list[tuple[int, int]]:
            end = min(first + size, self.frame_count)
            rows = packed_rows(packed[first:end])
            self._release(first, end)
            return rows

        parts = range(0, self.frame_count, size)
        if len(parts) == 1:
            return scanned(0)
        return [rows for part in _scanners().map(scanned, parts) for rows in part]

    def _release(self, first: int, end: int) -> None:
        """Unmap from this process the pages of frames ``first`` to ``end`` (whole pages
        within them), once read: where the pixel data is mapped from its file, its pages
        would otherwise stay in the process's resident memory (all of a 428 MB SEG) until
        the decoding ends. They stay in the page cache: reading them again maps them again."""
        if self._mapping is None:
            return
        mapped, offset = self._mapping
        frame_bits = self.rows * self.columns * self.bits_allocated
        start = (offset + first * frame_bits // 8 + mmap.PAGESIZE - 1) // mmap.PAGESIZE
        stop = (offset + end * frame_bits // 8) // mmap.PAGESIZE
        if stop > start:
            mapped.madvise(
                mmap.MADV_DONTNEED, start * mmap.PAGESIZE, (stop - start) * mmap.PAGESIZE
            )

    def _native_patch(self, index: int) -> Patch | None:
        pixels = self.rows * self.columns
        if self.bits_allocated == 1:
            start_bit = index * pixels
            if self.columns % 8 == 0:
                # Byte-aligned rows: crop on the packed bytes, unpack only the box.
                first_row, end_row = self._occupied_rows[index]
                if end_row == 0:
                    return None
                band = self._packed[index, first_row:end_row]
                columns = np.flatnonzero(np.bitwise_or.reduce(band, axis=0))
                first_byte, end_byte = int(columns[0]), int(columns[-1]) + 1
                # Whole bytes: up to 7 empty columns on each side, harmless in a patch.
                bits = np.unpackbits(band[:, first_byte:end_byte], axis=1, bitorder="little")
                return Patch(first_row, first_byte * 8, bits.view(np.bool_))
            first = start_bit // 8
            last = (start_bit + pixels + 7) // 8
            run = np.unpackbits(
                np.frombuffer(self._pixels, np.uint8, last - first, first), bitorder="little"
            )
            offset = start_bit - first * 8
            frame = run[offset : offset + pixels].view(np.bool_).reshape(self.rows, self.columns)
            return crop(frame)
        dtype = self._dtype()
        frame = np.frombuffer(self._pixels, dtype, pixels, index * pixels * dtype.itemsize)
        return crop(frame.reshape(self.rows, self.columns))

    @property
    def reads_blocks(self) -> bool:
        """Whether :meth:`block` can read frames: native, byte-aligned 1-bit pixels."""
        return (
            self.transfer_syntax in _NATIVE_LITTLE_ENDIAN
            and self.bits_allocated == 1
            and self.columns % 8 == 0
        )

    def block(self, indices: Sequence[int]) -> Block | None:
        """The non-empty frames of ``indices`` unpacked at once, cropped to the box of all their
        set pixels (rows, and whole bytes of columns); None where all are empty. Only where
        :attr:`reads_blocks`: one unpacking per segment instead of numpy calls per frame, which
        dominate the decoding of a SEG with thousands of small frames.

        Frames that follow each other in the file (a segment's, as writers store them) are
        scanned for their occupied rows here, just before their box is read: their pages are
        mapped once. Others take the rows of the scan of all frames."""
        frames = np.asarray(indices, dtype=np.int64)
        if not frames.size:
            return None
        low, high = int(frames.min()), int(frames.max()) + 1
        following = high - low == frames.size and bool(np.all(np.diff(frames) == 1))
        if following:
            first, end = _row_extents(self._packed[low:high])
        else:
            rows = [self._occupied_rows[index] for index in frames.tolist()]
            first, end = np.array(rows, dtype=np.int64).reshape(-1, 2).T
        kept = np.flatnonzero(end)
        if not kept.size:
            self._release(low, high)
            return None
        first_row, end_row = int(first[kept].min()), int(end[kept].max())
        # Fancy indexing copies the box's rows of each frame only.
        band = self._packed[frames[kept], first_row:end_row]
        columns = np.flatnonzero(np.bitwise_or.reduce(band, axis=(0, 1)))
        first_byte, end_byte = int(columns[0]), int(columns[-1]) + 1
        bits = np.unpackbits(band[:, :, first_byte:end_byte], axis=2, bitorder="little")
        self._release(low, high)
        return Block(frames[kept], first_row, first_byte * 8, bits.view(np.bool_))

    def whole_frames(self) -> Iterator[tuple[int, PixelArray]]:
        """(frame index, frame (rows, columns)) of every frame in order, uncropped: uint8 or
        uint16 values of 8- and 16-bit pixels (a LABELMAP SEG's segment numbers). Native pixel
        data is viewed in place, not copied: a frame's pages are read where it is placed, and
        nothing per frame but the view is made (no crop, no bounding box)."""
        if self.bits_allocated == 1:
            raise UnsupportedError("Whole frames", "only of 8- and 16-bit pixels")
        if self.transfer_syntax in _NATIVE_LITTLE_ENDIAN:
            pixels = self.rows * self.columns
            frames = np.frombuffer(self._pixels, self._dtype(), pixels * self.frame_count)
            for index, frame in enumerate(
                frames.reshape(self.frame_count, self.rows, self.columns)
            ):
                yield index, frame
                self._release(index, index + 1)  # placed by now
        elif self._own_codec:
            for index, fragment in enumerate(self._compressed_frames()):
                values = inflate_frame(
                    fragment, self.rows, self.columns, self.bits_allocated, index
                )
                yield index, values.reshape(self.rows, self.columns)
        else:
            count = 0
            try:
                for count, frame in enumerate(iter_pixels(self.dataset, raw=True), 1):
                    yield count - 1, frame.reshape(self.rows, self.columns)
            except (ValueError, RuntimeError, NotImplementedError) as error:
                raise UnsupportedError(
                    "Cannot decode the pixel data", f"{self.transfer_syntax.name}: {error}"
                ) from error
            if count != self.frame_count:
                raise BrokenFileError(
                    "Malformed SEG", f"{count} frames decoded for {self.frame_count}"
                )

    def _compressed_frames(self) -> list[bytes]:
        """The encapsulated frames, split once; 400 where they are not one per frame."""
        if self._fragments is None:
            try:
                self._fragments = list(
                    generate_frames(bytes(self._pixels), number_of_frames=self.frame_count)
                )
            except ValueError as error:
                raise BrokenFileError(
                    "Malformed SEG", f"encapsulated PixelData: {error}"
                ) from error
        if len(self._fragments) != self.frame_count:
            raise BrokenFileError(
                "Malformed SEG", f"{len(self._fragments)} compressed frames for {self.frame_count}"
            )
        return self._fragments

    def _own_codec_patches(self, indices: Sequence[int]) -> Iterator[tuple[int, Patch | None]]:
        """Deflated Image Frame Compression, and 1-bit RLE: decoded here, frame by frame."""
        fragments = self._compressed_frames()
        for index in indices:
            if self.transfer_syntax == RLELossless:
                values = rle_1bit_frame(fragments[index], self.rows, self.columns, index)
            else:
                values = inflate_frame(
                    fragments[index], self.rows, self.columns, self.bits_allocated, index
                )
            yield index, crop(values.reshape(self.rows, self.columns))

    def _pydicom_patches(self, indices: Sequence[int]) -> Iterator[tuple[int, Patch | None]]:
        # Encapsulated frames are found by walking the fragments: decode all of them in one
        # sequential pass, once, and keep the (cropped) results for later calls.
        if self._decoded is None:
            self._decoded = []
            try:
                for frame in iter_pixels(self.dataset, raw=True):
                    values = frame.astype(np.bool_) if self.bits_allocated == 1 else frame
                    self._decoded.append(crop(values.reshape(self.rows, self.columns)))
            except (ValueError, RuntimeError, NotImplementedError) as error:
                raise UnsupportedError(
                    "Cannot decode the pixel data", f"{self.transfer_syntax.name}: {error}"
                ) from error
            if len(self._decoded) != self.frame_count:
                raise BrokenFileError(
                    "Malformed SEG", f"{len(self._decoded)} frames decoded for {self.frame_count}"
                )
        for index in indices:
            yield index, self._decoded[index]
