"""Deterministic UIDs of converted objects: converting the same thing twice gives the same UIDs,
so a repeated request stores over the earlier result instead of beside it."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from pydicom.uid import UID, generate_uid

from .. import __version__


def conversion_uid(
    source_uid: str,
    target: str,
    numbers: Sequence[int],
    role: str,
    tags: Mapping[str, Any] | None = None,
) -> UID:
    """A UID from the source SOPInstanceUID, the target type (``SEG``, ``LABELMAP``,
    ``RTSTRUCT``), the selected segment numbers, segmesh's version, ``role`` (``series``,
    ``instance 1``, ...) and the request's ``tags`` (other attributes, other objects)."""
    selection = ",".join(str(number) for number in numbers)
    sources = ["segmesh-convert", __version__, source_uid, target, selection, role]
    if tags:
        sources.append(json.dumps(dict(tags), sort_keys=True, default=str))
    return generate_uid(entropy_srcs=sources)
