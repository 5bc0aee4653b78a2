"""Label Map Segmentation (Supplement 243) as OHIF stores it: RLE Lossless, with a background
segment, which segmesh lists apart and whose voxels become 0, whatever its number."""

from __future__ import annotations

import datetime
import io
import json
from collections.abc import Callable
from dataclasses import dataclass

import highdicom as hd
import numpy as np
import numpy.typing as npt
import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes
from pydicom.uid import UID, ExplicitVRLittleEndian, RLELossless, generate_uid

from segmesh.errors import BadRequestError
from segmesh.options import LabelMapOptions
from segmesh.seg.reader import describe_seg
from segmesh.settings import Settings
from segmesh.source_description import SkippedSegment
from segmesh.sources import to_labelmap
from tests import builders
from tests.conftest import encode
from tests.orthanc_server import OrthancServer

LABEL_MAP_SEGMENTATION_STORAGE = "1.2.840.10008.5.1.4.1.1.66.7"
SHAPE = (5, 12, 14)  # slices, rows, columns
ORGANS = {1: "Liver", 2: "Spleen", 3: "Kidney"}
SYNTAXES = [ExplicitVRLittleEndian, RLELossless]


def organ_labels() -> npt.NDArray[np.uint8]:
    """(slices, rows, columns) segment numbers of :data:`ORGANS`, 0 outside; slice 0 empty."""
    labels = np.zeros(SHAPE, dtype=np.uint8)
    labels[1:4, 2:7, 3:9] = 1
    labels[2:5, 6:10, 8:13] = 2  # touches the liver on slices 2 and 3
    labels[4, SHAPE[1] - 1, SHAPE[2] - 1] = 3  # the last voxel
    return labels


def ct() -> list[Dataset]:
    """A small CT series on the grid of :func:`organ_labels`."""
    return builders.ct_series(SHAPE, (0.8, 0.9, 2.0), (-5.0, 10.0, 20.0))


def labelmap_seg(
    images: list[Dataset], encoded: npt.NDArray[np.uint8], labels: dict[int, str], syntax: str
) -> Dataset:
    """A LABELMAP SEG written by highdicom, read back from its file.

    ``encoded`` (slices, rows, columns) segment numbers; ``labels`` number -> SegmentLabel, in
    ascending order, none 0: highdicom adds segment 0 "Background" and PixelPaddingValue 0.
    """
    descriptions = [
        hd.seg.SegmentDescription(
            segment_number=number,
            segment_label=label,
            segmented_property_category=codes.SCT.Organ,
            segmented_property_type=codes.SCT.Liver,
            algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL,
        )
        for number, label in labels.items()
    ]
    seg = hd.seg.Segmentation(
        source_images=images,
        pixel_array=encoded,
        segmentation_type=hd.seg.SegmentationTypeValues.LABELMAP,
        segment_descriptions=descriptions,
        series_instance_uid=generate_uid(),
        series_number=2,
        sop_instance_uid=generate_uid(),
        instance_number=1,
        manufacturer="segmesh",
        manufacturer_model_name="tests",
        software_versions="1",
        device_serial_number="1",
        content_date=datetime.date(2026, 1, 1),
        content_time=datetime.time(12, 0),
        transfer_syntax_uid=syntax,
        omit_empty_frames=True,
    )
    assert seg.SOPClassUID == LABEL_MAP_SEGMENTATION_STORAGE
    assert seg.file_meta.TransferSyntaxUID == syntax
    return pydicom.dcmread(io.BytesIO(encode(seg)))


def drop_segment(seg: Dataset, number: int) -> None:
    """Remove segment ``number``'s item from SegmentSequence."""
    seg.SegmentSequence = [i for i in seg.SegmentSequence if int(i.SegmentNumber) != number]


@dataclass(frozen=True)
class Variant:
    """A LABELMAP SEG holding :func:`organ_labels` and the background segments it lists."""

    seg: Dataset
    skipped: list[SkippedSegment]


def highdicom_background(images: list[Dataset], syntax: str) -> Variant:
    """highdicom's own: segment 0 "Background", PixelPaddingValue 0."""
    seg = labelmap_seg(images, organ_labels(), ORGANS, syntax)
    assert seg.PixelPaddingValue == 0
    assert seg.SegmentSequence[0].SegmentLabel == "Background"
    return Variant(seg, [SkippedSegment(0, "Background", "background")])


def zero_without_padding(images: list[Dataset], syntax: str) -> Variant:
    """Segment 0 "Background" and no PixelPaddingValue."""
    seg = labelmap_seg(images, organ_labels(), ORGANS, syntax)
    del seg.PixelPaddingValue
    return Variant(seg, [SkippedSegment(0, "Background", "background")])


def padding_five(label: str) -> Callable[[list[Dataset], str], Variant]:
    """Segment 5 ``label`` is the PixelPaddingValue: the background voxels hold 5 (slice 0
    too, so no frame is left out), and there is no segment 0."""

    def make(images: list[Dataset], syntax: str) -> Variant:
        organs = organ_labels()
        encoded = np.where(organs == 0, 5, organs).astype(np.uint8)
        seg = labelmap_seg(images, encoded, {**ORGANS, 5: label}, syntax)
        assert int(seg.NumberOfFrames) == SHAPE[0]
        drop_segment(seg, 0)
        seg.PixelPaddingValue = 5
        return Variant(seg, [SkippedSegment(5, label, "background")])

    return make


def labelled_background_four(images: list[Dataset], syntax: str) -> Variant:
    """Besides highdicom's segment 0, segment 4 labelled " BACKGROUND" (not the
    PixelPaddingValue, 0) holding voxels of its own."""
    organs = organ_labels()
    encoded = organs.copy()
    encoded[0, 3:8, 2:6] = 4
    encoded[3, 0, :] = 4
    # pydicom strips an LO's trailing spaces when it reads one; the leading one stays.
    seg = labelmap_seg(images, encoded, {**ORGANS, 4: " BACKGROUND"}, syntax)
    return Variant(
        seg,
        [
            SkippedSegment(0, "Background", "background"),
            SkippedSegment(4, " BACKGROUND", "background"),
        ],
    )


VARIANTS = {
    "highdicom-0": highdicom_background,
    "0-without-padding": zero_without_padding,
    "5-background-padding": padding_five("Background"),
    "5-padding-labelled-air": padding_five("Air"),
    "4-labelled-background": labelled_background_four,
}


@pytest.mark.parametrize("syntax", SYNTAXES, ids=lambda uid: UID(uid).name)
@pytest.mark.parametrize("variant", VARIANTS)
def test_background_is_listed_apart_and_its_voxels_are_0(variant: str, syntax: str) -> None:
    images = ct()
    made = VARIANTS[variant](images, syntax)
    description = describe_seg(made.seg)
    assert list(description.skipped) == made.skipped
    assert [(s.number, s.label) for s in description.segments] == list(ORGANS.items())
    labelmap = to_labelmap(made.seg, images, LabelMapOptions(), Settings())
    assert [(s.number, s.label) for s in labelmap.segments] == list(ORGANS.items())
    assert labelmap.layers.shape == (1, *SHAPE)
    np.testing.assert_array_equal(labelmap.layers[0], organ_labels())


@pytest.mark.parametrize("syntax", SYNTAXES, ids=lambda uid: UID(uid).name)
def test_selection_leaves_the_background_out(syntax: str) -> None:
    images = ct()
    made = padding_five("Background")(images, syntax)
    labelmap = to_labelmap(made.seg, images, LabelMapOptions(segments=(2,)), Settings())
    assert [s.number for s in labelmap.segments] == [2]
    organs = organ_labels()
    np.testing.assert_array_equal(labelmap.layers[0], np.where(organs == 2, 2, 0))
    # The background is never offered: asking for it is asking for a segment the SEG lacks.
    with pytest.raises(BadRequestError, match=r"\[5\]"):
        to_labelmap(made.seg, images, LabelMapOptions(segments=(5,)), Settings())


def test_binary_segment_labelled_background_is_a_segment() -> None:
    images = ct()
    organs = organ_labels()
    masks = np.stack([organs == 1, organs == 2], axis=-1)
    seg = builders.seg(images, masks, ["Liver", "Background"])
    # PixelPaddingValue is the LABELMAP's background mark: a BINARY SEG holding one keeps
    # its segment of that number too.
    seg.PixelPaddingValue = 1
    description = describe_seg(seg)
    assert description.skipped == ()
    assert [(s.number, s.label) for s in description.segments] == [(1, "Liver"), (2, "Background")]
    labelmap = to_labelmap(seg, images, LabelMapOptions(), Settings())
    np.testing.assert_array_equal(labelmap.mask(1), organs == 1)
    np.testing.assert_array_equal(labelmap.mask(2), organs == 2)


@pytest.mark.parametrize("variant", ["highdicom-0", "5-background-padding"])
def test_rle_labelmap_seg_through_orthanc(orthanc: OrthancServer, variant: str) -> None:
    images = ct()
    for image in images:
        orthanc.upload(encode(image))
    made = VARIANTS[variant](images, RLELossless)
    seg_id = orthanc.upload(encode(made.seg))
    response = orthanc.get(f"/instances/{seg_id}/segmesh/segments")
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["SOPClassUID"] == LABEL_MAP_SEGMENTATION_STORAGE
    assert answer["MissingSeries"] == []
    assert [(s["Number"], s["Label"]) for s in answer["Segments"]] == list(ORGANS.items())
    assert answer["Skipped"] == [skipped.to_json() for skipped in made.skipped]
    response = orthanc.get(f"/instances/{seg_id}/segmesh/labelmap?format=npz")
    assert response.status_code == 200, response.text
    with np.load(io.BytesIO(response.content)) as archive:
        labels, segments = archive["labels"], json.loads(str(archive["segments"]))
    assert [(s["Number"], s["Label"]) for s in segments] == list(ORGANS.items())
    assert labels.shape == (1, *SHAPE)
    np.testing.assert_array_equal(labels[0], organ_labels())
