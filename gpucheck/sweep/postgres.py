"""A throwaway PostgreSQL for the local Airflow: Debian's server binaries, loopback only,
data in the run's directory, durability off (it lives for one run).

PostgreSQL refuses to run as root; as root, the server runs as the `postgres` user that
Debian's package creates.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from gpucheck.sim import processes


class PostgresError(RuntimeError):
    """PostgreSQL is missing or would not start; the message says which and what to do."""


def bin_dir() -> Path:
    """The newest server installation (Debian: /usr/lib/postgresql/<major>/bin), else PATH."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).resolve().parent
    raise PostgresError("PostgreSQL server binaries not found (initdb); install Debian's `postgresql` package")


def _as_user() -> list[str]:
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        raise PostgresError("running as root and there is no `postgres` user to run PostgreSQL as; "
                            "install Debian's `postgresql` package or run as an unprivileged user") from None
    return ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--"]


@dataclass
class Postgres:
    dir: Path
    port: int
    proc: processes.Proc

    @property
    def url(self) -> str:
        return f"postgresql+psycopg2://airflow@127.0.0.1:{self.port}/airflow"

    def stop(self) -> None:
        processes.terminate([self.proc], grace=15)


def _own(path: Path) -> None:
    if os.geteuid() == 0:
        pw = pwd.getpwnam("postgres")
        for p in [path, *path.rglob("*")]:
            os.chown(p, pw.pw_uid, pw.pw_gid)


def private_dir(tag: str) -> Path:
    """A directory for one server. As root the server runs as `postgres`, which must reach it,
    so it goes under /dev/shm or /tmp (world-traversable) rather than the caller's directory."""
    base = None
    if os.geteuid() == 0:
        base = "/dev/shm" if os.access("/dev/shm", os.W_OK) else "/tmp"
    path = Path(tempfile.mkdtemp(prefix=f"gpucheck-pg-{tag}-", dir=base))
    path.chmod(0o755)
    _own(path)
    return path


def init(data: Path) -> None:
    """A new, empty cluster in `data` with a trusted `airflow` superuser and database."""
    data.mkdir(parents=True, exist_ok=True)
    data.chmod(0o700)
    _own(data)
    out = subprocess.run([*_as_user(), str(bin_dir() / "initdb"), "-D", str(data), "-U", "airflow",
                          "--auth=trust", "-E", "UTF8", "--no-sync"], capture_output=True, text=True)
    if out.returncode != 0:
        raise PostgresError(f"initdb failed: {(out.stderr or out.stdout).strip().splitlines()[-1:]}")


def start(dir: Path, data: Path, timeout: float = 30.0) -> Postgres:
    """Start the server on a free loopback port and create the `airflow` database."""
    sock = dir / "pg-socket"
    sock.mkdir(parents=True, exist_ok=True)
    _own(sock)
    port = processes.free_port()
    proc = processes.spawn("postgres", [
        *_as_user(), str(bin_dir() / "postgres"), "-D", str(data), "-h", "127.0.0.1", "-p", str(port),
        "-k", str(sock), "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
        "-c", "max_connections=300", "-c", "shared_buffers=64MB"], dir / "logs" / "postgres.log")
    pg = Postgres(dir, port, proc)
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if not processes.alive(proc) or time.monotonic() > deadline:
                pg.stop()
                raise PostgresError(f"PostgreSQL did not start: {processes.log_tail(proc)}") from None
            time.sleep(0.1)
    out = subprocess.run([str(bin_dir() / "psql"), "-h", "127.0.0.1", "-p", str(port), "-U", "airflow", "-d", "postgres",
                          "-tAc", "SELECT 1 FROM pg_database WHERE datname='airflow'"], capture_output=True, text=True)
    if out.returncode == 0 and out.stdout.strip() != "1":
        out = subprocess.run([str(bin_dir() / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "airflow", "airflow"],
                             capture_output=True, text=True)
    if out.returncode != 0:
        pg.stop()
        raise PostgresError(f"PostgreSQL started but the airflow database is unusable: {out.stderr.strip()}")
    return pg
