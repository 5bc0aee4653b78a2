"""``GET /instances/{id}/segmesh/labelmap``: the label map of a SEG or RT-STRUCT as a file."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ...errors import BadRequestError
from ...formats import Format
from ...options import LabelMapOptions
from ...service.tasks.context import TaskContext
from ...service.tasks.labelmap_files import labelmap_file
from ..http import (
    INSTANCE_ROUTE,
    WARNINGS_HEADER,
    Answer,
    Request,
    json_header_value,
    register_route,
)

#: Values of ``include=``.
INCLUDES = ("image",)
#: Where the label map came from: ``cache``, ``attachment`` (the source's label-map
#: attachment) or ``decoded`` (this request decoded the source).
ORIGIN_HEADER = "X-SegMesh-LabelMap-Origin"


@dataclass(frozen=True)
class LabelMapRequest:
    """A parsed label map request: conversion options, file format, extra volumes."""

    options: LabelMapOptions
    file_format: Format
    include_image: bool

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> LabelMapRequest:
        """``format=nifti|nrrd|npz|hdf5`` (default nifti), ``include=image``, and the options of
        :meth:`LabelMapOptions.from_query`."""
        options = LabelMapOptions.from_query(query)
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
        return cls(options, file_format, "image" in include)


class LabelMapRoute:
    """The route, with the context its work runs in."""

    def __init__(self, context: TaskContext) -> None:
        self.context = context

    def labelmap(self, request: Request) -> Answer:
        """Convert one instance and answer the file, its warnings in ``X-SegMesh-Warnings``."""
        instance_id = request.groups[0]
        parsed = LabelMapRequest.from_query(request.query)
        loaded, exported = labelmap_file(
            instance_id, parsed.options, parsed.file_format, parsed.include_image, self.context
        )
        filename = f"{instance_id}{exported.extension}"
        return Answer(
            exported.body,
            exported.mime_type,
            {
                "Content-Disposition": f'attachment; filename="{filename}"',
                WARNINGS_HEADER: json_header_value(loaded.labelmap.warnings()),
                ORIGIN_HEADER: loaded.origin.value,
            },
        )

    def register(self) -> None:
        """Register the route."""
        register_route(
            f"{INSTANCE_ROUTE}/labelmap", ("GET",), self.labelmap, audit="segmesh-labelmap"
        )
