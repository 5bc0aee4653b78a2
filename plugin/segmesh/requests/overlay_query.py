"""The overlay route's query: how the label map is drawn on an image."""

from __future__ import annotations

from collections.abc import Mapping

from ..errors import BadRequestError
from ..overlay import OverlayStyle
from .values import parse_integers, parse_number

#: The spellings of ``outline=`` taken for true and for false.
_TRUE = ("true", "1", "yes", "on")
_FALSE = ("false", "0", "no", "off")


def overlay_style(query: Mapping[str, str]) -> OverlayStyle:
    """Parse ``segments=1,4``, ``opacity=0..1`` and ``outline=true|false``."""
    segments = None
    if query.get("segments"):
        segments = parse_integers(query["segments"], "segments")
    opacity = 0.5
    if "opacity" in query:
        opacity = parse_number(query["opacity"], "opacity")
        if not 0.0 <= opacity <= 1.0:
            raise BadRequestError("Bad parameter opacity", "must be between 0 and 1")
    outline = False
    if "outline" in query:
        text = query["outline"].strip().lower()
        if text not in _TRUE + _FALSE:
            raise BadRequestError("Bad parameter outline", f"{query['outline']!r}: true|false")
        outline = text in _TRUE
    return OverlayStyle(segments, opacity, outline)
