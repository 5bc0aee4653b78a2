"""Mutations of real SEG and RT-STRUCT files for the fuzz test, drawn with hypothesis.

Each mutation takes a dataset (already re-encoded as Explicit VR Little Endian, so that raw
element values can be written as they are) and returns the bytes of a broken Part-10 file:
at the pydicom level (absurd numbers, missing sequences, bad coordinates, unparsable text,
huge contours, wrong transfer syntaxes) or at the byte level (flips, truncation, wrong
lengths, unknown value representations).
"""

from __future__ import annotations

import copy
import functools
import itertools
import struct
from collections.abc import Callable, Iterator
from io import BytesIO

import numpy as np
from hypothesis import strategies as st
from pydicom import dcmread
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset, write_file_meta_info
from pydicom.sequence import Sequence
from pydicom.tag import Tag
from pydicom.uid import UID, ExplicitVRLittleEndian

_CASE_NUMBERS = itertools.count(1)

Mutation = Callable[[st.DataObject, Dataset], bytes]

ABSURD_NUMBERS = (b"0", b"-1", b"1", b"3", b"7", b"17", b"33", b"65535", b"4294967296", b"1e9")
ABSURD_FLOATS = (b"nan", b"inf", b"-inf", b"1e308", b"-1e300", b"0", b"1e-320", b"abc", b"")
NUMERIC_VRS = ("US", "SS", "UL", "SL", "IS", "DS", "FL", "FD")
IMAGE_PIXEL_KEYWORDS = (
    "Rows",
    "Columns",
    "NumberOfFrames",
    "BitsAllocated",
    "BitsStored",
    "HighBit",
    "SamplesPerPixel",
    "PixelRepresentation",
    "MaximumFractionalValue",
)
COORDINATE_KEYWORDS = (
    "ImagePositionPatient",
    "ImageOrientationPatient",
    "PixelSpacing",
    "SliceThickness",
    "SpacingBetweenSlices",
    "ContourData",
)
BAD_TRANSFER_SYNTAXES = (
    "1.2.840.10008.5.1.4.1.1.2",  # a SOP class: "UID is not a transfer syntax"
    "1.2.3.4",
    "1.2.840.10008.1.2.4.100",  # MPEG2, not decodable
    "1.2.840.10008.1.2.5",  # RLE, while the pixel data are native
    "1.2.840.10008.1.2.2",  # big endian, while the data are little endian
    "1.2.840.10008.1.2.1.99",  # deflated, while the data are not
    "1.2.840.10008.1.2",  # implicit VR, while the data are explicit
    "not a uid",
)


def encode(dataset: Dataset, transfer_syntax: str | None = None) -> bytes:
    """A Part-10 file of ``dataset`` (Explicit VR Little Endian body) declaring
    ``transfer_syntax`` (default: the true one), raw elements written as they are."""
    meta = copy.deepcopy(dataset.file_meta)
    meta.TransferSyntaxUID = UID(transfer_syntax or ExplicitVRLittleEndian)
    meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID
    buffer = DicomBytesIO()
    buffer.is_little_endian, buffer.is_implicit_VR = True, False
    buffer.write(b"\x00" * 128 + b"DICM")
    write_file_meta_info(buffer, meta, enforce_standard=False)
    write_dataset(buffer, dataset)
    return buffer.getvalue()


def explicit_little_endian(dataset: Dataset) -> Dataset:
    """A copy of ``dataset``, every element decoded, to be written as Explicit VR LE."""
    data = BytesIO()
    dataset = copy.deepcopy(dataset)
    dataset.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    dataset.save_as(data, enforce_file_format=True)
    copied = dcmread(BytesIO(data.getvalue()))
    copied.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    for element in copied.iterall():  # decode every raw element once
        _ = element.value
    return copied


def walk(dataset: Dataset) -> Iterator[tuple[Dataset, DataElement]]:
    """Every (parent dataset, element), nested ones included."""
    for element in dataset:
        yield dataset, element
        if element.VR == "SQ":
            for item in element.value:
                yield from walk(item)


def raw(tag: int, vr: str, value: bytes) -> RawDataElement:
    """A raw element written as it is (padded to an even length)."""
    if len(value) % 2:
        value += b" " if vr not in ("US", "SS", "UL", "SL", "FL", "FD", "UI") else b"\x00"
    return RawDataElement(Tag(tag), vr, len(value), value, 0, False, True)


def _numeric_bytes(vr: str, text: bytes) -> bytes:
    """``text`` as a value of ``vr``: binary VRs take the number, wrapped into range."""
    if vr in ("IS", "DS"):
        return text
    try:
        number = float(text)
    except ValueError:
        number = 0.0
    if vr in ("FL", "FD"):
        return struct.pack("<f" if vr == "FL" else "<d", number)
    integer = int(number) if np.isfinite(number) else 0
    size = 2 if vr in ("US", "SS") else 4
    return (integer % (1 << (8 * size))).to_bytes(size, "little")  # wrapped into range


def absurd_image_number(data: st.DataObject, dataset: Dataset) -> bytes:
    """Rows, Columns, NumberOfFrames, BitsAllocated, ... set to an absurd value."""
    keyword = data.draw(st.sampled_from(IMAGE_PIXEL_KEYWORDS), label="keyword")
    value = data.draw(st.sampled_from(ABSURD_NUMBERS), label="value")
    vr = "IS" if keyword == "NumberOfFrames" else "US"
    dataset[keyword] = raw(Tag(keyword), vr, _numeric_bytes(vr, value))
    return encode(dataset)


def absurd_number_anywhere(data: st.DataObject, dataset: Dataset) -> bytes:
    """Any numeric element, nested ones included, set to an absurd or unparsable value."""
    elements = [(p, e) for p, e in walk(dataset) if e.VR in NUMERIC_VRS]
    parent, element = data.draw(st.sampled_from(elements), label="element")
    value = data.draw(st.sampled_from(ABSURD_NUMBERS + ABSURD_FLOATS), label="value")
    parent[element.tag] = raw(element.tag, element.VR, _numeric_bytes(element.VR, value))
    return encode(dataset)


def bad_coordinates(data: st.DataObject, dataset: Dataset) -> bytes:
    """A coordinate (position, orientation, spacing, contour point) NaN, infinite or huge."""
    elements = [(p, e) for p, e in walk(dataset) if e.keyword in COORDINATE_KEYWORDS]
    if not elements:
        return encode(dataset)
    parent, element = data.draw(st.sampled_from(elements), label="element")
    values = [str(v).encode() for v in (element.value if element.VM > 1 else [element.value])]
    index = data.draw(st.integers(0, max(0, len(values) - 1)), label="index")
    values[index] = data.draw(st.sampled_from(ABSURD_FLOATS), label="value")
    parent[element.tag] = raw(element.tag, "DS", b"\\".join(values))
    return encode(dataset)


def missing_sequence(data: st.DataObject, dataset: Dataset) -> bytes:
    """A sequence deleted, emptied, or one of its items emptied."""
    sequences = [(p, e) for p, e in walk(dataset) if e.VR == "SQ"]
    parent, element = data.draw(st.sampled_from(sequences), label="sequence")
    how = data.draw(st.sampled_from(("delete", "empty", "empty item")), label="how")
    if how == "delete":
        del parent[element.tag]
    elif how == "empty" or not element.value:
        element.value = Sequence([])
    else:
        index = data.draw(st.integers(0, len(element.value) - 1), label="item")
        element.value[index] = Dataset()
    return encode(dataset)


def pixel_data_length(data: st.DataObject, dataset: Dataset) -> bytes:
    """Pixel data truncated (to a fraction, odd lengths too) or oversized."""
    if "PixelData" not in dataset:
        return encode(dataset)
    pixels = dataset.PixelData
    fraction = data.draw(st.sampled_from((0.0, 0.01, 0.5, 0.99, 1.5, 3.0)), label="fraction")
    size = int(len(pixels) * fraction) + data.draw(st.integers(0, 1), label="odd")
    pixels = (pixels * 4)[:size] if fraction > 1 else pixels[:size]
    vr = dataset["PixelData"].VR
    dataset["PixelData"] = raw(Tag("PixelData"), vr if vr in ("OB", "OW") else "OB", pixels)
    return encode(dataset)


@functools.cache
def _circle(count: int, z: float) -> bytes:
    """ContourData of ``count`` points on a circle of 80 mm at height ``z``."""
    angles = np.linspace(0.0, 2 * np.pi, count, endpoint=False)
    points = np.stack([80 * np.cos(angles), 80 * np.sin(angles), np.full(count, z)], axis=1)
    return "\\".join(f"{v:.2f}" for v in points.ravel()).encode()


def huge_contour(data: st.DataObject, dataset: Dataset) -> bytes:
    """One contour (RT-STRUCT) given a great many points on its own plane."""
    contours = [(p, e) for p, e in walk(dataset) if e.keyword == "ContourData" and e.VM >= 3]
    if not contours:
        return encode(dataset)
    parent, element = data.draw(st.sampled_from(contours), label="contour")
    # A million points now and then: each such case costs seconds.
    count = data.draw(st.sampled_from((1000,) * 4 + (20_000,) * 2 + (1_000_000,)), label="points")
    parent[element.tag] = raw(element.tag, "DS", _circle(count, float(element.value[2])))
    if "NumberOfContourPoints" in parent:
        parent.NumberOfContourPoints = count
    return encode(dataset)


def transfer_syntax(data: st.DataObject, dataset: Dataset) -> bytes:
    """A transfer syntax UID that is no transfer syntax, unknown, or not the data's."""
    uid = data.draw(st.sampled_from(BAD_TRANSFER_SYNTAXES), label="uid")
    return encode(dataset, uid)


def byte_flips(data: st.DataObject, dataset: Dataset) -> bytes:
    """Random bytes replaced, mostly in the header (the pixel data are the dull part)."""
    body = bytearray(encode(dataset))
    header = min(len(body), 132 + 4096)
    for _ in range(data.draw(st.integers(1, 8), label="flips")):
        end = data.draw(st.sampled_from((header, len(body))), label="region")
        position = data.draw(st.integers(132, end - 1), label="position")
        body[position] = data.draw(st.integers(0, 255), label="byte")
    return bytes(body)


def truncated_file(data: st.DataObject, dataset: Dataset) -> bytes:
    """The file cut short."""
    body = encode(dataset)
    return body[: data.draw(st.integers(133, len(body) - 1), label="length")]


def _offsets_of(body: bytes, dataset: Dataset) -> list[int]:
    """Where top-level elements (but the meta group) start in an explicit VR LE file."""
    offsets = []
    for element in dataset:
        packed = struct.pack("<HH", element.tag.group, element.tag.element)
        position = body.find(packed, 132)
        while position != -1 and body[position + 4 : position + 6] != element.VR.encode():
            position = body.find(packed, position + 1)
        if position != -1:
            offsets.append(position)
    return offsets


def wrong_length(data: st.DataObject, dataset: Dataset) -> bytes:
    """An element's length field overwritten."""
    body = bytearray(encode(dataset))
    position = data.draw(st.sampled_from(_offsets_of(bytes(body), dataset)), label="element")
    long_vr = bytes(body[position + 4 : position + 6]) in (b"OB", b"OW", b"SQ", b"UN", b"UT", b"UC")
    length = data.draw(st.sampled_from((0, 1, 3, 0xFFFF, 0xFFFFFFFF, 0x7FFFFFFF)), label="length")
    if long_vr:
        body[position + 8 : position + 12] = struct.pack("<I", length)
    else:
        body[position + 6 : position + 8] = struct.pack("<H", length & 0xFFFF)
    return bytes(body)


def unknown_vr(data: st.DataObject, dataset: Dataset) -> bytes:
    """An element's value representation replaced by an unknown one."""
    body = bytearray(encode(dataset))
    position = data.draw(st.sampled_from(_offsets_of(bytes(body), dataset)), label="element")
    body[position + 4 : position + 6] = data.draw(st.sampled_from((b"ZZ", b"??", b"\x00\x01")))
    return bytes(body)


MUTATIONS: tuple[Mutation, ...] = (
    absurd_image_number,
    absurd_number_anywhere,
    bad_coordinates,
    missing_sequence,
    pixel_data_length,
    huge_contour,
    transfer_syntax,
    byte_flips,
    truncated_file,
    wrong_length,
    unknown_vr,
)


def mutate(data: st.DataObject, base: Dataset) -> tuple[str, bytes]:
    """A mutation of ``base`` (left untouched): its name and the broken file."""
    mutation = data.draw(st.sampled_from(MUTATIONS), label="mutation")
    dataset = copy.deepcopy(base)
    # A new instance, so that Orthanc stores it; of a fixed length, so that the file's size,
    # on which later draws depend, is the same when hypothesis replays a case.
    dataset.SOPInstanceUID = f"2.25.1{next(_CASE_NUMBERS):038d}"
    return mutation.__name__, mutation(data, dataset)
