"""``GET /segmesh/app/…``: the web viewer's static files, and the Orthanc Explorer extension.

Files are served only from segmesh's own ``app`` folder. A request whose path climbs out of it
(``..``, encoded or double-encoded, backslashes, absolute paths, symbolic links leading out) or
names a hidden file is a 404, whatever the spelling.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path
from urllib.parse import unquote

from ...errors import NotFoundError
from ..http import Answer, Request, register_route

APP_DIR = Path(__file__).resolve().parents[2] / "app"
EXPLORER_EXTENSION = "explorer-extension.js"
#: The viewer, relative to Orthanc's root: what Orthanc Explorer 2's list of plugins links to.
VIEWER_URI = "segmesh/app/viewer.html"

_MIME_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".map": "application/json",
}


def resolve_app_path(relative: str, root: Path = APP_DIR) -> Path:
    """The file under ``root`` that ``relative`` (as received, maybe percent-encoded) names;
    :class:`NotFoundError` for anything else."""
    decoded = relative
    for _ in range(4):  # undo double (or deeper) percent-encoding
        once = unquote(decoded)
        if once == decoded:
            break
        decoded = once
    else:
        raise NotFoundError("Unknown file", relative)
    parts = decoded.split("/")
    if (
        "\\" in decoded
        or "\x00" in decoded
        or any(part in ("", ".", "..") or part.startswith(".") for part in parts)
    ):
        raise NotFoundError("Unknown file", relative)
    root = root.resolve()
    path = root.joinpath(*parts).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        raise NotFoundError("Unknown file", relative)
    return path


def static_file(request: Request) -> Answer:
    """One file of the app folder, with its MIME type."""
    path = resolve_app_path(request.groups[0])
    mime_type = _MIME_TYPES.get(path.suffix) or (
        mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    )
    return Answer(path.read_bytes(), mime_type, {"Cache-Control": "no-cache"})


def explorer_javascript() -> str:
    """segmesh's buttons in Orthanc Explorer (``orthanc.ExtendOrthancExplorer``)."""
    return (APP_DIR / EXPLORER_EXTENSION).read_text(encoding="utf-8")


def register() -> None:
    """Register the static route."""
    register_route(r"/segmesh/app/(.*)", ("GET",), static_file)
