"""What the running orthanc-python offers, detected once, so the adapter has one code path.

orthanc-python 4.2 fixed the signature of ``RestOutput.SendHttpStatus``: 4.0 and 4.1 take
``(status, body as str, size)``, 4.2 and later ``(status, body)``. The same release added
``orthanc.RegisterMoveCallback2`` (NEWS, 4.2), which is how the variant is told apart: a wrong
guess would turn every error answer into Orthanc's 500 "Error encountered within the plugin
engine".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orthanc

SendStatus = Callable[[Any, int, bytes], None]


def _send_status_sized(output: Any, status: int, body: bytes) -> None:
    # 4.0 and 4.1 take a str and its length; the bodies here are ASCII, so both counts agree.
    text = body.decode("ascii")
    output.SendHttpStatus(status, text, len(text))


def _send_status(output: Any, status: int, body: bytes) -> None:
    output.SendHttpStatus(status, body)


HAS_FIXED_SEND_HTTP_STATUS = hasattr(orthanc, "RegisterMoveCallback2")

#: Answers ``status`` with ``body`` (ASCII bytes) on the running orthanc-python.
send_status: SendStatus = _send_status if HAS_FIXED_SEND_HTTP_STATUS else _send_status_sized


def variant() -> str:
    """One line saying which SDK variant is in use, for the start-up log."""
    if HAS_FIXED_SEND_HTTP_STATUS:
        return "orthanc-python 4.2 or newer (SendHttpStatus(status, body))"
    return "orthanc-python 4.0/4.1 (SendHttpStatus(status, text, size))"
