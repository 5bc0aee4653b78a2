"""What a SEG or RT-STRUCT holds, without decoding pixels or contours."""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .dicom.sop_classes import Kind
from .labelmap import Segment


@dataclass(frozen=True)
class SkippedSegment:
    """A segment that will not be converted, and why."""

    number: int
    label: str
    reason: str

    def to_json(self) -> dict[str, Any]:
        """JSON-ready description."""
        return {"Number": self.number, "Label": self.label, "Reason": self.reason}


@dataclass(frozen=True)
class SourceDescription:
    """The segments of a SEG or RT-STRUCT and what they refer to."""

    kind: Kind
    sop_class_uid: str
    frame_of_reference_uid: str
    referenced_series_uids: tuple[str, ...]
    segments: tuple[Segment, ...]
    skipped: tuple[SkippedSegment, ...] = ()

    def to_json(
        self, referenced_series_ids: Sequence[str], missing_series_uids: Sequence[str]
    ) -> dict[str, Any]:
        """The JSON of the segments route; series ids are those of the Orthanc that answers."""
        return {
            "Kind": self.kind.value,
            "SOPClassUID": self.sop_class_uid,
            "FrameOfReferenceUID": self.frame_of_reference_uid,
            "ReferencedSeries": list(referenced_series_ids),
            "MissingSeries": list(missing_series_uids),
            "Segments": [segment.to_json(placed=False) for segment in self.segments],
            "Skipped": [skipped.to_json() for skipped in self.skipped],
        }

    def to_json_text(
        self, referenced_series_ids: Sequence[str], missing_series_uids: Sequence[str]
    ) -> str:
        """:meth:`to_json` as JSON text, its segments encoded once per description: 3000
        segments with their codes take 20 ms to encode, on every request of the route."""
        head = self.to_json(referenced_series_ids, missing_series_uids)
        del head["Segments"], head["Skipped"]
        return json.dumps(head)[:-1] + ", " + self._segments_text[1:]

    @functools.cached_property
    def _segments_text(self) -> str:
        """``{"Segments": [...], "Skipped": [...]}`` as JSON text."""
        return json.dumps(
            {
                "Segments": [segment.to_json(placed=False) for segment in self.segments],
                "Skipped": [skipped.to_json() for skipped in self.skipped],
            }
        )
