"""A real Orthanc process with segmesh loaded, on free loopback ports and a temporary storage."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

ROOT = Path(__file__).resolve().parents[1]
PLUGIN_CANDIDATES = (
    Path("/usr/share/orthanc/plugins/libOrthancPython.so"),
    *sorted(Path("/usr/lib/orthanc").glob("libOrthancPython.so*")),
)


#: What every test client does where Orthanc closed a kept-alive connection just as a request
#: was sent on it: send it once more, as browsers do (RFC 9112, 9.3.1). POST too: Orthanc's
#: ``POST /instances`` and segmesh's storing routes make the same instance of the same file or
#: parameters ("AlreadyStored"). No other retry: a status is never retried.
RESENT = Retry(
    total=1,
    connect=1,
    read=1,
    status=0,
    other=0,
    allowed_methods=frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS"}),
)


def client_session() -> requests.Session:
    """A session to Orthanc whose requests are sent again where :data:`RESENT` says."""
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=RESENT)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def free_ports(count: int) -> list[int]:
    """``count`` distinct free loopback ports: held open together while chosen (two calls of
    :func:`free_port` may get the same port, as Orthanc's HTTP and DICOM ports once did)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def free_port() -> int:
    return free_ports(1)[0]


class OrthancServer:
    """Starts Orthanc with segmesh; ``url`` is its REST root. ``extra_plugins`` are loaded
    beside orthanc-python (say, the PostgreSQL index of a cluster's nodes); ``environment`` is
    added to Orthanc's."""

    def __init__(
        self,
        work_dir: Path,
        extra_configuration: dict[str, Any] | None = None,
        extra_plugins: Sequence[Path] = (),
        environment: dict[str, str] | None = None,
    ) -> None:
        self.work_dir = work_dir
        self.environment = {**os.environ, **(environment or {})}
        self.port, dicom_port = free_ports(2)
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = work_dir / "orthanc.log"
        plugin = next((p for p in PLUGIN_CANDIDATES if p.exists()), None)
        if plugin is None:
            raise RuntimeError("orthanc-python is not installed (run `make test`)")
        configuration = {
            "Name": "segmesh-test",
            "HttpPort": self.port,
            "DicomPort": dicom_port,
            "StorageDirectory": str(work_dir / "storage"),
            "IndexDirectory": str(work_dir / "storage"),
            "Plugins": [str(plugin), *(str(path) for path in extra_plugins)],
            "PythonScript": str(ROOT / "plugin" / "segmesh_plugin.py"),
            "RemoteAccessAllowed": False,
            "AuthenticationEnabled": False,
            "HttpTimeout": 120,
            "CheckRevisions": True,
            # As orthanc-config/orthanc.json: Orthanc 1.10 would gzip every answer of the
            # plugin (PNGs and deflated files too) while the plugin's interpreter waits.
            "HttpCompressionEnabled": False,
            # Orthanc closes an idle keep-alive connection after 1 s by default: a request sent
            # on it at that moment (a poll after a 1 s sleep) gets no answer. Orthanc 1.11.3
            # and newer keep it open longer than any pause of the tests; 1.10 ignores this
            # option (its answers say "Keep-Alive: timeout=1"), hence :data:`RESENT`.
            "KeepAliveTimeout": 60,
            # As orthanc-config/orthanc.json names segmesh's records and attachments.
            "UserMetadata": {
                "SegMeshJobs": 4601,
                "SegMeshStatus": 4602,
                "SegMeshPrintability": 4604,
            },
            "UserContentType": {"SegMeshLabelMap": [4603, "application/vnd.segmesh.labelmap"]},
            **(extra_configuration or {}),
        }
        self.config_path = work_dir / "orthanc.json"
        self.config_path.write_text(json.dumps(configuration, indent=2))
        self.process: subprocess.Popen[bytes] | None = None
        self.session = client_session()

    def start(self, timeout: float = 90.0) -> None:
        # Appended: after a restart the log still holds the earlier run (its tracebacks too).
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                ["Orthanc", str(self.config_path)],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.environment,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"Orthanc exited:\n{self.log()}")
            try:
                if self.session.get(f"{self.url}/system", timeout=2).ok:
                    return
            except requests.ConnectionError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"Orthanc did not start within {timeout} s:\n{self.log()}")

    def stop(self) -> None:
        """Orthanc's own stop (SIGTERM); fails where it hangs or does not exit cleanly (a crash
        while the plugin is finalized is a crash too)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                code = self.process.wait(timeout=30)
            except subprocess.TimeoutExpired as error:
                self.process.kill()
                self.process.wait()
                tail = self.log()[-3000:]
                raise AssertionError(f"Orthanc did not stop within 30 s:\n{tail}") from error
            if code != 0:
                raise AssertionError(f"Orthanc stopped with {code}:\n{self.log()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL to Orthanc itself (not its children), as a crash or the OOM killer would."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def process_ids(self) -> list[int]:
        """Orthanc's pid and those of its descendants (worker processes, multiprocessing's
        resource tracker); empty when it is not running."""
        if not self.is_running():
            return []
        assert self.process is not None
        found, pending = [], [self.process.pid]
        while pending:
            pid = pending.pop()
            try:
                for task in Path(f"/proc/{pid}/task").iterdir():
                    pending += [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                continue  # ended meanwhile
            found.append(pid)
        return found

    def resident_kilobytes(self, with_children: bool = True) -> int:
        """VmRSS of Orthanc and its descendants (:meth:`process_ids`), or of Orthanc alone, kB."""
        total = 0
        for pid in self.process_ids()[: None if with_children else 1]:
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            total += sum(
                int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")
            )
        return total

    def is_running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def versions(self) -> str:
        """ "Orthanc 1.10.1, orthanc-python 4.0, Python 3.11.2": what this server runs."""
        orthanc_version = self.get("/system").json()["Version"]
        plugin_version = self.get("/plugins/python").json()["Version"]
        loaded = [
            line for line in self.log().splitlines() if "segmesh" in line and "loaded" in line
        ]
        python = loaded[0].split(", Python ")[1].split()[0].rstrip(",") if loaded else "?"
        return f"Orthanc {orthanc_version}, orthanc-python {plugin_version}, Python {python}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def upload(self, data: bytes | Path) -> str:
        """Store one DICOM file; returns its Orthanc instance id."""
        body = data.read_bytes() if isinstance(data, Path) else data
        response = self.session.post(f"{self.url}/instances", data=body, timeout=120)
        response.raise_for_status()
        return str(response.json()["ID"])

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.session.get(f"{self.url}{path}", timeout=300, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.session.post(f"{self.url}{path}", timeout=300, **kwargs)
