"""Storing a task's outputs only while the resources they are made from are still in Orthanc.

A SEG, RT-STRUCT, image series or study may be deleted while a request or job works on it.
Reading it then answers 404 (:mod:`..host`); once it has been read, the work goes on in
workers without Orthanc, so the resources are checked again while outputs are stored (before
the first, then at most every :data:`CHECK_INTERVAL` seconds: each check is a read of Orthanc's
index per resource) and once after the last. Where one is gone, the outputs this task stored
(Orthanc's ``Status`` "Success") are deleted again and the task fails with 410 Gone: nothing
stays stored for a source that is gone; a task that fails otherwise after storing some outputs
deletes them the same way (:meth:`SourceOutputs.discard`). Outputs a previous identical request
stored ("AlreadyStored") are not the task's own and stay.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from ...errors import GoneError
from ..host import LEVEL_NAMES, Host
from ..throttle import Throttle

#: Seconds between two checks of the sources while outputs are stored.
CHECK_INTERVAL = 0.5


class SourceOutputs:
    """Stores the outputs made from ``sources``: (level, Orthanc id) pairs such as
    ``("instances", seg_id)`` and ``("series", ct_series_id)``; pairs without an id (no
    referenced series on the native grid) are left out; the files are stored in ``host``,
    by one thread or several at once."""

    def __init__(self, sources: Sequence[tuple[str, str | None]], host: Host) -> None:
        self.sources = tuple((level, identifier) for level, identifier in sources if identifier)
        self.host = host
        self._stored: list[str] = []
        self._lock = threading.Lock()
        self._throttle = Throttle(CHECK_INTERVAL)

    def check(self) -> None:
        """410 where a source is gone, after deleting what this task stored."""
        for level, identifier in self.sources:
            if not self.host.exists(level, identifier):
                removed = (
                    f"; the {len(self._stored)} instances it had stored were deleted"
                    if self._stored
                    else ""
                )
                self.discard()
                raise GoneError(
                    "Source deleted",
                    f"{LEVEL_NAMES.get(level, level)} {identifier} was deleted while the work "
                    f"on it ran{removed}; nothing is stored for it",
                )

    def discard(self) -> None:
        """Delete the outputs this task stored (it failed); a store under way meanwhile is
        deleted by the next call."""
        with self._lock:
            stored, self._stored = self._stored, []
        for instance_id in stored:
            self.host.delete_instance(instance_id)

    def store(self, data: bytes) -> dict[str, Any]:
        """Store one Part-10 file, the sources checked where due; Orthanc's answer."""
        self._check_when_due()
        return self._stored_by(self.host.store_instance(data))

    def store_file(self, path: str) -> dict[str, Any]:
        """:meth:`store` of the Part-10 file at ``path`` (sent from the page cache)."""
        self._check_when_due()
        return self._stored_by(self.host.store_instance_file(path))

    def _check_when_due(self) -> None:
        if self._throttle.due():
            self.check()

    def _stored_by(self, answer: dict[str, Any]) -> dict[str, Any]:
        if answer.get("Status") == "Success":
            with self._lock:
                self._stored.append(str(answer["ID"]))
        return answer

    def finish(self) -> None:
        """The last check: a source deleted during the last store undoes the task too."""
        self.check()
