"""Python logging into Orthanc's log."""

from __future__ import annotations

import logging

import orthanc


class OrthancLogHandler(logging.Handler):
    """Forwards records to Orthanc's LogError, LogWarning and LogInfo."""

    def emit(self, record: logging.LogRecord) -> None:
        message = self.format(record)
        if record.levelno >= logging.ERROR:
            orthanc.LogError(message)
        elif record.levelno >= logging.WARNING:
            orthanc.LogWarning(message)
        else:
            orthanc.LogInfo(message)


def install() -> None:
    """Route the ``segmesh`` logger to Orthanc (once)."""
    logger = logging.getLogger("segmesh")
    if not any(isinstance(handler, OrthancLogHandler) for handler in logger.handlers):
        logger.addHandler(OrthancLogHandler())
    logger.setLevel(logging.INFO)
    logger.propagate = False
