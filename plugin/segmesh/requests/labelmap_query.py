"""The query of the label-map and statistics routes: the label map's options
(``segments``, ``grid``, ``threshold``, ``spacing``) and what the answer is (``format``,
``include``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from ..errors import BadRequestError
from ..formats import Format
from ..options import Grid, LabelMapOptions
from .values import parse_integers, parse_number

#: Values of ``include=``.
INCLUDES = ("image",)


class StatisticsFormat(StrEnum):
    """What the statistics route answers."""

    JSON = "json"
    CSV = "csv"


@dataclass(frozen=True)
class LabelMapRequest:
    """A parsed label map request: conversion options, file format, extra volumes."""

    options: LabelMapOptions
    file_format: Format
    include_image: bool


@dataclass(frozen=True)
class StatisticsRequest:
    """A parsed statistics request: the label map's options and the answer's format."""

    options: LabelMapOptions
    answer_format: StatisticsFormat


def labelmap_options(query: Mapping[str, str]) -> LabelMapOptions:
    """Parse ``segments=1,4``, ``grid=source|native``, ``threshold=0.5``, ``spacing=x,y,z``."""
    segments = None
    if query.get("segments"):
        segments = parse_integers(query["segments"], "segments")
    grid = None
    if query.get("grid"):
        try:
            grid = Grid(query["grid"])
        except ValueError as error:
            raise BadRequestError(
                "Bad parameter grid", f"{query['grid']!r}: use source or native"
            ) from error
    threshold = 0.5
    if "threshold" in query:
        threshold = parse_number(query["threshold"], "threshold")
        if not 0.0 < threshold <= 1.0:
            raise BadRequestError("Bad parameter threshold", "must be in (0, 1]")
    spacing = None
    if query.get("spacing"):
        values = [parse_number(v, "spacing") for v in query["spacing"].split(",")]
        if len(values) != 3 or min(values) <= 0:
            raise BadRequestError("Bad parameter spacing", "give three positive mm: x,y,z")
        spacing = (values[0], values[1], values[2])
    return LabelMapOptions(segments, grid, threshold, spacing)


def labelmap_request(query: Mapping[str, str]) -> LabelMapRequest:
    """``format=nifti|nrrd|npz|hdf5`` (default nifti), ``include=image``, and the options of
    :func:`labelmap_options`."""
    options = labelmap_options(query)
    text = query.get("format") or Format.NIFTI.value
    try:
        file_format = Format(text)
    except ValueError as error:
        choices = ", ".join(f.value for f in Format)
        raise BadRequestError("Bad parameter format", f"{text!r}: use {choices}") from error
    include = [part for part in (query.get("include") or "").split(",") if part]
    unknown = sorted(set(include) - set(INCLUDES))
    if unknown:
        raise BadRequestError("Bad parameter include", f"{unknown}: use {', '.join(INCLUDES)}")
    if "image" in include and file_format is Format.NRRD:
        raise BadRequestError("Bad parameter include", "include=image: use nifti, npz or hdf5")
    return LabelMapRequest(options, file_format, "image" in include)


def statistics_request(query: Mapping[str, str]) -> StatisticsRequest:
    """``format=json|csv`` (default json) and the options of :func:`labelmap_options`."""
    options = labelmap_options(query)
    text = query.get("format") or StatisticsFormat.JSON.value
    try:
        answer_format = StatisticsFormat(text)
    except ValueError as error:
        raise BadRequestError("Bad parameter format", f"{text!r}: use json or csv") from error
    return StatisticsRequest(options, answer_format)
