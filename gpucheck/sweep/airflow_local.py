"""A loopback Airflow for one sweep: PostgreSQL, api-server, scheduler and dag-processor with
the LocalExecutor, the bundled DAGs, and the cluster's kubeconfig as its Kubernetes connection.

Everything binds 127.0.0.1 (`airflow standalone` would bind 0.0.0.0) and everything started
is stopped by `stop()`, which the caller runs on every exit path. The metadata database is
new each time (`airflow db migrate` takes about 4 s on PostgreSQL).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Callable

from gpucheck.sim import processes
from gpucheck.sweep import postgres


class AirflowError(RuntimeError):
    """The local Airflow could not be started; the message names the step and its log."""


def available() -> str | None:
    """None when Airflow and the Kubernetes provider can be used here, else why not."""
    import importlib.util

    for mod, extra in (("airflow", "apache-airflow"),
                       ("airflow.providers.cncf.kubernetes", "apache-airflow-providers-cncf-kubernetes")):
        try:
            if importlib.util.find_spec(mod) is None:
                raise ImportError
        except (ImportError, ValueError):
            return f"{extra} is not installed (pip install 'gpucheck[airflow]')"
    if not shutil.which("airflow", path=str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")):
        return "the `airflow` command is not on PATH"
    return None


def version() -> str:
    from importlib.metadata import version as v

    return v("apache-airflow")


def dags_folder() -> Path:
    return Path(str(resources.files("gpucheck._dags")))


@dataclass
class LocalAirflow:
    dir: Path
    port: int
    username: str
    password: str = field(repr=False)
    pg: postgres.Postgres | None = None
    procs: list[processes.Proc] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        """Stop the Airflow daemons (and their task processes: each runs in its own session,
        signalled as a group), then PostgreSQL, and remove its data. Safe to call twice."""
        procs, self.procs = self.procs, []
        processes.terminate(procs, grace=20)
        if self.pg is not None:
            self.pg.stop()
            shutil.rmtree(self.pg.dir, ignore_errors=True)
            self.pg = None


def _airflow() -> str:
    return shutil.which("airflow", path=str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")) \
        or "airflow"


def _env(home: Path, db_url: str, port: int, kubeconfig: str, max_active: int, users_file: Path) -> dict[str, str]:
    conn = json.dumps({"conn_type": "kubernetes", "extra": {"kube_config_path": kubeconfig, "in_cluster": False}})
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")},
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder()),
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__PARALLELISM": str(max(max_active * 2, 32)),
        "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": str(max(max_active * 2, 32)),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "gpucheck:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(users_file),
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),
        "AIRFLOW__API__SECRET_KEY": secrets.token_hex(32),
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": db_url,
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
        "AIRFLOW_CONN_KUBERNETES_DEFAULT": conn,
        "GPUCHECK_SWEEP_MAX_ACTIVE": str(max_active),
        "KUBECONFIG": kubeconfig,
        "PYTHONUNBUFFERED": "1",
    }


def _run(step: str, argv: list[str], env: dict[str, str], log: Path, timeout: float) -> None:
    with open(log, "ab") as out:
        try:
            rc = subprocess.run(argv, env=env, stdout=out, stderr=subprocess.STDOUT, timeout=timeout,
                                start_new_session=True).returncode
        except subprocess.TimeoutExpired:
            raise AirflowError(f"{step} did not finish in {timeout:.0f}s; see {log}") from None
    if rc != 0:
        tail = log.read_text(errors="replace").strip().splitlines()[-5:]
        raise AirflowError(f"{step} failed (exit {rc}): " + " | ".join(tail))


def _ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


def start(dir: Path, kubeconfig: str, max_active: int = 16, timeout: float = 300.0,
          say: Callable[[str], None] = lambda s: None) -> LocalAirflow:
    """Start a loopback Airflow in `dir`. The caller must `stop()` it, whatever happens."""
    dir.mkdir(parents=True, exist_ok=True)
    (dir / "logs").mkdir(exist_ok=True)
    deadline = time.monotonic() + timeout
    password = secrets.token_urlsafe(16)
    users_file = dir / "passwords.json"
    users_file.write_text(json.dumps({"gpucheck": password}))
    users_file.chmod(0o600)
    port = processes.free_port()
    af = LocalAirflow(dir, port, "gpucheck", password)
    try:
        say("starting PostgreSQL for Airflow")
        pg_dir = postgres.private_dir(dir.name)
        postgres.init(pg_dir / "data")
        af.pg = postgres.start(pg_dir, pg_dir / "data")
        env = _env(dir / "home", af.pg.url, port, kubeconfig, max_active, users_file)
        say("creating Airflow's metadata database")
        _run("airflow db migrate", [_airflow(), "db", "migrate"], env, dir / "logs" / "db-migrate.log",
             max(deadline - time.monotonic(), 30))
        say(f"starting Airflow {version()} on 127.0.0.1:{port} (api-server, scheduler, dag-processor)")
        for name, argv in (("api-server", ["api-server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]),
                           ("scheduler", ["scheduler", "--skip-serve-logs"]),
                           ("dag-processor", ["dag-processor"])):
            af.procs.append(processes.spawn(f"airflow-{name}", [_airflow(), *argv], dir / "logs" / f"{name}.log", env=env))
        while not _ok(f"{af.url}/api/v2/monitor/health"):
            dead = [p for p in af.procs if not processes.alive(p)]
            if dead:
                raise AirflowError(f"airflow {dead[0].name} exited: {processes.log_tail(dead[0])}")
            if time.monotonic() > deadline:
                raise AirflowError(f"the Airflow api-server did not answer in {timeout:.0f}s; see {dir / 'logs'}")
            time.sleep(0.5)
        return af
    except BaseException:
        af.stop()
        raise
