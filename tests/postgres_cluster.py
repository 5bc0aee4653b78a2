"""A throw-away PostgreSQL server from Debian's binaries, for Orthanc nodes sharing one index."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.orthanc_server import free_port

#: Orthanc's PostgreSQL index plugin (Debian's ``orthanc-postgresql``).
INDEX_PLUGIN = Path("/usr/share/orthanc/plugins/libOrthancPostgreSQLIndex.so")
DATABASE = "orthanc"
USER = "orthanc"
PASSWORD = "segmesh-test"


def postgres_bin() -> Path | None:
    """The newest ``/usr/lib/postgresql/*/bin`` holding initdb and pg_ctl, None where absent."""
    found = [
        folder
        for folder in Path("/usr/lib/postgresql").glob("*/bin")
        if (folder / "initdb").exists() and (folder / "pg_ctl").exists()
    ]
    return max(found, key=lambda folder: int(folder.parent.name), default=None)


def missing_reason() -> str | None:
    """Why a cluster cannot run here (what to install), or None."""
    if postgres_bin() is None:
        return "PostgreSQL's binaries are absent (apt-get install postgresql; `make test` does)"
    if not INDEX_PLUGIN.exists():
        return f"{INDEX_PLUGIN} is absent (apt-get install orthanc-postgresql; `make test` does)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root without a postgres user to run PostgreSQL as"
    return None


class PostgresServer:
    """initdb + pg_ctl in a temporary folder, on 127.0.0.1 and a free port only.

    PostgreSQL refuses to run as root, so as root it runs as the ``postgres`` system user
    (its folder handed to that user); otherwise as the current user.
    """

    def __init__(self, folder: Path | None = None) -> None:
        binaries = postgres_bin()
        if binaries is None:
            raise RuntimeError("PostgreSQL is not installed")
        self.bin = binaries
        self.port = free_port()
        self._owned = folder is None
        # Not under pytest's tmp_path: that is root's alone, and postgres must enter it.
        self.folder = folder or Path(tempfile.mkdtemp(prefix="segmesh-pg-"))
        self.data = self.folder / "data"
        self.log_path = self.folder / "postgres.log"
        self._as_user: list[str] = []
        if os.geteuid() == 0:
            self._as_user = ["runuser", "-u", "postgres", "--"]
            user = pwd.getpwnam("postgres")
            os.chown(self.folder, user.pw_uid, user.pw_gid)
        self.folder.chmod(0o700)

    def _run(self, *command: str, timeout: float = 60) -> None:
        env = {**os.environ, "PGPASSWORD": PASSWORD}
        done = subprocess.run(
            [*self._as_user, *command],
            timeout=timeout,
            env=env,
            cwd=self.folder,
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed:\n{done.stdout}{done.stderr}")

    def start(self) -> None:
        """Create the cluster once and its database, then start it (waits until it answers)."""
        fresh = not self.data.exists()
        if fresh:
            password_file = self.folder / "password"
            password_file.write_text(PASSWORD + "\n")
            if self._as_user:
                shutil.chown(password_file, "postgres", "postgres")
            self._run(
                str(self.bin / "initdb"),
                "-D",
                str(self.data),
                "-U",
                USER,
                f"--pwfile={password_file}",
                "--auth-host=scram-sha-256",
                "--auth-local=trust",
                "-E",
                "UTF8",
                "--no-sync",
            )
            password_file.unlink()
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={self.port} "
            f"-c unix_socket_directories={self.folder} -c fsync=off"
        )
        self._run(
            str(self.bin / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.log_path),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
            timeout=90,
        )
        if fresh:
            self.create_database(DATABASE)

    def create_database(self, name: str) -> None:
        """A new empty database (one per cluster of Orthanc nodes)."""
        self._run(
            str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", USER, name
        )

    def stop(self) -> None:
        """Stop the server (fast shutdown) and, where it made it, remove its folder."""
        if (self.data / "postmaster.pid").exists():
            try:
                self._run(
                    str(self.bin / "pg_ctl"),
                    "-D",
                    str(self.data),
                    "-m",
                    "fast",
                    "-w",
                    "stop",
                    timeout=60,
                )
            except (RuntimeError, subprocess.TimeoutExpired):
                self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop")
        if self._owned:
            shutil.rmtree(self.folder, ignore_errors=True)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def orthanc_configuration(self, database: str = DATABASE) -> dict[str, Any]:
        """The ``PostgreSQL`` section of a node: the index shared, files in the storage area,
        and no lock (the lock keeps a second node out: several nodes need it off)."""
        return {
            "PostgreSQL": {
                "EnableIndex": True,
                "EnableStorage": False,
                "Host": "127.0.0.1",
                "Port": self.port,
                "Database": database,
                "Username": USER,
                "Password": PASSWORD,
                "Lock": False,
            }
        }


def wait_until(condition: Any, timeout: float, what: str, interval: float = 0.2) -> Any:
    """Poll ``condition()`` until it answers something true; AssertionError after ``timeout``."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = condition()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"{what} not within {timeout} s (last: {last!r})")
