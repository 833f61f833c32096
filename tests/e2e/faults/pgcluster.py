"""A scratch PostgreSQL cluster of a test's own (initdb + pg_ctl in a temp dir, on a free
loopback port), so a fault test can stop and start it; never the shared server."""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

BINARIES = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
# initdb refuses to run as root: then the cluster belongs to the `postgres` system user.
AS_POSTGRES = os.geteuid() == 0


def missing() -> str | None:
    """Why no scratch cluster can be made here, or None."""
    if not BINARIES and shutil.which("pg_ctl") is None:
        return "PostgreSQL server binaries (initdb, pg_ctl) are not installed"
    if AS_POSTGRES and shutil.which("runuser") is None:
        return "running as root without runuser: initdb cannot run"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Cluster:
    """In a fresh temp dir of its own (the `postgres` user must reach it when run as root)."""

    def __init__(self) -> None:
        root = Path(tempfile.mkdtemp(prefix="npsbot-faults-pg-"))
        self.root = root
        self.bin = Path(BINARIES[-1]) if BINARIES else Path(shutil.which("pg_ctl") or "").parent
        self.data = root / "pgdata"
        self.log = root / "postgres.log"
        self.port = free_port()
        if AS_POSTGRES:
            shutil.chown(root, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str) -> None:
        cmd = [str(self.bin / tool), *args]
        if AS_POSTGRES:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        done = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
        if done.returncode:
            raise RuntimeError(f"{tool} failed: {done.stderr.decode(errors='replace')[-500:]}")

    def start(self) -> None:
        opts = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.data} "
            "-c fsync=off -c synchronous_commit=off -c max_connections=60"
        )
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", opts, "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def destroy(self) -> None:
        with contextlib.suppress(RuntimeError):  # already stopped
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)
