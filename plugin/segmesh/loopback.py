"""Orthanc's REST API on the loopback interface, as a plain HTTP client: picklable, so a worker
process reads stored files itself.

On orthanc-python before 4.3 every SDK call (``GetDicomForInstance``, ``RestApiPost``) holds the
plugin's one interpreter while Orthanc works: handing over a 154 MB SEG took 0.5 s in which no
other segmesh request ran. A socket call waits without it. The token comes from Orthanc's
``GenerateRestApiAuthorizationToken``, which also passes its authentication.
"""

from __future__ import annotations

import functools
import shutil
import ssl
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from http.client import HTTPResponse
from typing import IO, Any, cast

from .errors import NotFoundError

#: Bytes copied at a time from an answer into a file.
CHUNK = 1 << 20


@functools.cache
def _unverified() -> ssl.SSLContext:
    # The loopback certificate is Orthanc's own, for another host name: not checked.
    return ssl._create_unverified_context()


@dataclass(frozen=True)
class Loopback:
    """``base_url`` (``http://127.0.0.1:{HttpPort}``) and the ``Authorization`` ``token``."""

    base_url: str
    token: str

    @classmethod
    def of(cls, configuration: Mapping[str, Any], token: str) -> Loopback:
        """The loopback of the Orthanc whose configuration this is."""
        scheme = "https" if configuration.get("SslEnabled") else "http"
        return cls(f"{scheme}://127.0.0.1:{int(configuration.get('HttpPort', 8042))}", token)

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
        return cast(HTTPResponse, urllib.request.urlopen(request, timeout=120, context=context))

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
