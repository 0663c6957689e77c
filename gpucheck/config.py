"""Settings: defaults < config file < environment < command line, validated.

Every value remembers where it came from, so a bad one is reported as, for example,
"--gpucheck-fail-on: 'maybe' is not one of critical, major, warn" or
"GPUCHECK_TIMEOUT=abc: not a number of seconds" or "config file ci.yaml: minDriver: ...".
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gpucheck.catalog import PROFILES
from gpucheck.grading import FAIL_ON

DEFAULT_TAINT_KEYS = ("nvidia.com/gpu", "sku", "gpu", "accelerator")


class SettingsError(ValueError):
    """A setting is invalid; the message names the option, variable or file it came from."""


class _DevicePlugin(BaseModel):
    model_config = ConfigDict(extra="forbid")
    selectors: list[str] = Field(default_factory=list)
    maxRestarts: int = Field(default=5, ge=0)


class _ExpectedGpus(BaseModel):
    model_config = ConfigDict(extra="forbid")
    byInstanceType: dict[str, int] = Field(default_factory=dict)
    byProduct: dict[str, int] = Field(default_factory=dict)


class _Training(BaseModel):
    """Where the team's KubernetesPodOperator tasks run, and what they may use there."""

    model_config = ConfigDict(extra="forbid")
    namespace: str = Field(default="default", pattern=r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")  # KPO's default
    priorityClass: str | None = None
    minGpuHeadroom: int = Field(default=1, ge=0)
    pools: list[str] = Field(default_factory=list)  # GPU pools that train; empty: every pool
    allowSharedGpus: bool = False
    serviceAccount: str | None = None  # the service account training pods run as
    launchesPods: bool = False  # Airflow's KubernetesExecutor or KPO runs as it: it needs pod rights
    secrets: list[str] = Field(default_factory=list)  # Secrets training pods mount, by name
    startupTimeout: float = Field(default=120, gt=0)  # the KPO startup_timeout_seconds the team uses


class _Storage(BaseModel):
    model_config = ConfigDict(extra="forbid")
    storageClass: str | None = None  # None: the cluster's default StorageClass
    accessMode: str = Field(default="ReadWriteOnce", pattern="^(ReadWriteOnce|ReadWriteMany|ReadOnlyMany|ReadWriteOncePod)$")
    size: str = "1Gi"
    sweepClaim: str | None = None  # a PVC the sweep's pods share (flagged when ReadWriteOnce)


class _Metrics(BaseModel):
    model_config = ConfigDict(extra="forbid")
    prometheusUrl: str | None = None
    namespaceHint: str | None = None


class _Health(BaseModel):
    model_config = ConfigDict(extra="forbid")
    conditions: dict[str, str] = Field(default_factory=dict)  # condition type -> broken status


class _Airflow(BaseModel):
    """Which Airflow runs the sweep. Credentials for a remote one come from the environment
    (GPUCHECK_AIRFLOW_URL, _USERNAME, _PASSWORD or _TOKEN) or credentialsFile, never from here."""

    model_config = ConfigDict(extra="forbid")
    mode: str = Field(default="local", pattern="^(local|remote)$")
    url: str | None = None
    credentialsFile: str | None = None
    dagId: str = "gpucheck_gpu_sweep"


class _Sweep(BaseModel):
    """The mapped-sweep load test (the `full` profile)."""

    model_config = ConfigDict(extra="forbid")
    experiments: int = Field(default=50, ge=1, le=10000)
    gpusPerPod: int = Field(default=1, ge=1)
    pool: str | None = None  # default: the GPU pool with the most free GPUs
    namespace: str | None = None  # default: the run's workspace (local) / required (remote)
    tolerations: list[dict[str, str]] | None = None  # default: the pool's taints
    duration: str = Field(default="10s", pattern=r"^\d+(\.\d+)?s$")
    maxActive: int = Field(default=16, ge=1, le=1024)
    ramp: list[int] = Field(default_factory=lambda: [1, 4, 16])
    preemptPods: int = Field(default=0, ge=0)
    scheduleTimeout: float = Field(default=300, gt=0)  # KPO schedule_timeout_seconds per pod
    schedulingP95WarnSeconds: float = Field(default=30, gt=0)
    schedulingP95FailSeconds: float = Field(default=120, gt=0)
    makespanRatioWarn: float = Field(default=3.0, gt=1)
    timeout: float = Field(default=900, gt=0)
    airflow: _Airflow = Field(default_factory=_Airflow)


class _Probes(BaseModel):
    model_config = ConfigDict(extra="forbid")
    image: str = "nvcr.io/nvidia/cuda:12.4.1-base-ubuntu22.04"
    serviceAccount: str | None = None
    scheduleTimeout: float = Field(default=60, gt=0)
    startupTimeout: float = Field(default=120, gt=0)
    allNodes: bool = False
    parallelism: int = Field(default=4, ge=1, le=64)


class _File(BaseModel):
    """The config file's schema. Unknown keys are errors: a typo must not pass silently."""

    model_config = ConfigDict(extra="forbid")
    profile: str | None = None
    failOn: str | None = None
    timeout: float | None = Field(default=None, gt=0)
    namespace: str | None = None
    select: list[str] | None = None
    skip: list[str] | None = None
    report: str | None = None
    kubeconfig: str | None = None
    context: str | None = None
    baseline: str | None = None
    saveBaseline: str | None = None
    allow: list[str] | None = None
    publishConfigMap: str | None = None
    keepReports: int | None = None
    pushgateway: str | None = None
    clusterName: str | None = None
    gpuTaintKeys: list[str] | None = None
    devicePlugin: _DevicePlugin = Field(default_factory=_DevicePlugin)
    minDriver: str | None = None
    expectedGpus: _ExpectedGpus = Field(default_factory=_ExpectedGpus)
    gfdMaxAgeHours: float = Field(default=24, gt=0)
    driverUpgradeStuckAfterHours: float = Field(default=6, gt=0)
    training: _Training = Field(default_factory=_Training)
    storage: _Storage = Field(default_factory=_Storage)
    metrics: _Metrics = Field(default_factory=_Metrics)
    health: _Health = Field(default_factory=_Health)
    probes: "_Probes" = Field(default_factory=lambda: _Probes())
    sweep: _Sweep = Field(default_factory=_Sweep)


@dataclass(frozen=True)
class Settings:
    profile: str = "standard"
    fail_on: str = "major"
    timeout: float = 600.0
    namespace: str | None = None  # None: a per-run namespace is created and removed
    select: tuple[str, ...] = ()
    skip: tuple[str, ...] = ()
    report_dir: str | None = None
    kubeconfig: str | None = None
    context: str | None = None
    gpu_taint_keys: tuple[str, ...] = DEFAULT_TAINT_KEYS
    device_plugin_selectors: tuple[str, ...] = ()
    max_plugin_restarts: int = 5
    min_driver: str | None = None
    expected_by_instance_type: Mapping[str, int] = field(default_factory=dict)
    expected_by_product: Mapping[str, int] = field(default_factory=dict)
    gfd_max_age_hours: float = 24.0
    driver_upgrade_stuck_after_hours: float = 6.0
    training_namespace: str = "default"
    training_priority_class: str | None = None
    min_gpu_headroom: int = 1
    training_pools: tuple[str, ...] = ()
    allow_shared_gpus: bool = False
    health_conditions: Mapping[str, str] = field(default_factory=dict)
    training: "_Training" = field(default_factory=lambda: _Training())  # the whole `training:` section
    storage: "_Storage" = field(default_factory=lambda: _Storage())
    metrics: "_Metrics" = field(default_factory=lambda: _Metrics())
    probe_image: str = "nvcr.io/nvidia/cuda:12.4.1-base-ubuntu22.04"
    probe_service_account: str | None = None
    schedule_timeout: float = 60.0
    startup_timeout: float = 120.0
    probe_all_nodes: bool = False
    probe_parallelism: int = 4
    sweep: "_Sweep" = field(default_factory=lambda: _Sweep())  # the validated `sweep:` section
    baseline: str | None = None  # a baseline file to gate against (GPU-GATE-001)
    save_baseline: str | None = None  # write a baseline file here after the run
    allow: tuple[str, ...] = ()  # change kinds the upgrade intends (gpucheck.baseline.diff.ALLOW_KINDS)
    publish_configmap: str | None = None  # namespace: publish the JSON summary as a ConfigMap there
    keep_reports: int = 14  # summary ConfigMaps kept (older ones are deleted)
    pushgateway: str | None = None  # Prometheus Pushgateway URL for verdict, score, per-check status
    cluster_name: str | None = None  # the `cluster` grouping key of pushed metrics (default: server host)
    config_file: str | None = None
    sources: Mapping[str, str] = field(default_factory=dict)  # setting -> where it came from


# setting name -> (CLI option, environment variable)
OPTIONS = {
    "profile": ("--gpucheck-profile", "GPUCHECK_PROFILE"),
    "fail_on": ("--gpucheck-fail-on", "GPUCHECK_FAIL_ON"),
    "timeout": ("--gpucheck-timeout", "GPUCHECK_TIMEOUT"),
    "namespace": ("--gpucheck-namespace", "GPUCHECK_NAMESPACE"),
    "select": ("--gpucheck-select", "GPUCHECK_SELECT"),
    "skip": ("--gpucheck-skip", "GPUCHECK_SKIP"),
    "report_dir": ("--gpucheck-report", "GPUCHECK_REPORT"),
    "kubeconfig": ("--gpucheck-kubeconfig", "GPUCHECK_KUBECONFIG"),
    "context": ("--gpucheck-context", "GPUCHECK_CONTEXT"),
    "baseline": ("--gpucheck-baseline", "GPUCHECK_BASELINE"),
    "save_baseline": ("--gpucheck-save-baseline", "GPUCHECK_SAVE_BASELINE"),
    "allow": ("--gpucheck-allow", "GPUCHECK_ALLOW"),
    "publish_configmap": ("--gpucheck-publish-configmap", "GPUCHECK_PUBLISH_CONFIGMAP"),
    "keep_reports": ("--gpucheck-keep-reports", "GPUCHECK_KEEP_REPORTS"),
    "pushgateway": ("--gpucheck-pushgateway", "GPUCHECK_PUSHGATEWAY"),
    "cluster_name": ("--gpucheck-cluster-name", "GPUCHECK_CLUSTER_NAME"),
    "config_file": ("--gpucheck-config", "GPUCHECK_CONFIG"),
}
_FILE_KEYS = {"profile": "profile", "fail_on": "failOn", "timeout": "timeout", "namespace": "namespace",
              "select": "select", "skip": "skip", "report_dir": "report", "kubeconfig": "kubeconfig",
              "context": "context", "baseline": "baseline", "save_baseline": "saveBaseline", "allow": "allow",
              "publish_configmap": "publishConfigMap", "keep_reports": "keepReports",
              "pushgateway": "pushgateway", "cluster_name": "clusterName"}


def _parse(name: str, raw: Any, source: str) -> Any:
    if raw is None:
        return None
    if name == "profile":
        if raw not in PROFILES:
            raise SettingsError(f"{source}: {raw!r} is not a profile; use one of {', '.join(PROFILES)}")
        return raw
    if name == "fail_on":
        if raw not in FAIL_ON:
            raise SettingsError(f"{source}: {raw!r} is not one of {', '.join(FAIL_ON)}")
        return raw
    if name == "timeout":
        try:
            value = float(raw)
        except (TypeError, ValueError):
            raise SettingsError(f"{source}: {raw!r} is not a number of seconds") from None
        if value <= 0:
            raise SettingsError(f"{source}: the timeout must be more than 0 seconds, not {raw!r}")
        return value
    if name in ("select", "skip"):
        items = _items(raw)
        from gpucheck.catalog import checks

        known = checks()
        unknown = [i for i in items if i not in known]
        if unknown:
            raise SettingsError(f"{source}: unknown check id {', '.join(unknown)}; see `gpucheck checks`")
        return tuple(items)
    if name == "allow":
        from gpucheck.baseline.diff import ALLOW_KINDS

        items = _items(raw)
        unknown = [i for i in items if i not in ALLOW_KINDS]
        if unknown:
            raise SettingsError(f"{source}: {', '.join(map(repr, unknown))} is not a kind of change to allow; "
                                f"use {', '.join(ALLOW_KINDS)}")
        return tuple(dict.fromkeys(items))
    if name == "save_baseline":
        target = Path(str(raw))
        if target.is_dir():
            raise SettingsError(f"{source}: {raw} is a directory; name the baseline file to write")
        if not target.parent.is_dir():
            raise SettingsError(f"{source}: directory {target.parent} does not exist")
        return str(raw)
    if name in ("namespace", "publish_configmap"):
        import re

        if not re.fullmatch(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?", str(raw)):
            raise SettingsError(f"{source}: {raw!r} is not a valid namespace name")
        return str(raw)
    if name == "keep_reports":
        try:
            value = int(raw)
        except (TypeError, ValueError):
            raise SettingsError(f"{source}: {raw!r} is not a whole number of reports") from None
        if value < 1:
            raise SettingsError(f"{source}: keep at least 1 report, not {raw!r}")
        return value
    if name == "pushgateway":
        from urllib.parse import urlparse

        url = urlparse(str(raw))
        if url.scheme not in ("http", "https") or not url.hostname:
            raise SettingsError(f"{source}: {raw!r} is not an http(s) URL like http://pushgateway:9091")
        return str(raw)
    return str(raw)


def _items(raw: Any) -> list[str]:
    """A list from a config-file list, a repeated option or a comma-separated value."""
    parts = raw if isinstance(raw, (list, tuple)) else [raw]
    return [p for part in parts for p in (s.strip() for s in str(part).split(",")) if p]


def load_file(path: str, source: str) -> _File:
    p = Path(path)
    if not p.is_file():
        raise SettingsError(f"{source}: config file {path} does not exist")
    try:
        data = yaml.safe_load(p.read_text()) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise SettingsError(f"config file {path}: not valid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise SettingsError(f"config file {path}: the top level must be a mapping of settings")
    try:
        return _File.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(x) for x in e['loc'])}: {e['msg'].lower()}" for e in exc.errors())
        raise SettingsError(f"config file {path}: {problems}") from None


def resolve(cli: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Layer defaults, the config file, the environment and the command line."""
    cli = {k: v for k, v in (cli or {}).items() if v not in (None, (), [])}
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}

    cfg_path, cfg_source = None, None
    if cli.get("config_file"):
        cfg_path, cfg_source = cli["config_file"], OPTIONS["config_file"][0]
    elif env.get(OPTIONS["config_file"][1]):
        cfg_path, cfg_source = env[OPTIONS["config_file"][1]], OPTIONS["config_file"][1]
    file = load_file(cfg_path, cfg_source or "") if cfg_path else _File()
    for name, key in _FILE_KEYS.items():
        raw = getattr(file, key)
        if raw is not None:
            values[name] = _parse(name, raw, f"config file {cfg_path}: {key}")
            sources[name] = f"config file {cfg_path}"
    for name, (opt, var) in OPTIONS.items():
        if name == "config_file":
            continue
        if env.get(var):
            values[name] = _parse(name, env[var], f"{var}={env[var]}")
            sources[name] = var
        if name in cli:
            values[name] = _parse(name, cli[name], opt)
            sources[name] = opt
    if file.minDriver is not None:
        _driver_tuple(file.minDriver, f"config file {cfg_path}: minDriver")
    settings = Settings(
        config_file=cfg_path,
        gpu_taint_keys=tuple(file.gpuTaintKeys) if file.gpuTaintKeys else DEFAULT_TAINT_KEYS,
        device_plugin_selectors=tuple(file.devicePlugin.selectors),
        max_plugin_restarts=file.devicePlugin.maxRestarts,
        min_driver=file.minDriver,
        expected_by_instance_type=dict(file.expectedGpus.byInstanceType),
        expected_by_product=dict(file.expectedGpus.byProduct),
        gfd_max_age_hours=file.gfdMaxAgeHours,
        driver_upgrade_stuck_after_hours=file.driverUpgradeStuckAfterHours,
        training_namespace=file.training.namespace,
        training_priority_class=file.training.priorityClass,
        min_gpu_headroom=file.training.minGpuHeadroom,
        training_pools=tuple(file.training.pools),
        allow_shared_gpus=file.training.allowSharedGpus,
        health_conditions=dict(file.health.conditions),
        sweep=file.sweep,
        training=file.training,
        storage=file.storage,
        metrics=file.metrics,
        probe_image=file.probes.image,
        probe_service_account=file.probes.serviceAccount,
        schedule_timeout=file.probes.scheduleTimeout,
        startup_timeout=file.probes.startupTimeout,
        probe_all_nodes=file.probes.allNodes,
        probe_parallelism=file.probes.parallelism,
    )
    return replace(settings, **values, sources=sources)


def _driver_tuple(text: str, source: str) -> tuple[int, ...]:
    try:
        return tuple(int(p) for p in str(text).split("."))
    except ValueError:
        raise SettingsError(f"{source}: {text!r} is not a driver version like 535.104.05") from None


def driver_tuple(text: str) -> tuple[int, ...] | None:
    try:
        return tuple(int(p) for p in str(text).split("."))
    except ValueError:
        return None
