"""The labels of a training dataset: names with values 1..N, and which segments they take.

A matcher is a segment label, compared casefolded and stripped, or a code
``"<CodingSchemeDesignator>:<CodeValue>"`` (``"SCT:10200004"``) compared with a SEG segment's
property type. Matchers are kept normalised: a label as ``"liver"``, a code as
``"CODE:SCT:10200004"`` (casefolding never yields upper case, so the two cannot collide).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from ..errors import UnprocessableError
from ..labelmap import Segment

#: Most training labels: a uint16 label map holds 65535 besides the background.
MAX_LABELS = 65535


def label_matcher(label: str) -> str:
    """A label as a matcher: casefolded and stripped."""
    return label.strip().casefold()


def code_matcher(scheme: str, value: str) -> str:
    """A code as a matcher (``CODE:SCT:10200004``): never equal to a label's, which casefolding
    keeps lower case."""
    return f"CODE:{scheme}:{value}"


def _label_key(segment: Segment) -> str:
    """The label matcher of a segment; an unlabelled one answers to "segment <number>"."""
    return label_matcher(segment.label) or f"segment {segment.number}"


def _code_key(segment: Segment) -> str | None:
    """The code matcher of a segment's property type (``attributes["Type"]``, as the SEG reader
    fills it); None for an RT-STRUCT ROI, which has no type code."""
    code = segment.attributes.get("Type")
    if not isinstance(code, Mapping):
        return None
    scheme, value = str(code.get("CodingSchemeDesignator", "")), str(code.get("CodeValue", ""))
    return code_matcher(scheme, value) if scheme and value else None


def _natural(key: str) -> list[tuple[int, int | str]]:
    """Sort key of a label with its runs of digits compared as numbers."""
    return [(0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"(\d+)", key)]


@dataclass(frozen=True)
class TrainingLabel:
    """``value`` 1..N in the training label map, the dataset's ``name`` and its ``matchers``."""

    value: int
    name: str
    matchers: tuple[str, ...]


@dataclass(frozen=True)
class CaseLabels:
    """One case's segments: ``values`` segment number -> training value for those matched,
    ``unmatched`` the labels of those left out."""

    values: Mapping[int, int]
    unmatched: tuple[str, ...]


@dataclass(frozen=True)
class TrainingLabels:
    """The training labels in value order (a request's, parsed by
    :func:`segmesh.requests.dataset_body.training_labels`, or :meth:`from_segments`)."""

    labels: tuple[TrainingLabel, ...]

    @classmethod
    def from_segments(cls, segments: Iterable[Segment]) -> TrainingLabels:
        """One label per distinct segment label (casefolded, stripped), sorted with numbers by
        their value ("segment 2" before "segment 10"), named by its
        first spelling; segments labelled "background" are left out (value 0 is background)."""
        names: dict[str, str] = {}
        for segment in segments:
            key = _label_key(segment)
            if key != "background":
                names.setdefault(key, segment.label.strip() or key)
        if len(names) > MAX_LABELS:
            raise UnprocessableError("Too many labels", f"{len(names)} above {MAX_LABELS}")
        return cls(
            tuple(
                TrainingLabel(value, names[key], (key,))
                for value, key in enumerate(sorted(names, key=_natural), start=1)
            )
        )

    @functools.cached_property
    def _by_matcher(self) -> dict[str, TrainingLabel]:
        # First label wins, as assign promises, should a directly built instance repeat one.
        found: dict[str, TrainingLabel] = {}
        for label in self.labels:
            for matcher in label.matchers:
                found.setdefault(matcher, label)
        return found

    def _match(self, segment: Segment) -> TrainingLabel | None:
        code = _code_key(segment)
        hits = [self._by_matcher.get(key) for key in (_label_key(segment), code) if key]
        found = [label for label in hits if label is not None]
        return min(found, key=lambda label: label.value) if found else None

    def assign(self, segments: Sequence[Segment]) -> CaseLabels:
        """The training value of each of one case's segments; 422 where two take one value."""
        values: dict[int, int] = {}
        taken: dict[int, Segment] = {}
        unmatched: list[str] = []
        for segment in segments:
            label = self._match(segment)
            if label is None:
                unmatched.append(segment.label or f"segment {segment.number}")
                continue
            other = taken.setdefault(label.value, segment)
            if other is not segment:
                raise UnprocessableError(
                    "Two segments map to one label",
                    f"segments {other.number} ({other.label}) and {segment.number} "
                    f"({segment.label}) both map to {label.name}",
                )
            values[segment.number] = label.value
        return CaseLabels(values, tuple(unmatched))

    def dataset_json_labels(self) -> dict[str, int]:
        """nnU-Net's ``labels``: {"background": 0, name: value, ...} in value order."""
        return {"background": 0, **{label.name: label.value for label in self.labels}}
