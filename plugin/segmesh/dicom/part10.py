"""Datasets as Part-10 files, the form Orthanc's ``/instances`` stores, and read from them."""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from functools import cache
from io import BytesIO
from typing import BinaryIO

from isal import isal_zlib
from pydicom import dcmread
from pydicom.charset import convert_encodings, default_encoding, encode_string
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.errors import InvalidDicomError
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import correct_ambiguous_vr, write_data_element, write_file_meta_info
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, UID

from ..errors import BrokenFileError


def part10(dataset: Dataset) -> bytes:
    """The dataset as a Part-10 file."""
    buffer = BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


#: What a Part-10 file starts with: the preamble and the prefix.
PREAMBLE = b"\0" * 128 + b"DICM"


def _explicit_little_endian() -> DicomBytesIO:
    buffer = DicomBytesIO()
    buffer.is_little_endian = True
    buffer.is_implicit_VR = False
    return buffer


def encoded_elements(
    dataset: Dataset, character_set: str | list[str] = default_encoding
) -> dict[int, bytes]:
    """Each top-level element of a new ``dataset`` (a sequence with its items) by tag, encoded
    explicit VR little endian as :func:`part10` writes it; text in the dataset's
    SpecificCharacterSet, else in ``character_set``.

    For files that share most of their elements: those are encoded once, each file's own ones
    with it, and :func:`part10_of_elements` puts them together.
    """
    correct_ambiguous_vr(dataset, True)
    encodings = dataset.get("SpecificCharacterSet", character_set)
    elements = {}
    for tag in sorted(dataset.keys()):
        if tag.element == 0 and tag.group > 6:
            continue  # retired group lengths, which pydicom does not write either
        buffer = _explicit_little_endian()
        write_data_element(buffer, dataset[tag], encodings)
        elements[int(tag)] = buffer.getvalue()
    return elements


def part10_of_elements(file_meta: bytes, elements: Mapping[int, bytes]) -> bytes:
    """The Part-10 file (explicit VR little endian) of the encoded ``file_meta``
    (:func:`file_meta_elements`) and ``elements`` (:func:`encoded_elements`): the bytes
    :func:`part10` writes of the same dataset."""
    return b"".join([PREAMBLE, file_meta, *(elements[tag] for tag in sorted(elements))])


def write_part10_of_elements(
    handle: BinaryIO,
    file_meta: bytes,
    elements: Mapping[int, bytes],
    values: Mapping[int, bytes | bytearray],
    deflated: bool = False,
) -> None:
    """Write to ``handle`` the bytes :func:`part10_of_elements` makes, where the elements of
    ``values`` are given as their header alone in ``elements`` (:func:`ob_header`), their value
    apart: a large value (a model's document) is written as it is, never copied into a file
    held whole. With ``deflated`` (``file_meta`` naming Deflated Explicit VR Little Endian),
    the dataset after the file meta is deflated as it is written, a chunk at a time."""
    handle.write(PREAMBLE)
    handle.write(file_meta)
    chunks = (chunk for tag in sorted(elements) for chunk in (elements[tag], values.get(tag, b"")))
    if not deflated:
        for chunk in chunks:
            handle.write(chunk)
        return
    # Raw deflate (no zlib header), as PS3.5 A.5 wants; ISA-L's level 1 is a few times faster
    # than zlib's, and a model's STL shrinks about as much (to about half).
    compressor = isal_zlib.compressobj(1, isal_zlib.DEFLATED, -15)
    for chunk in chunks:
        view = memoryview(chunk)
        for start in range(0, len(view), _DEFLATE_CHUNK):
            handle.write(compressor.compress(view[start : start + _DEFLATE_CHUNK]))
    handle.write(compressor.flush())


#: Bytes deflated at a time: the compressed chunk is all that is held beside the value.
_DEFLATE_CHUNK = 16 * 2**20


#: (0002,0003) Media Storage SOP Instance UID: the one file meta element of a file's own.
MEDIA_STORAGE_SOP_INSTANCE_UID = 0x00020003


@cache
def _file_meta_around_instance(sop_class_uid: str, transfer_syntax_uid: str) -> tuple[bytes, bytes]:
    """The file meta elements pydicom writes (``enforce_standard``) for a file of that class
    and transfer syntax, before and after its (0002,0003), the group length left out."""
    placeholder = "1.2"
    file_meta = FileMetaDataset()
    file_meta.MediaStorageSOPClassUID = UID(sop_class_uid)
    file_meta.MediaStorageSOPInstanceUID = UID(placeholder)
    file_meta.TransferSyntaxUID = UID(transfer_syntax_uid)
    file_meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    buffer = _explicit_little_endian()
    write_file_meta_info(buffer, file_meta, enforce_standard=True)
    # The group length is written first: (0002,0000) UL, 12 bytes.
    before, after = buffer.getvalue()[12:].split(_instance_uid_element(placeholder))
    return before, after


def _instance_uid_element(sop_instance_uid: str) -> bytes:
    return short_element(MEDIA_STORAGE_SOP_INSTANCE_UID, "UI", uid_value(sop_instance_uid))


def file_meta_elements(
    sop_class_uid: str, sop_instance_uid: str, transfer_syntax_uid: str
) -> bytes:
    """The encoded file meta information of a file of that class, instance and transfer
    syntax: the bytes pydicom's ``write_file_meta_info`` writes (``enforce_standard``), made
    from those it wrote once for the class and syntax (a few tenths of a millisecond a file
    less: a thousand models each have one)."""
    before, after = _file_meta_around_instance(sop_class_uid, transfer_syntax_uid)
    rest = b"".join([before, _instance_uid_element(sop_instance_uid), after])
    return struct.pack("<HH2sHI", 0x0002, 0x0000, b"UL", 4, len(rest)) + rest


def short_element(tag: int, vr: str, value: bytes) -> bytes:
    """An element of a VR with a 2-byte length (UI, IS, LO, ST, US, UL, ...), explicit VR
    little endian, of its (even-length, padded) ``value``."""
    return struct.pack("<HH2sH", tag >> 16, tag & 0xFFFF, vr.encode("ascii"), len(value)) + value


def uid_value(uid: str) -> bytes:
    """A UI value as pydicom writes it: padded to even length with a NUL."""
    value = uid.encode("ascii")
    return value + b"\0" if len(value) % 2 else value


def text_value(text: str, encodings: Sequence[str] = (default_encoding,)) -> bytes:
    """A text value (IS, LO, ST, ...) as pydicom writes it in the character sets
    ``encodings`` (SpecificCharacterSet's terms): padded to even length with a space."""
    value = encode_string(text, convert_encodings(list(encodings)))
    return value + b" " if len(value) % 2 else value


def ob_header(tag: int, length: int) -> bytes:
    """The explicit VR little endian header of an OB element of ``tag`` holding ``length``
    (even) bytes: what :func:`encoded_elements` writes before its value."""
    return struct.pack("<HH2sHI", tag >> 16, tag & 0xFFFF, b"OB", 0, length)


#: (7FE0,0010) Pixel Data: elements from here on are pixels, not header.
PIXEL_DATA = 0x7FE00010


def header_only(dataset: Dataset) -> Dataset:
    """The elements of ``dataset`` before its pixel data, in a new dataset.

    Rebuilt element by element because a dataset parsed by pydicom 3, even without its pixels,
    pickles with the whole file it was read from (30 CT slices of 512 x 512: 15.9 MB, against
    0.07 MB rebuilt): what travels to a worker or back is the rebuilt one.
    """
    return Dataset({tag: element for tag, element in dataset.items() if tag < PIXEL_DATA})


def read_image(
    data: bytes | BinaryIO,
    stop_before_pixels: bool = False,
    keywords: Sequence[str] | None = None,
) -> Dataset:
    """A referenced image's Part-10 file parsed, of ``keywords`` only where given (the others
    skipped unread); 400 where it is unreadable."""
    stream = BytesIO(data) if isinstance(data, bytes) else data
    tags = None if keywords is None else list(keywords)
    try:
        return dcmread(
            stream, stop_before_pixels=stop_before_pixels, force=True, specific_tags=tags
        )
    except (InvalidDicomError, ValueError, EOFError, OSError) as error:
        raise BrokenFileError("Unreadable DICOM file", f"referenced image: {error}") from error
