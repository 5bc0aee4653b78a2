"""Entry points by kind: describe any supported source."""

from __future__ import annotations

from pydicom.dataset import Dataset

from .description import SourceDescription
from .kinds import Kind, kind_of
from .rtstruct import describe_rtstruct
from .seg import describe_seg


def describe(dataset: Dataset) -> SourceDescription:
    """Segments, frame of reference and referenced series of a SEG or RT-STRUCT."""
    if kind_of(dataset) is Kind.SEG:
        return describe_seg(dataset)
    return describe_rtstruct(dataset)
