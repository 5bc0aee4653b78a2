"""The body of ``POST /segmesh/datasets``: which sources, what file, which labels.

Fields: ``Resources`` or ``Query``, ``Format``, ``Labels``, ``Spacing``, ``CaseNames``,
``DatasetName`` and ``ChannelName`` (see :mod:`segmesh.datasets.dataset_request`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from enum import StrEnum
from typing import Any, TypeVar

from ..datasets.dataset_request import CaseNaming, DatasetFormat, DatasetRequest
from ..datasets.training_labels import (
    MAX_LABELS,
    TrainingLabel,
    TrainingLabels,
    code_matcher,
    label_matcher,
)
from ..errors import BadRequestError

FIELDS = (
    "Resources",
    "Query",
    "Format",
    "Labels",
    "Spacing",
    "CaseNames",
    "DatasetName",
    "ChannelName",
)
E = TypeVar("E", bound=StrEnum)
#: nnU-Net v2's dataset folder name: ``Dataset`` and three digits, then a name.
DATASET_NAME = re.compile(r"Dataset\d{3}_[A-Za-z0-9_-]+")
#: A coding scheme designator: what makes ``"SCT:10200004"`` a code rather than a label.
_SCHEME = re.compile(r"[A-Z0-9-]+")


def dataset_request(body: Mapping[str, Any]) -> DatasetRequest:
    """Parse the body; 400 naming the first bad field."""
    unknown = sorted(set(body) - set(FIELDS))
    if unknown:
        raise BadRequestError("Unknown parameters", f"{unknown}; known: {list(FIELDS)}")
    resources, query = _resources(body.get("Resources")), body.get("Query")
    if (resources is None) == (query is None):
        raise BadRequestError("Bad parameters", "give either Resources or Query")
    if query is not None and not isinstance(query, dict):
        raise BadRequestError("Bad parameter Query", "the JSON body of /tools/find")
    return DatasetRequest(
        resources=resources or (),
        query=query,
        format=_choice(DatasetFormat, body.get("Format", "nnunet"), "Format"),
        labels=training_labels(body.get("Labels")),
        spacing=_spacing(body.get("Spacing")),
        case_naming=_choice(CaseNaming, body.get("CaseNames", "Hash"), "CaseNames"),
        dataset_name=_dataset_name(body.get("DatasetName", "Dataset001_segmesh")),
        channel_name=_text(body.get("ChannelName"), "ChannelName"),
    )


def training_labels(value: Any) -> TrainingLabels | None:
    """The request's ``Labels``: {name: matcher or [matchers]} with values 1, 2, ... in order;
    None where absent (the labels are then derived from the segments:
    :meth:`TrainingLabels.from_segments`). 400 if malformed."""
    if value is None:
        return None
    if not isinstance(value, dict) or not value:
        raise BadRequestError("Bad parameter Labels", "a non-empty object {name: matchers}")
    if len(value) > MAX_LABELS:
        raise BadRequestError("Bad parameter Labels", f"more than {MAX_LABELS} labels")
    labels: list[TrainingLabel] = []
    owners: dict[str, str] = {}
    seen: set[str] = set()
    for number, (raw_name, raw_matchers) in enumerate(value.items(), start=1):
        name = raw_name.strip()
        if not name or name.casefold() == "background":
            raise BadRequestError(
                "Bad parameter Labels", f"{raw_name!r}: not a name (background is value 0)"
            )
        if name.casefold() in seen:
            raise BadRequestError("Bad parameter Labels", f"{name!r} is named twice")
        seen.add(name.casefold())
        listed = raw_matchers if isinstance(raw_matchers, list) else [raw_matchers]
        if not listed:
            raise BadRequestError("Bad parameter Labels", f"{name}: no matcher")
        matchers = tuple(dict.fromkeys(_matcher(text, name) for text in listed))
        for matcher in matchers:
            if owners.setdefault(matcher, name) != name:
                raise BadRequestError(
                    "Bad parameter Labels",
                    f"{matcher} is listed under both {owners[matcher]} and {name}",
                )
        labels.append(TrainingLabel(number, name, matchers))
    return TrainingLabels(tuple(labels))


def _matcher(text: Any, name: str) -> str:
    """A code where ``text`` reads ``SCHEME:value``, else a label."""
    if not isinstance(text, str) or not text.strip():
        raise BadRequestError("Bad parameter Labels", f"{name}: a matcher is a non-empty string")
    scheme, colon, value = text.strip().partition(":")
    if colon and _SCHEME.fullmatch(scheme) and value.strip():
        return code_matcher(scheme, value.strip())
    return label_matcher(text)


def _resources(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(item, str) and item for item in value)
    ):
        raise BadRequestError("Bad parameter Resources", "a non-empty list of Orthanc ids")
    return tuple(dict.fromkeys(value))


def _choice(kind: type[E], value: Any, name: str) -> E:
    try:
        return kind(value)
    except ValueError as error:
        raise BadRequestError(
            f"Bad parameter {name}", f"{value!r}: one of {[item.value for item in kind]}"
        ) from error


def _spacing(value: Any) -> tuple[float, float, float] | None:
    if value is None:
        return None
    if (
        not isinstance(value, list)
        or len(value) != 3
        or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
        or not all(0 < v < 1000 for v in value)
    ):
        raise BadRequestError("Bad parameter Spacing", "[x, y, z] mm, each above 0")
    return (float(value[0]), float(value[1]), float(value[2]))


def _dataset_name(value: Any) -> str:
    if not isinstance(value, str) or not DATASET_NAME.fullmatch(value):
        raise BadRequestError(
            "Bad parameter DatasetName", f"{value!r}: nnU-Net's form, Dataset001_Name"
        )
    return value


def _text(value: Any, name: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise BadRequestError(f"Bad parameter {name}", "a non-empty text")
    return value.strip()
