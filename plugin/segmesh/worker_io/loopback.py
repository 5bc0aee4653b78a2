"""Orthanc's REST API on the loopback interface, as a plain HTTP client: picklable, so a worker
process reads stored files itself.

On orthanc-python before 4.3 every SDK call (``GetDicomForInstance``, ``RestApiPost``) holds the
plugin's one interpreter while Orthanc works: handing over a 154 MB SEG took 0.5 s in which no
other segmesh request ran. A socket call waits without it. The token comes from Orthanc's
``GenerateRestApiAuthorizationToken``, which also passes its authentication.
"""

from __future__ import annotations

import functools
import http.client
import os
import shutil
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.client import HTTPResponse
from typing import IO, Any, cast

from ..errors import NotFoundError
from .storage_area import StorageArea

#: Bytes copied at a time from an answer into a file.
CHUNK = 1 << 20

#: Seconds a loopback call may wait on Orthanc.
TIMEOUT = 120


@functools.cache
def _unverified() -> ssl.SSLContext:
    # The loopback certificate is Orthanc's own, for another host name: not checked.
    return ssl._create_unverified_context()


@dataclass(frozen=True)
class Loopback:
    """``base_url`` (``http://127.0.0.1:{HttpPort}``) and the ``Authorization`` ``token``;
    ``storage``, Orthanc's storage area, where stored files are read in place when Orthanc
    keeps them plainly (:mod:`segmesh.worker_io.stored_files`)."""

    base_url: str
    token: str
    storage: StorageArea = field(default_factory=lambda: StorageArea(None))

    @classmethod
    def of(cls, configuration: Mapping[str, Any], token: str) -> Loopback:
        """The loopback of the Orthanc whose configuration this is."""
        scheme = "https" if configuration.get("SslEnabled") else "http"
        return cls(
            f"{scheme}://127.0.0.1:{int(configuration.get('HttpPort', 8042))}",
            token,
            StorageArea.of(configuration),
        )

    def open(
        self, method: str, path: str, body: bytes | None = None, headers: Mapping[str, str] = {}
    ) -> HTTPResponse:
        """The answer to ``method path`` (raises ``urllib.error.HTTPError`` on 4xx and 5xx)."""
        request = urllib.request.Request(
            self.base_url + path,
            data=body,
            method=method,
            headers={"Authorization": self.token, **headers},
        )
        context = _unverified() if self.base_url.startswith("https") else None
        return cast(HTTPResponse, urllib.request.urlopen(request, timeout=TIMEOUT, context=context))

    def post_file(self, path: str, file_path: str, content_type: str) -> tuple[int, bytes]:
        """``POST path`` of the file at ``file_path``, sent with ``sendfile`` (from the page
        cache: this process copies none of it); the answer's status and body."""
        address = urllib.parse.urlsplit(self.base_url)
        host, port = address.hostname or "127.0.0.1", address.port
        connection = (
            http.client.HTTPSConnection(host, port, timeout=TIMEOUT, context=_unverified())
            if address.scheme == "https"
            else http.client.HTTPConnection(host, port, timeout=TIMEOUT)
        )
        try:
            with open(file_path, "rb") as handle:
                connection.putrequest("POST", path, skip_accept_encoding=True)
                connection.putheader("Authorization", self.token)
                connection.putheader("Content-Type", content_type)
                connection.putheader("Content-Length", str(os.fstat(handle.fileno()).st_size))
                connection.endheaders()
                assert connection.sock is not None  # endheaders connected it
                connection.sock.sendfile(handle)
            answer = connection.getresponse()
            return answer.status, answer.read()
        finally:
            connection.close()

    def read(self, path: str) -> bytes:
        """The body of ``GET path``; 404 "Unknown resource" where Orthanc has none."""
        with self._get(path) as answer:
            return answer.read()

    def copy(self, path: str, handle: IO[bytes]) -> None:
        """The body of ``GET path`` written to ``handle``, a chunk at a time."""
        with self._get(path) as answer:
            shutil.copyfileobj(answer, handle, CHUNK)

    def _get(self, path: str) -> HTTPResponse:
        try:
            return self.open("GET", path)
        except urllib.error.HTTPError as error:
            if error.code == 404:
                raise NotFoundError("Unknown resource", path) from error
            raise
