"""Multipart bodies (``curl -H 'Content-Type: multipart/related' -F ...``), split into named
parts without copying the file part through a MIME parser (label maps are hundreds of
megabytes). Orthanc takes multipart/form-data apart itself, so plugins see the other types."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import BadRequestError

_BOUNDARY = re.compile(r'boundary="?([^";]+)"?', re.IGNORECASE)
_NAME = re.compile(rb'name="([^"]*)"', re.IGNORECASE)


@dataclass(frozen=True)
class Part:
    """One part: its form ``name``, its ``content_type`` ("" where not given) and bytes."""

    name: str
    content_type: str
    data: bytes


def is_multipart(content_type: str) -> bool:
    """Whether a request's Content-Type is multipart (related, mixed, ...)."""
    return content_type.lower().startswith("multipart/")


def parts(body: bytes, content_type: str) -> list[Part]:
    """The parts of a multipart ``body``; 400 where it is malformed."""
    match = _BOUNDARY.search(content_type)
    if match is None:
        raise BadRequestError("Bad multipart body", "Content-Type names no boundary")
    delimiter = b"--" + match.group(1).encode("latin-1")
    pieces = body.split(delimiter)
    if len(pieces) < 3 or not pieces[-1].startswith(b"--"):
        raise BadRequestError("Bad multipart body", "no closing boundary")
    found = []
    for piece in pieces[1:-1]:
        head, separator, data = piece.partition(b"\r\n\r\n")
        if not separator or not data.endswith(b"\r\n"):
            raise BadRequestError("Bad multipart body", "a part without headers")
        name = _NAME.search(head)
        kind = re.search(rb"content-type:\s*([^\r\n;]+)", head, re.IGNORECASE)
        found.append(
            Part(
                name.group(1).decode("utf-8", "replace") if name else "",
                kind.group(1).decode("latin-1").strip().lower() if kind else "",
                data[:-2],
            )
        )
    return found
