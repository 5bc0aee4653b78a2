"""A few elements of a Part-10 file's header, found by walking its bytes: what a worker needs of
each image of a series (its grid), where pydicom's reader takes most of the time walking
(300 CT headers: about 0.04 s of pydicom's 0.07 s, on top of its element objects).

The elements found are pydicom's own raw elements, converted by pydicom as they are read, so
the values are exactly those of ``dcmread``. Only the plain cases are read here (little endian,
explicit or implicit VR, the wanted elements outside sequences); anything else answers None
and the caller reads the file with pydicom.
"""

from __future__ import annotations

import struct
from collections.abc import Collection
from typing import BinaryIO

from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset
from pydicom.tag import BaseTag

#: Bytes read at once; a CT header is a few kilobytes.
CHUNK = 16 << 10
#: A header longer than this is left to pydicom.
MAX_HEADER = 1 << 20

_PREFIX_END = 132  # the 128-byte preamble and "DICM"
_EXPLICIT, _IMPLICIT = "1.2.840.10008.1.2.1", "1.2.840.10008.1.2"
#: Transfer syntaxes whose dataset (all but encapsulated pixel data) is explicit VR little
#: endian: the uncompressed one and the JPEG, JPEG-LS, JPEG 2000 and RLE families. Deflated
#: and big endian are not among them.
_ENCAPSULATED_PREFIXES = ("1.2.840.10008.1.2.4.", "1.2.840.10008.1.2.5")
#: Explicit VRs whose length has 4 bytes after 2 reserved ones.
_LONG_VRS = frozenset(b"OB OD OF OL OV OW SQ SV UC UN UR UT UV".split())
_ALL_VRS = _LONG_VRS | frozenset(
    b"AE AS AT CS DA DS DT FL FD IS LO LT PN SH SL SS ST TM UI UL US".split()
)
_UNDEFINED = 0xFFFFFFFF
_ITEM, _ITEM_END, _SEQUENCE_END = 0xFFFEE000, 0xFFFEE00D, 0xFFFEE0DD
#: (7FE0,0008) Float Pixel Data and on: what ``stop_before_pixels`` stops at.
_PIXELS = 0x7FE00008
_CHARACTER_SET = 0x00080005
_SHORT = struct.Struct("<HH2sH")
_LONG = struct.Struct("<I")
_IMPLICIT_HEADER = struct.Struct("<HHI")


class _LeftToPydicomError(Exception):
    """A case left to pydicom."""


class _Header:
    """The file's bytes, read on as far as asked."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream
        self.data = stream.read(CHUNK)

    def need(self, end: int) -> None:
        """Bytes up to ``end`` read; :class:`_LeftToPydicomError` past MAX_HEADER or the file's end."""
        while len(self.data) < end:
            if len(self.data) >= MAX_HEADER:
                raise _LeftToPydicomError
            more = self.stream.read(max(CHUNK, end - len(self.data)))
            if not more:
                raise _LeftToPydicomError
            self.data += more


def header_elements(stream: BinaryIO, tags: Collection[int]) -> Dataset | None:
    """The top-level elements of ``tags`` before the pixel data of the Part-10 file
    ``stream`` (and SpecificCharacterSet), as ``dcmread(stream, stop_before_pixels=True,
    specific_tags=tags)`` holds them; None where the file is not a plain case (then read it
    with pydicom, which also says what is wrong with a broken one)."""
    header = _Header(stream)
    try:
        explicit, start = _dataset_start(header)
        wanted = {*tags, _CHARACTER_SET}
        elements: dict[BaseTag, DataElement | RawDataElement] = {}
        for tag, vr, length, tell in _elements(header, start, explicit):
            if tag in wanted:
                if vr == "SQ" or length == _UNDEFINED:
                    raise _LeftToPydicomError  # wanted elements in sequences: pydicom reads them
                header.need(tell + length)
                value = header.data[tell : tell + length]
                elements[BaseTag(tag)] = RawDataElement(
                    BaseTag(tag), vr, length, value, tell, not explicit, True
                )
    except (_LeftToPydicomError, struct.error):
        return None
    return Dataset(elements)


def _dataset_start(header: _Header) -> tuple[bool, int]:
    """Whether the dataset is explicit VR, and where it starts after the file meta."""
    header.need(_PREFIX_END)
    if header.data[128:_PREFIX_END] != b"DICM":
        raise _LeftToPydicomError
    syntax = None
    position = _PREFIX_END
    while True:
        header.need(position + 8)
        group, element, vr, length = _SHORT.unpack_from(header.data, position)
        if group != 0x0002:
            break
        if vr in _LONG_VRS:
            header.need(position + 12)
            (length,) = _LONG.unpack_from(header.data, position + 8)
            position += 12
        else:
            position += 8
        if length == _UNDEFINED:
            raise _LeftToPydicomError
        header.need(position + length)
        if element == 0x0010:
            syntax = bytes(header.data[position : position + length]).rstrip(b"\0 ").decode()
        position += length
    if syntax == _EXPLICIT or (syntax or "").startswith(_ENCAPSULATED_PREFIXES):
        return True, position
    if syntax == _IMPLICIT:
        return False, position
    raise _LeftToPydicomError


def _elements(
    header: _Header, position: int, explicit: bool
) -> list[tuple[int, str | None, int, int]]:
    """(tag, VR or None where implicit, length, where its value starts) of each top-level
    element before the pixel data; values of undefined length (sequences) skipped."""
    found: list[tuple[int, str | None, int, int]] = []
    while True:
        if position + 8 > len(header.data):
            try:
                header.need(position + 8)
            except _LeftToPydicomError:
                if position == len(header.data):  # the file ends before any pixel data
                    return found
                raise
        tag, vr, length, position = _element_header(header, position, explicit)
        if tag >= _PIXELS:
            return found
        found.append((tag, vr, length, position))
        if length != _UNDEFINED:
            position += length
        elif vr == "UN":
            raise _LeftToPydicomError  # an implicit VR sequence inside an explicit dataset
        else:
            position = _skip_undefined(header, position, explicit, _SEQUENCE_END)


def _element_header(
    header: _Header, position: int, explicit: bool
) -> tuple[int, str | None, int, int]:
    """The tag, VR, length and value position of the element at ``position``."""
    if not explicit:
        group, element, length = _IMPLICIT_HEADER.unpack_from(header.data, position)
        return group << 16 | element, None, length, position + 8
    group, element, vr, length = _SHORT.unpack_from(header.data, position)
    tag = group << 16 | element
    if group == 0xFFFE:  # items and delimiters carry no VR
        (length,) = _LONG.unpack_from(header.data, position + 4)
        return tag, None, length, position + 8
    if vr not in _ALL_VRS:
        raise _LeftToPydicomError  # an unknown VR, or implicit VR in an explicit dataset
    if vr in _LONG_VRS:
        header.need(position + 12)
        (length,) = _LONG.unpack_from(header.data, position + 8)
        return tag, vr.decode(), length, position + 12
    return tag, vr.decode(), length, position + 8


def _skip_undefined(header: _Header, position: int, explicit: bool, end: int) -> int:
    """Where the value of undefined length starting at ``position`` ends, after its delimiter
    ``end``: a sequence's items up to the sequence delimiter, an item's elements up to the
    item delimiter, each element of them skipped on the way."""
    while True:
        header.need(position + 8)
        tag, vr, length, position = _element_header(header, position, explicit)
        if tag == end:
            return position
        if length != _UNDEFINED:
            position += length
        elif vr == "UN":
            raise _LeftToPydicomError  # an implicit VR sequence inside an explicit dataset
        else:
            inner = _ITEM_END if tag == _ITEM else _SEQUENCE_END
            position = _skip_undefined(header, position, explicit, inner)
