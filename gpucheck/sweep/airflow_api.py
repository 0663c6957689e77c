"""Airflow's REST API v2, the few calls a sweep needs: a token, pre-flight facts about the DAG,
unpause, trigger a run with conf, the run's state and its task instances (paginated).

Credentials are held here and nowhere else: they are never part of a message, a repr or a
report. Errors name the URL path and the HTTP status.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import yaml


class AirflowApiError(RuntimeError):
    """A call to the Airflow API failed; the message names the call and the status."""


@dataclass
class Credentials:
    url: str
    username: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)


def credentials(url: str | None, file: str | None, env: dict[str, str] | None = None) -> Credentials:
    """From GPUCHECK_AIRFLOW_URL/_USERNAME/_PASSWORD/_TOKEN, else a YAML or JSON file with
    url, username, password or token; the config's url fills a gap."""
    env = dict(os.environ) if env is None else env
    data: dict[str, Any] = {}
    if file:
        try:
            data = yaml.safe_load(Path(file).read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise AirflowApiError(f"sweep.airflow.credentialsFile {file}: cannot be read ({type(exc).__name__})") from None
        if not isinstance(data, dict):
            raise AirflowApiError(f"sweep.airflow.credentialsFile {file}: must be a mapping of url/username/password")
    pick = lambda key: env.get(f"GPUCHECK_AIRFLOW_{key.upper()}") or data.get(key)  # noqa: E731
    base = pick("url") or url
    if not base:
        raise AirflowApiError("no Airflow URL: set GPUCHECK_AIRFLOW_URL or sweep.airflow.url")
    creds = Credentials(str(base).rstrip("/"), pick("username"), pick("password"), pick("token"))
    if not creds.token and not (creds.username and creds.password):
        raise AirflowApiError("no Airflow credentials: set GPUCHECK_AIRFLOW_USERNAME and GPUCHECK_AIRFLOW_PASSWORD "
                              "(or GPUCHECK_AIRFLOW_TOKEN), or sweep.airflow.credentialsFile")
    return creds


@dataclass
class Preflight:
    dag_present: bool
    paused: bool | None
    import_errors: list[str]
    max_active_tasks: int | None = None


class AirflowApi:
    def __init__(self, creds: Credentials, timeout: float = 15.0):
        self.creds = creds
        self.timeout = timeout
        self._session = requests.Session()
        self._token = creds.token

    def __repr__(self) -> str:
        return f"AirflowApi({self.creds.url})"

    @property
    def url(self) -> str:
        return self.creds.url

    def _auth(self) -> dict[str, str]:
        if self._token is None:
            try:
                r = self._session.post(f"{self.url}/auth/token", json={"username": self.creds.username,
                                                                        "password": self.creds.password},
                                       timeout=self.timeout)
            except requests.RequestException as exc:
                raise AirflowApiError(f"cannot reach Airflow at {self.url}: {type(exc).__name__}") from None
            if r.status_code not in (200, 201):
                raise AirflowApiError(f"POST /auth/token: {r.status_code} (credentials refused?)")
            self._token = r.json()["access_token"]
        return {"Authorization": f"Bearer {self._token}"}

    def call(self, method: str, path: str, body: Any = None, params: dict[str, Any] | None = None,
             ok: tuple[int, ...] = (200,)) -> Any:
        """One API call; a 401 refreshes the token once; 429/5xx and dropped connections retry."""
        delay = 0.5
        refreshed = False
        for attempt in range(4):
            try:
                r = self._session.request(method, f"{self.url}{path}", json=body, params=params,
                                          headers=self._auth(), timeout=self.timeout)
            except requests.RequestException as exc:
                if attempt < 3:
                    time.sleep(delay)
                    delay *= 2
                    continue
                raise AirflowApiError(f"{method} {path}: cannot reach Airflow at {self.url}: "
                                      f"{type(exc).__name__}") from None
            if r.status_code == 401 and not refreshed and self.creds.username:
                self._token, refreshed = None, True
                continue
            if r.status_code in (429, 502, 503, 504) and attempt < 3:
                time.sleep(float(r.headers.get("Retry-After") or delay))
                delay *= 2
                continue
            if r.status_code in ok:
                return r.json() if r.content else None
            detail = ""
            try:
                detail = json.dumps(r.json().get("detail"))[:200]
            except ValueError:
                pass
            raise AirflowApiError(f"{method} {path}: {r.status_code} {detail}".strip())
        raise AirflowApiError(f"{method} {path}: gave up after retries")

    # -- what a sweep needs ----------------------------------------------------------------------
    def preflight(self, dag_id: str) -> Preflight:
        errors = self.call("GET", "/api/v2/importErrors", params={"limit": 100})
        import_errors = [f"{e.get('filename')}: {str(e.get('stack_trace', '')).strip().splitlines()[-1:]}"
                         for e in errors.get("import_errors", [])]
        try:
            dag = self.call("GET", f"/api/v2/dags/{dag_id}")
        except AirflowApiError as exc:
            if ": 404" in str(exc):
                return Preflight(False, None, import_errors)
            raise
        return Preflight(True, bool(dag.get("is_paused")), import_errors, dag.get("max_active_tasks"))

    def wait_for_dag(self, dag_id: str, timeout: float) -> Preflight:
        """The DAG as soon as the dag-processor has parsed it (or import errors appear)."""
        deadline = time.monotonic() + timeout
        while True:
            pre = self.preflight(dag_id)
            if pre.dag_present or pre.import_errors or time.monotonic() > deadline:
                return pre
            time.sleep(1)

    def unpause(self, dag_id: str) -> None:
        self.call("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})

    def trigger(self, dag_id: str, conf: dict[str, Any]) -> str:
        run = self.call("POST", f"/api/v2/dags/{dag_id}/dagRuns", {"logical_date": None, "conf": conf})
        return run["dag_run_id"]

    def run_state(self, dag_id: str, run_id: str) -> str:
        return self.call("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")["state"]

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        while True:
            page = self.call("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances",
                             params={"limit": 100, "offset": len(out)})
            items = page.get("task_instances", [])
            out.extend(items)
            if not items or len(out) >= page.get("total_entries", 0):
                return out

    def fail_run(self, dag_id: str, run_id: str) -> None:
        """Stop a run that outlived its deadline (its running tasks are failed and their pods deleted)."""
        self.call("PATCH", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}", {"state": "failed"})
