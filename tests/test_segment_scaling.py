"""Nothing quadratic in the number of segments: the elements of the label map's layers and of
a SEG's frame list that decoding and each answer visit stay about the same for 10, 100 and
1000 small segments on one grid (a per-segment pass over the whole volume or the whole frame
list would multiply them by the segments)."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from functools import cache
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from pydicom.dataset import Dataset

from segmesh.conversions import Target, convert
from segmesh.formats import to_nifti, to_npz, to_seg_nrrd
from segmesh.geometry import geometry_from_images
from segmesh.labelmap import LabelMap, Segment
from segmesh.mesh.surfaces import SegmentCrop
from segmesh.options import LabelMapOptions
from segmesh.overlay import OverlayStyle, render
from segmesh.rtstruct.from_labelmap import labelmap_to_rtstruct
from segmesh.seg import reader
from segmesh.settings import Settings
from segmesh.statistics import segment_statistics
from tests import builders

SHAPE = (40, 96, 96)  # slices, rows, columns
COUNTS = (10, 100, 1000)


class Counted(np.ndarray):
    """An array that adds the size of every ufunc operand of its kind (comparisons, reductions
    such as ``any``) to :data:`VISITED`; views and results stay counted."""

    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        VISITED[0] += sum(int(x.size) for x in inputs if isinstance(x, Counted))
        plain = [x.view(np.ndarray) if isinstance(x, Counted) else x for x in inputs]
        out = kwargs.get("out")
        if out is not None:
            kwargs["out"] = tuple(x.view(np.ndarray) if isinstance(x, Counted) else x for x in out)
        result = getattr(ufunc, method)(*plain, **kwargs)
        return result.view(Counted) if isinstance(result, np.ndarray) else result


VISITED = [0]


def counted(work: Callable[[], object]) -> int:
    """Elements of counted arrays that ``work`` visited."""
    VISITED[0] = 0
    work()
    return VISITED[0]


@cache
def study(count: int) -> tuple[list[Dataset], Dataset, LabelMap]:
    """A CT, a BINARY SEG of ``count`` structures (a tenth overlapping), and its label map with
    counted layers."""
    base, extra = builders.scattered_structures(SHAPE, count, count // 10)
    images = builders.ct_series(SHAPE, (1.0, 1.0, 2.0), study=builders.study_dataset())
    seg = builders.many_segments_seg(images, base, extra)
    geometry = geometry_from_images(images)[0]
    segments = tuple(
        Segment(n, f"Structure {n}", (n % 256, 40, 90), 1 if n > count - count // 10 else 0)
        for n in range(1, count + 1)
    )
    layers = np.stack([base, extra]).view(Counted)
    return images, seg, LabelMap(layers, geometry, segments)


def assert_linear(visits: dict[int, int]) -> None:
    """Visits within a few passes over the whole layers plus a few over each segment's own
    box, for every count: a pass over the whole volume per segment is ``count`` x volume, a
    hundred times that bound at 1000 segments."""
    for count, seen in visits.items():
        _, _, labelmap = study(count)
        boxes = sum(
            int(np.prod([s.stop - s.start for s in box]))
            for segment in labelmap.segments
            if (box := labelmap.box(segment)) is not None
        )
        assert seen <= 4 * labelmap.layers.size + 10 * boxes, (count, visits, boxes)


def decode(seg: Dataset, images: list[Dataset]) -> Callable[[], object]:
    return lambda: reader.seg_to_labelmap(seg, images, LabelMapOptions(), Settings())


def test_decoding_visits_the_frame_list_a_fixed_number_of_times(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    read = reader.read_seg_frames

    def read_counted(dataset: Dataset) -> Any:
        frames = read(dataset)
        return dataclasses.replace(frames, segment_numbers=frames.segment_numbers.view(Counted))

    monkeypatch.setattr(reader, "read_seg_frames", read_counted)
    visits = {}
    for count in COUNTS:
        images, seg, _ = study(count)
        visits[count] = counted(decode(seg, images))
    # A frame list of about 5 frames a structure: a pass per segment is ~count x frames.
    frames = {count: int(study(count)[1].NumberOfFrames) for count in COUNTS}
    assert visits[1000] <= 4 * frames[1000], (visits, frames)


ANSWERS: dict[str, Callable[[list[Dataset], Dataset, LabelMap], object]] = {
    "statistics": lambda images, seg, labelmap: segment_statistics(labelmap),
    "npz": lambda images, seg, labelmap: to_npz(labelmap),
    "nifti": lambda images, seg, labelmap: to_nifti(labelmap),
    "seg.nrrd": lambda images, seg, labelmap: to_seg_nrrd(labelmap),
    "overlay": lambda images, seg, labelmap: render(
        labelmap.layers[:, 17], labelmap.segments, OverlayStyle()
    ),
    "model crops": lambda images, seg, labelmap: [
        SegmentCrop.cut(labelmap, s, box)
        for s in labelmap.segments
        if (box := labelmap.box(s)) is not None
    ],
    "rtstruct": lambda images, seg, labelmap: labelmap_to_rtstruct(seg, labelmap, images),
    "labelmap seg": lambda images, seg, labelmap: convert(
        seg, labelmap, images, Target.LABELMAP, split=True
    ),
}


@pytest.mark.parametrize("answer", list(ANSWERS))
def test_answers_visit_the_volume_a_fixed_number_of_times(answer: str) -> None:
    visits = {}
    for count in COUNTS:
        images, seg, labelmap = study(count)
        # A fresh label map: boxes found by an earlier answer are not reused.
        fresh = LabelMap(labelmap.layers, labelmap.geometry, labelmap.segments)
        visits[count] = counted(functools.partial(ANSWERS[answer], images, seg, fresh))
    assert_linear(visits)


def test_the_counter_sees_a_pass_per_segment() -> None:
    """The wrapper itself: one whole-volume comparison per segment is counted as such."""
    _, _, labelmap = study(100)

    def masks() -> list[npt.NDArray[np.bool_]]:
        return [labelmap.layers[s.layer] == s.value for s in labelmap.segments]

    assert counted(masks) == 100 * np.prod(SHAPE)
