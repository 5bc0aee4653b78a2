"""What the running orthanc-python offers, detected once, so the adapter has one code path.

orthanc-python 4.2 fixed the signature of ``RestOutput.SendHttpStatus``: 4.0 and 4.1 take
``(status, body as str, size)``, 4.2 and later ``(status, body)``. The same release added
``orthanc.RegisterMoveCallback2`` (NEWS, 4.2), which is how the variant is told apart: a wrong
guess would turn every error answer into Orthanc's 500 "Error encountered within the plugin
engine".
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

import orthanc

SendStatus = Callable[[Any, int, bytes | memoryview], None]


def _send_status_sized(output: Any, status: int, body: bytes | memoryview) -> None:
    # 4.0 and 4.1 take a str and its length; the bodies here are ASCII, so both counts agree.
    text = bytes(body).decode("ascii")
    output.SendHttpStatus(status, text, len(text))


def _send_status(output: Any, status: int, body: bytes | memoryview) -> None:
    output.SendHttpStatus(status, body)


HAS_FIXED_SEND_HTTP_STATUS = hasattr(orthanc, "RegisterMoveCallback2")

#: Answers ``status`` with ``body`` (ASCII bytes) on the running orthanc-python.
send_status: SendStatus = _send_status if HAS_FIXED_SEND_HTTP_STATUS else _send_status_sized


def variant() -> str:
    """One line saying which SDK variant is in use, for the start-up log."""
    if HAS_FIXED_SEND_HTTP_STATUS:
        return "orthanc-python 4.2 or newer (SendHttpStatus(status, body))"
    return "orthanc-python 4.0/4.1 (SendHttpStatus(status, text, size))"


def set_root_uri(uri: str) -> None:
    """``orthanc.SetRootUri`` where the running orthanc-python has it (every release tested
    does; silent where absent)."""
    if hasattr(orthanc, "SetRootUri"):
        orthanc.SetRootUri(uri)


#: Orthanc's resource types by the first segment of a route.
_RESOURCE_TYPES = {
    "patients": "PATIENT",
    "studies": "STUDY",
    "series": "SERIES",
    "instances": "INSTANCE",
}


def emit_audit_log(
    user: str, level: str, resource_id: str, action: str, details: Mapping[str, Any]
) -> None:
    """An entry of Orthanc's audit log (``orthanc.EmitAuditLog``, Orthanc 1.12.9 and
    orthanc-python 6.0 on; silent where absent): ``user`` did ``action`` on the resource
    ``/{level}/{resource_id}``; ``details`` go with it as JSON. Orthanc hands it to the
    plugins that keep audit logs (the authorization plugin does)."""
    if not hasattr(orthanc, "EmitAuditLog"):
        return
    resource_type = getattr(orthanc.ResourceType, _RESOURCE_TYPES.get(level, "NONE"))
    body = json.dumps(dict(details), ensure_ascii=True).encode("ascii")
    orthanc.EmitAuditLog("segmesh", user, resource_type, resource_id, action, body)
