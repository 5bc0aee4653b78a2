"""Typed requests, JSON answers and the error mapping of every segmesh route, on whichever
orthanc-python runs.

orthanc-python 4.2 fixed the signature of ``RestOutput.SendHttpStatus``: 4.0 and 4.1 take
``(status, body as str, size)``, 4.2 and later ``(status, body)``. The same release added
``orthanc.RegisterMoveCallback2`` (NEWS, 4.2), which is how the variant is told apart: a wrong
guess would turn every error answer into Orthanc's 500 "Error encountered within the plugin
engine".
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orthanc

from .. import errors, timings
from ..errors import BadRequestError
from .host import ORTHANC_UNKNOWN_RESOURCE
from .query import PROBE_ROUTE, QueryDecoding

logger = logging.getLogger(__name__)

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


#: Resource routes sit under Orthanc's own resource paths, segmesh's prefix after the id, so
#: that Orthanc's authorization plugin can check them per resource (it parses only these).
INSTANCE_ROUTE = r"/instances/([^/]+)/segmesh"
SERIES_ROUTE = r"/series/([^/]+)/segmesh"
STUDY_ROUTE = r"/studies/([^/]+)/segmesh"

#: Response header of label-map answers: the conversion's warnings, a JSON list.
WARNINGS_HEADER = "X-SegMesh-Warnings"
#: Header values are cut to this many characters: clients and proxies refuse header lines of
#: 8 KiB or more (the npz and HDF5 answers hold every warning).
MAX_HEADER_VALUE = 4096


@dataclass(frozen=True)
class Request:
    """What Orthanc passes to a REST callback, typed."""

    method: str
    uri: str
    groups: tuple[str, ...]
    query: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    #: Header names in lower case, as Orthanc passes them.
    headers: Mapping[str, str] = field(default_factory=dict)

    def json_body(self) -> dict[str, Any]:
        """The body as a JSON object; an empty body is {}; anything else is a 400."""
        if not self.body.strip():
            return {}
        try:
            value = json.loads(self.body)
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise BadRequestError("Body is not JSON", str(error)) from error
        if not isinstance(value, dict):
            raise BadRequestError("Body is not a JSON object", type(value).__name__)
        return value


Handler = Callable[[Request], "Answer"]


@dataclass(frozen=True)
class Answer:
    """A successful answer: bytes (or a view of a file mapped in memory, which Orthanc sends
    from the page cache) and their MIME type, with optional extra headers."""

    body: bytes | memoryview
    mime_type: str
    headers: Mapping[str, str] = field(default_factory=dict)
    status: int = 200

    @classmethod
    def json(cls, value: Any, status: int = 200) -> Answer:
        """A JSON answer (ASCII: non-ASCII characters are escaped)."""
        return cls(json.dumps(value, indent=2).encode(), "application/json", status=status)


def json_header_value(texts: Sequence[str], limit: int = MAX_HEADER_VALUE) -> str:
    """``texts`` as a JSON list fit for an HTTP header: ASCII escapes (header values are
    latin-1), no newline, at most ``limit`` characters; where whole texts do not fit, the last
    item says how many were left out."""
    value = json.dumps(list(texts), ensure_ascii=True)
    if len(value) <= limit:
        return value
    kept: list[str] = []
    for text in texts:
        # The note as it will read if ``text`` is the last one kept.
        note = f"{len(texts) - len(kept) - 1} more warnings left out"
        if len(json.dumps([*kept, text, note], ensure_ascii=True)) > limit:
            break
        kept.append(text)
    return json.dumps([*kept, f"{len(texts) - len(kept)} more warnings left out"])


def send_error(output: Any, status: int, message: str, details: str) -> None:
    """Answer ``{"Error", "Details"}`` with ``status``."""
    body = json.dumps({"Error": message, "Details": details}, ensure_ascii=True)
    output.SetHttpHeader("Content-Type", "application/json")
    send_status(output, status, body.encode("ascii"))


def error_answer(error: Exception, what: str) -> tuple[int, str, str]:
    """(status, Error, Details) of a failed request (:func:`segmesh.errors.error_answer`), an
    error of Orthanc's own that reached a route too."""
    if isinstance(error, orthanc.OrthancException):
        code = error.args[0] if error.args else None
        if code == ORTHANC_UNKNOWN_RESOURCE:
            logger.warning("segmesh: %s: unknown resource", what)
            return 404, "Unknown resource", what
        logger.error("segmesh: %s: Orthanc error %s", what, error)
        return 500, "Orthanc error", str(error)
    return errors.error_answer(error, what)


@dataclass(frozen=True)
class RouteCallback:
    """What is registered with Orthanc for one pattern; ``pattern`` and ``methods`` stay
    visible, so that the route table can be walked as registered (the access-control test)."""

    pattern: str
    methods: tuple[str, ...]
    handler: Handler
    #: None: the arguments as Orthanc hands them over (the query-decoding probe's own route).
    query: QueryDecoding | None
    #: The audit log's action for a successful GET: patient data leaving
    #: (:func:`emit_audit_log`).
    audit: str | None = None

    def __call__(self, output: Any, uri: str, **request: Any) -> None:
        """Parse the request, answer, or map errors to JSON."""
        method = str(request.get("method", "GET"))
        if method not in self.methods:
            output.SendMethodNotAllowed(",".join(self.methods))
            return
        typed = Request(
            method=method,
            uri=uri,
            groups=tuple(request.get("groups", ())),
            query=dict(request.get("get", {}))
            if self.query is None
            else self.query.decode(request.get("get", {})),
            body=bytes(request.get("body", b"") or b""),
            headers=dict(request.get("headers", {})),
        )
        try:
            with timings.recording() as stages, timings.stage("total"):
                answer = self.handler(typed)
        except Exception as error:
            status, message, details = error_answer(error, f"{method} {uri}")
            send_error(output, status, message, details)
            return
        output.SetHttpHeader("Server-Timing", timings.server_timing(stages))
        for name, value in answer.headers.items():
            output.SetHttpHeader(name, value)
        if answer.status == 200:
            if self.audit is not None and method == "GET":
                emit_audit_log(
                    user_of(request.get("headers", {})),
                    uri.split("/")[1],
                    typed.groups[0],
                    self.audit,
                    {"Uri": uri, "Query": typed.query, "Bytes": len(answer.body)},
                )
            output.AnswerBuffer(answer.body, answer.mime_type)
        else:
            # Other successes (202 Accepted) go through SendHttpStatus, with their body.
            output.SetHttpHeader("Content-Type", answer.mime_type)
            send_status(output, answer.status, answer.body)


#: Every callback registered with Orthanc, kept alive here: orthanc-python 5.0 drops its own
#: reference when Orthanc stops without holding the GIL, which crashes Orthanc (SIGSEGV or a
#: fatal Python error) where that reference was the last one.
_REGISTERED: list[RouteCallback] = []

#: How the running Orthanc passes query arguments on (:func:`use_query_decoding`).
_QUERY: list[QueryDecoding] = [QueryDecoding(None, lambda: "")]


def use_query_decoding(decoding: QueryDecoding) -> None:
    """Decode the query arguments of the routes registered from now on with ``decoding``, and
    register its probe."""
    _QUERY[0] = decoding
    register_route(
        PROBE_ROUTE,
        ("GET",),
        lambda request: Answer.json({"Value": request.query.get("value", "")}),
        decode_query=False,
    )


def user_of(headers: Mapping[str, str]) -> str:
    """The user Orthanc authenticated the request as (HTTP basic authentication), else ""."""
    scheme, _, credentials = str(headers.get("authorization", "")).partition(" ")
    if scheme.lower() != "basic":
        return ""
    try:
        return base64.b64decode(credentials, validate=True).decode("utf-8").partition(":")[0]
    except (ValueError, UnicodeDecodeError):
        return ""


def register_route(
    pattern: str,
    methods: tuple[str, ...],
    handler: Handler,
    decode_query: bool = True,
    audit: str | None = None,
) -> None:
    """Register ``handler`` for ``pattern``: parses the request, answers or maps errors;
    ``audit`` names the audit log's action of a successful GET (patient data leaving)."""
    callback = RouteCallback(pattern, methods, handler, _QUERY[0] if decode_query else None, audit)
    _REGISTERED.append(callback)
    orthanc.RegisterRestCallback(pattern, callback)
