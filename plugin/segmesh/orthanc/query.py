"""Query arguments as the client meant them, decoded exactly once on every Orthanc.

Orthanc 1.10 and 1.12 hand query arguments to plugins still percent-encoded (``1%2C2`` for
``1,2``); Orthanc 1.13 decodes them first (``+`` a space, ``%2B`` a plus, as browsers'
``URLSearchParams`` write them). Which one the running Orthanc does is probed, not guessed from
its version: on the first request whose arguments read differently either way, segmesh asks
its own probe route over the loopback for a value whose two readings differ. Where the probe
cannot be made, Orthanc's version decides, with a warning.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping
from urllib.parse import unquote_plus

from ..worker_io.loopback import Loopback

logger = logging.getLogger(__name__)

#: Answers ``{"Value": ...}``: its ``value`` argument as Orthanc handed it over.
PROBE_ROUTE = "/segmesh/query-probe"
#: The probe's argument on the wire: "+" once decoded, "%2B" as it is.
_PROBE_QUERY = "?value=%2B"
#: The first Orthanc that decodes query arguments itself (its NEWS does not say; probed here).
_FIRST_DECODING_VERSION = (1, 13)


def _version(text: str) -> tuple[int, ...]:
    parts = [int(part) for part in text.split(".")[:2] if part.isdigit()]
    return tuple(parts)


class QueryDecoding:
    """Decodes the query arguments of every request the way the running Orthanc needs;
    ``orthanc_version`` tells the running Orthanc's version where the probe fails."""

    def __init__(self, loopback: Loopback | None, orthanc_version: Callable[[], str]) -> None:
        self._loopback = loopback
        self._orthanc_version = orthanc_version
        self._lock = threading.Lock()
        self._decoded_by_orthanc: bool | None = None

    def decode(self, raw: Mapping[str, str]) -> dict[str, str]:
        """``raw`` (what Orthanc handed over) as the client meant it."""
        arguments = dict(raw)
        # Without "%" or "+" anywhere, both readings agree: no need to know which applies.
        if not any("%" in text or "+" in text for item in arguments.items() for text in item):
            return arguments
        if self.decoded_by_orthanc():
            return arguments
        return {unquote_plus(key): unquote_plus(value) for key, value in arguments.items()}

    def decoded_by_orthanc(self) -> bool:
        """Whether Orthanc decodes query arguments itself (probed once)."""
        with self._lock:
            if self._decoded_by_orthanc is None:
                self._decoded_by_orthanc = self._probe()
            return self._decoded_by_orthanc

    def _probe(self) -> bool:
        try:
            if self._loopback is None:
                raise OSError("no loopback")
            with self._loopback.open("GET", PROBE_ROUTE + _PROBE_QUERY) as answer:
                value = json.loads(answer.read())["Value"]
            if value not in ("+", "%2B"):
                raise ValueError(f"the probe received {value!r}")
        except (OSError, ValueError, KeyError) as error:
            version = self._orthanc_version()
            decoded = _version(version) >= _FIRST_DECODING_VERSION
            logger.warning(
                "segmesh: how Orthanc %s passes query arguments could not be probed (%s); "
                "taken as %s from its version",
                version,
                error,
                "decoded" if decoded else "percent-encoded",
            )
            return decoded
        decoded = value == "+"
        logger.warning(
            "segmesh: Orthanc hands query arguments to plugins %s (probed)",
            "decoded" if decoded else "percent-encoded: segmesh decodes them",
        )
        return decoded
