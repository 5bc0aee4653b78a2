"""Errors of the core, each carrying the HTTP status the adapter answers with."""

from __future__ import annotations

import logging

logger = logging.getLogger(__name__)


class SegMeshError(Exception):
    """Base error: ``message`` is short and stable, ``details`` says what exactly went wrong."""

    http_status = 500

    def __init__(self, message: str, details: str = "") -> None:
        super().__init__(message if not details else f"{message}: {details}")
        self.message = message
        self.details = details

    def __reduce__(self) -> tuple[type[SegMeshError], tuple[str, str]]:
        # Errors raised in a worker process come back pickled: keep message and details apart.
        return (type(self), (self.message, self.details))


class BadRequestError(SegMeshError):
    """A parameter of the request is malformed or out of range."""

    http_status = 400


class NotFoundError(SegMeshError):
    """The resource named by the request does not exist."""

    http_status = 404


class GoneError(SegMeshError):
    """A resource the work was made from was deleted while it ran: nothing is stored for it."""

    http_status = 410


class LimitExceededError(SegMeshError):
    """The request would exceed a configured limit (``SegMesh`` settings)."""

    http_status = 413


class UnsupportedError(SegMeshError):
    """Not a SEG or RT-STRUCT, or an encoding segmesh cannot decode."""

    http_status = 415


class UnprocessableError(SegMeshError):
    """Valid DICOM that cannot be converted, e.g. no frame of reference."""

    http_status = 422


class BrokenFileError(SegMeshError):
    """The file is not readable DICOM, or a mandatory attribute is missing or malformed."""

    http_status = 400


def error_answer(error: Exception, what: str) -> tuple[int, str, str]:
    """(status, Error, Details) of a failed request or job, logged once: bad input and unknown
    resources as a warning line, anything else with its traceback (that is a bug)."""
    if isinstance(error, SegMeshError):
        logger.warning("segmesh: %s: %s", what, error)
        return error.http_status, error.message, error.details
    logger.exception("segmesh: %s failed", what)
    return 500, "Internal error", f"{type(error).__name__}: {error}"
