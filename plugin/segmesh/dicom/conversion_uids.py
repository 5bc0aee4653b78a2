"""Deterministic UIDs of converted objects: converting the same thing twice gives the same UIDs,
so a repeated request stores over the earlier result instead of beside it."""

from __future__ import annotations

from collections.abc import Sequence

from pydicom.uid import UID, generate_uid

from . import __version__


def conversion_uid(source_uid: str, target: str, numbers: Sequence[int], role: str) -> UID:
    """A UID from the source SOPInstanceUID, the target type (``SEG``, ``LABELMAP``,
    ``RTSTRUCT``), the selected segment numbers, segmesh's version and ``role`` (``series``,
    ``instance 1``, ...)."""
    selection = ",".join(str(number) for number in numbers)
    return generate_uid(
        entropy_srcs=["segmesh-convert", __version__, source_uid, target, selection, role]
    )
