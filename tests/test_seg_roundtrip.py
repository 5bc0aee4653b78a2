"""Round trips: synthetic SEGs written with highdicom (and re-encoded with pydicom) in every
supported transfer syntax, decoded by segmesh, compared voxel by voxel with the masks written."""

from __future__ import annotations

import zlib
from io import BytesIO

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.encaps import encapsulate
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset, write_file_meta_info
from pydicom.pixels import get_encoder
from pydicom.uid import (
    UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGLSLossless,
    RLELossless,
)

from segmesh.errors import BrokenFileError, UnprocessableError, UnsupportedError
from segmesh.geometry import geometry_from_images
from segmesh.options import Grid, LabelMapOptions
from segmesh.seg import pixels
from segmesh.seg.pixels import DEFLATED_IMAGE_FRAME_COMPRESSION
from segmesh.seg.reader import seg_to_labelmap
from segmesh.settings import Settings
from tests import builders

# 35 x 37 = 1295 pixels per frame: not a multiple of 8, so 1-bit frames run on across bytes
# (and at least 32 each way, which highdicom needs for JPEG 2000).
SHAPE = (7, 35, 37)
SPACING = (0.7, 1.1)  # rows, columns: non-square on purpose
SLICE_STEP = 2.0


def ct_series(orientation: tuple[float, ...] = (1, 0, 0, 0, 1, 0)) -> list[Dataset]:
    """A small CT series (HU = slice index); ``orientation`` may be oblique or sagittal."""
    pixels = (1024 + np.indices(SHAPE)[0]).astype(np.int16)
    return builders.ct_series(
        SHAPE,
        (*SPACING, SLICE_STEP),
        (-10.0, 20.0, 30.0),
        orientation,
        pixels=pixels,
        rescale_intercept=-1024,
    )


def masks() -> dict[int, np.ndarray]:
    """Three segments: 1 and 2 overlap; 3 is empty on most slices; slice 0 is empty."""
    k, j, i = np.indices(SHAPE)
    first = (k >= 1) & (k <= 4) & (j >= 2) & (j < 9) & (i >= 3) & (i < 15)
    second = (k >= 3) & (j >= 6) & (i >= 10) & (i < 19)
    third = (
        (k == 5) & (j == SHAPE[1] - 1) & (i == SHAPE[2] - 1)
    )  # one voxel in the last row and column
    return {1: first, 2: second, 3: third}


def make_seg(
    images: list[Dataset],
    segmentation_type: str = "BINARY",
    transfer_syntax: str = ExplicitVRLittleEndian,
) -> tuple[Dataset, dict[int, np.ndarray]]:
    """A SEG of :func:`masks` written by highdicom; returns it and the expected masks."""
    expected = masks()
    stacked = np.stack([expected[n] for n in sorted(expected)], axis=-1)
    if segmentation_type == "LABELMAP":
        expected = {1: expected[1] & ~expected[2], 2: expected[2], 3: expected[3]}
        pixels = np.zeros(SHAPE, dtype=np.uint8)
        for number, mask in expected.items():
            pixels[mask] = number
        array: np.ndarray = pixels
    elif segmentation_type == "FRACTIONAL":
        array = stacked.astype(np.float32) * 0.8  # 0.8 of the maximum: inside at threshold 0.5
    else:
        array = stacked
    encoded_here = (
        transfer_syntax == JPEGLSLossless and not get_encoder(JPEGLSLossless).is_available
    )
    seg = builders.seg(
        images,
        array,
        [f"Segment {number}" for number in sorted(expected)],
        segmentation_type,
        transfer_syntax_uid=ExplicitVRLittleEndian if encoded_here else transfer_syntax,
    )
    if encoded_here:
        seg = jpeg_ls_frames(seg)
    return reread(seg), expected


def jpeg_ls_frames(seg: Dataset) -> Dataset:
    """``seg`` (native, 8 or 16 bits) with its frames in JPEG-LS Lossless, encoded by
    imagecodecs: highdicom encodes it with pyjpegls, which has no wheel for Python 3.14."""
    import imagecodecs

    frames = pydicom.pixels.pixel_array(seg).reshape(-1, *SHAPE[1:])
    seg.PixelData = encapsulate([imagecodecs.jpegls_encode(frame) for frame in frames])
    seg["PixelData"].VR = "OB"
    seg["PixelData"].is_undefined_length = True
    seg.file_meta.TransferSyntaxUID = JPEGLSLossless
    return seg


def reread(dataset: Dataset, **encoding: bool) -> Dataset:
    """Write and read back, as Orthanc would hand the file over; ``encoding`` forces
    ``implicit_vr`` and ``little_endian`` (for big endian)."""
    buffer = BytesIO()
    if encoding:
        pydicom.dcmwrite(buffer, dataset, force_encoding=True, **encoding)
    else:
        pydicom.dcmwrite(buffer, dataset, enforce_file_format=True)
    return pydicom.dcmread(BytesIO(buffer.getvalue()))


def unknown_syntax_bytes(dataset: Dataset) -> bytes:
    """A Part-10 file with a transfer syntax pydicom 3.0 does not know (explicit VR little
    endian body), which its writer refuses."""
    buffer = DicomBytesIO()
    buffer.write(b"\0" * 128 + b"DICM")
    write_file_meta_info(buffer, dataset.file_meta)
    buffer.is_little_endian, buffer.is_implicit_VR = True, False
    write_dataset(buffer, dataset)
    return bytes(buffer.getvalue())


def reread_unknown_syntax(dataset: Dataset) -> Dataset:
    """:func:`unknown_syntax_bytes`, read back."""
    return pydicom.dcmread(BytesIO(unknown_syntax_bytes(dataset)))


def deflate_frames(seg: Dataset) -> Dataset:
    """``seg`` re-encoded in Deflated Image Frame Compression (each frame raw-deflated)."""
    frames = pydicom.pixels.pixel_array(seg).reshape(-1, *SHAPE[1:])
    fragments = []
    for frame in frames:
        native = (
            np.packbits(frame.ravel(), bitorder="little").tobytes()
            if seg.BitsAllocated == 1
            else frame.astype(np.uint8).tobytes()
        )
        compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
        fragments.append(compressor.compress(native) + compressor.flush())
    seg.PixelData = encapsulate(fragments)
    seg["PixelData"].VR = "OB"
    # Encapsulated Pixel Data has an undefined length (PS3.5 A.4); pydicom, not knowing the
    # transfer syntax, would write a defined one, which DCMTK 3.7 (Orthanc 1.13) refuses.
    seg["PixelData"].is_undefined_length = True
    seg.file_meta.TransferSyntaxUID = DEFLATED_IMAGE_FRAME_COMPRESSION
    return seg


def check(seg: Dataset, images: list[Dataset] | None, expected: dict[int, np.ndarray]) -> None:
    labelmap = seg_to_labelmap(seg, images, LabelMapOptions(), Settings())
    if images:
        np.testing.assert_allclose(
            labelmap.geometry.affine, geometry_from_images(images)[0].affine, atol=1e-4
        )
    assert labelmap.geometry.shape == SHAPE
    assert [s.number for s in labelmap.segments] == sorted(expected)
    for number, mask in expected.items():
        np.testing.assert_array_equal(labelmap.mask(number), mask, err_msg=f"segment {number}")


NATIVE = [ExplicitVRLittleEndian, ImplicitVRLittleEndian]
COMPRESSED = [RLELossless, JPEG2000Lossless, JPEGLSLossless]
# highdicom encodes BINARY (1-bit) frames natively or in JPEG 2000 only.
CASES = [
    *(("BINARY", uid) for uid in [*NATIVE, JPEG2000Lossless]),
    *(("FRACTIONAL", uid) for uid in NATIVE + COMPRESSED),
    *(("LABELMAP", uid) for uid in NATIVE + COMPRESSED),
]


@pytest.mark.parametrize(
    ("segmentation_type", "transfer_syntax"),
    CASES,
    ids=[f"{kind}-{UID(uid).name}" for kind, uid in CASES],
)
def test_highdicom_transfer_syntaxes(segmentation_type: str, transfer_syntax: str) -> None:
    images = ct_series()
    seg, expected = make_seg(images, segmentation_type, transfer_syntax)
    assert seg.file_meta.TransferSyntaxUID == transfer_syntax
    check(seg, images, expected)


def test_a_seg_whose_decoder_is_missing_is_415_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    class Missing:
        is_available = False
        missing_dependencies = ("pyjpegls - requires numpy and pyjpegls>=1.2",)

    monkeypatch.setattr(pixels, "get_decoder", lambda uid: Missing())
    images = ct_series()
    seg, _ = make_seg(images, "LABELMAP", JPEGLSLossless)
    with pytest.raises(UnsupportedError) as raised:
        check(seg, images, {})
    assert raised.value.http_status == 415
    assert raised.value.message == "No decoder for the transfer syntax"
    assert raised.value.details.startswith("JPEG-LS Lossless Image Compression: install pyjpegls")


def rle_literal_segment(data: bytes) -> bytes:
    """An RLE segment of literal runs only: independent of any RLE library."""
    out = bytearray()
    for start in range(0, len(data), 128):
        chunk = data[start : start + 128]
        out += bytes([len(chunk) - 1]) + chunk
    return bytes(out)


@pytest.mark.parametrize("layout", ["packed", "row-padded", "byte-per-pixel"])
def test_binary_rle(layout: str) -> None:
    images = ct_series()
    seg, expected = make_seg(images)
    frames = pydicom.pixels.pixel_array(seg).reshape(-1, *SHAPE[1:])
    fragments = []
    for frame in frames:
        if layout == "packed":
            data = np.packbits(frame.ravel(), bitorder="little").tobytes()
        elif layout == "row-padded":
            data = np.packbits(frame, axis=1, bitorder="little").tobytes()
        else:
            data = frame.astype(np.uint8).tobytes()
        segment = rle_literal_segment(data)
        header = np.zeros(16, dtype="<u4")
        header[:2] = (1, 64)
        fragments.append(header.tobytes() + segment + b"\x80" * (len(segment) % 2))
    seg.PixelData = encapsulate(fragments)
    seg["PixelData"].VR = "OB"
    seg.file_meta.TransferSyntaxUID = RLELossless
    check(reread(seg), images, expected)


def test_overlapping_segments_go_to_layers() -> None:
    images = ct_series()
    seg, expected = make_seg(images)
    labelmap = seg_to_labelmap(seg, images, LabelMapOptions(), Settings())
    np.testing.assert_array_equal(labelmap.mask(1) & labelmap.mask(2), expected[1] & expected[2])
    assert labelmap.layers.shape[0] == 2
    assert labelmap.segment(1).layer != labelmap.segment(2).layer
    assert labelmap.segment(3).layer == 0


def test_omitted_empty_frames_and_native_grid() -> None:
    images = ct_series()
    seg, expected = make_seg(images)
    # highdicom omits empty frames: slice 0 and 6 hold nothing, so no frame is there.
    assert int(seg.NumberOfFrames) < 3 * SHAPE[0]
    labelmap = seg_to_labelmap(seg, None, LabelMapOptions(grid=Grid.NATIVE), Settings())
    # The native grid spans the frames present (slices 1 to 6).
    assert labelmap.geometry.shape == (6, *SHAPE[1:])
    np.testing.assert_allclose(
        labelmap.geometry.slice_positions[0], images[1].ImagePositionPatient, atol=1e-4
    )
    for number, mask in expected.items():
        np.testing.assert_array_equal(labelmap.mask(number), mask[1:])


@pytest.mark.parametrize("segmentation_type", ["BINARY", "LABELMAP"])
@pytest.mark.parametrize("vr", ["OB", "OW"])
def test_big_endian(vr: str, segmentation_type: str) -> None:
    images = ct_series()
    seg, expected = make_seg(images, segmentation_type)
    data = seg.PixelData + b"\0" * (len(seg.PixelData) % 2)
    if vr == "OW":
        # Big endian OW: each 16-bit word's bytes swapped (pydicom writes values as given).
        data = np.frombuffer(data, "<u2").astype(">u2").tobytes()
    seg.PixelData = data
    seg["PixelData"].VR = vr
    seg.file_meta.TransferSyntaxUID = ExplicitVRBigEndian
    big_endian = reread(seg, implicit_vr=False, little_endian=False)
    assert vr == big_endian["PixelData"].VR
    check(big_endian, images, expected)


def test_deflated_explicit_little_endian() -> None:
    images = ct_series()
    seg, expected = make_seg(images)
    seg.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    deflated = reread(seg)
    assert deflated.file_meta.TransferSyntaxUID == DeflatedExplicitVRLittleEndian
    check(deflated, images, expected)


@pytest.mark.parametrize("segmentation_type", ["BINARY", "LABELMAP"])
def test_deflated_image_frame_compression(segmentation_type: str) -> None:
    images = ct_series()
    seg, expected = make_seg(images, segmentation_type)
    check(reread_unknown_syntax(deflate_frames(seg)), images, expected)


def test_frames_in_any_order() -> None:
    images = ct_series()
    seg, expected = make_seg(images, "FRACTIONAL")
    frames = pydicom.pixels.pixel_array(seg).reshape(-1, *SHAPE[1:])
    order = np.random.default_rng(1).permutation(len(frames))
    groups = list(seg.PerFrameFunctionalGroupsSequence)
    seg.PerFrameFunctionalGroupsSequence = [groups[index] for index in order]
    seg.PixelData = frames[order].astype(np.uint8).tobytes()
    check(reread(seg), list(reversed(images)), expected)


@pytest.mark.parametrize(
    "orientation",
    [(0.8, 0.6, 0, -0.6, 0.8, 0), (0, 1, 0, 0, 0, -1)],
    ids=["oblique", "sagittal"],
)
def test_oblique_and_sagittal(orientation: tuple[float, ...]) -> None:
    images = ct_series(orientation)
    seg, expected = make_seg(images)
    check(seg, images, expected)


def test_threshold_of_fractional() -> None:
    images = ct_series()
    seg, expected = make_seg(images, "FRACTIONAL")
    # Values are 0.8 of the maximum: inside at 0.8, outside above it.
    at = seg_to_labelmap(seg, images, LabelMapOptions(threshold=0.8), Settings())
    np.testing.assert_array_equal(at.mask(1), expected[1])
    above = seg_to_labelmap(seg, images, LabelMapOptions(threshold=0.9), Settings())
    assert not above.layers.any()


def test_frames_off_the_grid_are_422() -> None:
    images = ct_series()
    seg, _ = make_seg(images)
    shifted = [image.copy() for image in images]
    for image in shifted:
        position = list(image.ImagePositionPatient)
        image.ImagePositionPatient = [position[0] + 0.5 * SPACING[1], *position[1:]]
    with pytest.raises(UnprocessableError, match="not a whole pixel"):
        seg_to_labelmap(seg, shifted, LabelMapOptions(), Settings())
    moved = [image.copy() for image in images]
    for image in moved:
        position = list(image.ImagePositionPatient)
        image.ImagePositionPatient = [*position[:2], position[2] + 0.5 * SLICE_STEP]
    with pytest.raises(UnprocessableError, match="lies on no slice"):
        seg_to_labelmap(seg, moved, LabelMapOptions(), Settings())


def test_segment_without_frames() -> None:
    images = ct_series()
    seg, expected = make_seg(images)
    groups = list(seg.PerFrameFunctionalGroupsSequence)
    keep = [
        index
        for index, item in enumerate(groups)
        if item.SegmentIdentificationSequence[0].ReferencedSegmentNumber != 3
    ]
    frames = pydicom.pixels.pixel_array(seg).reshape(-1, *SHAPE[1:])[keep]
    seg.PerFrameFunctionalGroupsSequence = [groups[index] for index in keep]
    seg.NumberOfFrames = len(keep)
    seg.PixelData = np.packbits(frames.ravel(), bitorder="little").tobytes()
    labelmap = seg_to_labelmap(reread(seg), images, LabelMapOptions(), Settings())
    assert [s.number for s in labelmap.segments] == [1, 2, 3]
    assert not labelmap.mask(3).any()
    np.testing.assert_array_equal(labelmap.mask(2), expected[2])


def test_labelmap_padding_value_and_palette_color() -> None:
    images = ct_series()
    seg, expected = make_seg(images, "LABELMAP")
    frames = pydicom.pixels.pixel_array(seg).reshape(-1, *SHAPE[1:]).copy()
    frames[:, 0, :] = 9  # padding: not a segment, whatever the value
    seg.PixelData = frames.astype(np.uint8).tobytes()
    seg.PixelPaddingValue = 9
    seg.PhotometricInterpretation = "PALETTE COLOR"
    labelmap = seg_to_labelmap(reread(seg), images, LabelMapOptions(), Settings())
    for number, mask in expected.items():
        np.testing.assert_array_equal(labelmap.mask(number), mask & (np.indices(SHAPE)[1] != 0))
    assert set(np.unique(labelmap.layers).tolist()) <= {0, 1, 2, 3}
    only_two = seg_to_labelmap(reread(seg), images, LabelMapOptions(segments=(2,)), Settings())
    assert set(np.unique(only_two.layers).tolist()) == {0, 2}


def test_frames_inside_a_larger_source_grid() -> None:
    images = ct_series()
    seg, expected = make_seg(images)
    larger = []
    for image in images:
        copy = image.copy()
        x, y, z = (float(v) for v in image.ImagePositionPatient)
        # 3 more rows above, 2 more columns to the left, and some beyond the SEG's frames.
        copy.ImagePositionPatient = [x - 2 * SPACING[1], y - 3 * SPACING[0], z]
        copy.Rows, copy.Columns = SHAPE[1] + 5, SHAPE[2] + 4
        copy.PixelData = np.zeros((SHAPE[1] + 5, SHAPE[2] + 4), dtype="<i2").tobytes()
        larger.append(copy)
    labelmap = seg_to_labelmap(seg, larger, LabelMapOptions(), Settings())
    assert labelmap.geometry.shape == (SHAPE[0], SHAPE[1] + 5, SHAPE[2] + 4)
    for number, mask in expected.items():
        np.testing.assert_array_equal(labelmap.mask(number), np.pad(mask, ((0, 0), (3, 2), (2, 2))))
    smaller = [image.copy() for image in images]
    for image in smaller:
        image.Columns = SHAPE[2] - 1
    with pytest.raises(UnprocessableError, match="do not fit"):
        seg_to_labelmap(seg, smaller, LabelMapOptions(), Settings())


def test_labelmap_seg_of_1_bit_is_a_broken_file() -> None:
    """LABELMAP pixels are segment numbers (8 or 16 bits); 1 bit is a 400, not a traceback."""
    images = ct_series()
    seg, _ = make_seg(images, "LABELMAP")
    frames = pydicom.pixels.pixel_array(seg).reshape(-1, *SHAPE[1:]) > 0
    seg.BitsAllocated, seg.BitsStored, seg.HighBit = 1, 1, 0
    seg.PixelData = np.packbits(frames.ravel(), bitorder="little").tobytes()
    with pytest.raises(BrokenFileError, match="BitsAllocated 8 or 16"):
        seg_to_labelmap(reread(seg), images, LabelMapOptions(), Settings())
