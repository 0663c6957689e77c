"""Find or build the binaries the simulated cluster runs.

Lookup order for each binary: an explicit path (option or ``GPUCHECK_<NAME>_BINARY``), the
version cache under the user cache dir, then ``PATH`` (only for a matching version family),
and last a build from Go modules into the cache. Builds use one throwaway wrapper module per
component because k8s.io/kubernetes and etcd point their staging modules at local paths with
replace directives that a consumer must restate, and one shared module would raise common
dependencies and can break the Kubernetes compile.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable

KUBERNETES_VERSION = "v1.36.4"
ETCD_VERSION = "v3.6.16"
KWOK_VERSION = "v0.8.0"

# The staging modules k8s.io/kubernetes replaces with ./staging/src/k8s.io/<m>.
_K8S_STAGING = (
    "api apiextensions-apiserver apimachinery apiserver cli-runtime client-go cloud-provider "
    "cluster-bootstrap code-generator component-base component-helpers controller-manager "
    "cri-api cri-client cri-streaming csi-translation-lib dynamic-resource-allocation "
    "endpointslice externaljwt kms kube-aggregator kube-controller-manager kube-proxy "
    "kube-scheduler kubectl kubelet metrics mount-utils pod-security-admission sample-apiserver "
    "sample-cli-plugin sample-controller streaming"
).split()


class BinaryError(RuntimeError):
    """A binary could not be found or built; the message says what to install or set."""


@dataclasses.dataclass(frozen=True)
class Component:
    name: str
    module: str
    version: str
    packages: dict[str, str]  # binary name -> Go package path
    replaces: tuple[tuple[str, str], ...] = ()
    ldflags: tuple[str, ...] = ()

    @property
    def cache_key(self) -> str:
        return f"{self.name}-{self.version}"


def _k8s_component() -> Component:
    minor = KUBERNETES_VERSION.lstrip("v").split(".")[1]
    staging_version = "v0." + ".".join(KUBERNETES_VERSION.lstrip("v").split(".")[1:])
    ldflags = []
    for pkg in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        ldflags += [
            f"-X {pkg}.gitVersion={KUBERNETES_VERSION}",
            f"-X {pkg}.gitMajor=1",
            f"-X {pkg}.gitMinor={minor}",
            f"-X {pkg}.gitTreeState=clean",
        ]
    return Component(
        name="kubernetes",
        module="k8s.io/kubernetes",
        version=KUBERNETES_VERSION,
        packages={
            b: f"k8s.io/kubernetes/cmd/{b}"
            for b in ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl")
        },
        replaces=tuple((f"k8s.io/{m}", staging_version) for m in _K8S_STAGING),
        ldflags=tuple(ldflags),
    )


COMPONENTS: dict[str, Component] = {
    "kubernetes": _k8s_component(),
    "etcd": Component(
        name="etcd",
        module="go.etcd.io/etcd/server/v3",
        version=ETCD_VERSION,
        packages={"etcd": "go.etcd.io/etcd/server/v3"},
    ),
    "kwok": Component(
        name="kwok",
        module="sigs.k8s.io/kwok",
        version=KWOK_VERSION,
        packages={"kwok": "sigs.k8s.io/kwok/cmd/kwok"},
    ),
}

BINARY_COMPONENT = {b: c.name for c in COMPONENTS.values() for b in c.packages}


def cache_root() -> Path:
    base = os.environ.get("GPUCHECK_CACHE_DIR")
    if base:
        return Path(base)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "gpucheck"


def _env_name(binary: str) -> str:
    return "GPUCHECK_" + binary.upper().replace("-", "_") + "_BINARY"


def cached_path(binary: str) -> Path:
    comp = COMPONENTS[BINARY_COMPONENT[binary]]
    return cache_root() / "bin" / comp.cache_key / binary


def locate(binary: str, explicit: str | None = None) -> Path | None:
    """Return a usable binary without building, or None."""
    chosen = explicit or os.environ.get(_env_name(binary))
    if chosen:
        p = Path(chosen).expanduser()
        if not (p.is_file() and os.access(p, os.X_OK)):
            source = "option" if explicit else _env_name(binary)
            raise BinaryError(f"{binary}: {p} (from {source}) is not an executable file")
        return p
    cached = cached_path(binary)
    if cached.is_file() and os.access(cached, os.X_OK):
        return cached
    on_path = shutil.which(binary)
    if on_path and _version_fits(binary, on_path):
        return Path(on_path)
    return None


def _version_fits(binary: str, path: str) -> bool:
    """A binary on PATH is used only if its version family matches what we test against."""
    comp = COMPONENTS[BINARY_COMPONENT[binary]]
    flag = {"kubectl": ["version", "--client"], "etcd": ["--version"]}.get(binary, ["--version"])
    try:
        out = subprocess.run(
            [path, *flag], capture_output=True, text=True, timeout=20, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    text = out.stdout + out.stderr
    if comp.name == "kubernetes":
        return "v1.36." in text
    if comp.name == "etcd":
        return "3.6." in text
    return "0.8." in text


def ensure_all(
    binaries: dict[str, str | None] | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Path]:
    """Return a path for every binary the sim needs, building missing ones."""
    wanted = binaries or {}
    found: dict[str, Path] = {}
    missing_components: set[str] = set()
    for binary, comp_name in BINARY_COMPONENT.items():
        path = locate(binary, wanted.get(binary))
        if path is None:
            missing_components.add(comp_name)
        else:
            found[binary] = path
    for comp_name in sorted(missing_components):
        build(COMPONENTS[comp_name], progress=progress)
        for binary in COMPONENTS[comp_name].packages:
            found.setdefault(binary, cached_path(binary))
    return found


def _go() -> str:
    go = shutil.which("go")
    if not go:
        raise BinaryError(
            "Go is needed to build the simulated cluster's binaries and was not found on PATH. "
            "Install Go >= 1.25 (https://go.dev/doc/install, or `apt-get install golang`), or "
            "point GPUCHECK_KUBE_APISERVER_BINARY, GPUCHECK_KUBE_CONTROLLER_MANAGER_BINARY, "
            "GPUCHECK_KUBE_SCHEDULER_BINARY, GPUCHECK_KUBECTL_BINARY, GPUCHECK_ETCD_BINARY and "
            "GPUCHECK_KWOK_BINARY at existing binaries."
        )
    return go


def _go_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(GOTOOLCHAIN="local", GOWORK="off", CGO_ENABLED="0", GOFLAGS="-modcacherw")
    return env


def build(comp: Component, progress: Callable[[str], None] | None = None) -> Path:
    """Build one component into the cache; atomic, so an interrupted build leaves nothing."""
    say = progress or (lambda line: print(line, file=sys.stderr, flush=True))
    go = _go()
    final_dir = cache_root() / "bin" / comp.cache_key
    final_dir.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"build-{comp.name}-", dir=final_dir.parent) as tmp:
        work = Path(tmp)
        lines = [f"module gpucheck.local/build/{comp.name}", "", "go 1.25", ""]
        lines += [f"require {comp.module} {comp.version}", ""]
        lines += [f"replace {mod} => {mod} {ver}" for mod, ver in comp.replaces]
        (work / "go.mod").write_text("\n".join(lines) + "\n")
        env = _go_env()
        started = time.monotonic()
        say(f"gpucheck: building {comp.name} {comp.version} from Go modules (a cold build takes minutes)")
        for pkg in comp.packages.values():
            _run([go, "get", f"{pkg}@{comp.version}"], work, env, f"resolve {pkg}")
        total = _count_packages(go, work, env, list(comp.packages.values()))
        out_dir = work / "out"
        out_dir.mkdir()
        # Go names a binary after its package's last element ("server" for etcd's main
        # package), so a single binary gets an explicit output name.
        target = out_dir / next(iter(comp.packages)) if len(comp.packages) == 1 else out_dir
        cmd = [go, "build", "-v", "-trimpath", "-o", str(target) + ("" if len(comp.packages) == 1 else "/")]
        cmd += ["-ldflags", " ".join(["-s", "-w", *comp.ldflags])]
        cmd += list(comp.packages.values())
        _run_with_progress(cmd, work, env, comp, total, started, say)
        for binary in comp.packages:
            if not (out_dir / binary).is_file():
                raise BinaryError(f"go build of {comp.name} produced no {binary}")
        if final_dir.exists():
            shutil.rmtree(final_dir)
        os.replace(out_dir, final_dir)
        say(f"gpucheck: built {comp.name} {comp.version} in {time.monotonic() - started:.0f}s -> {final_dir}")
    return final_dir


def _run(cmd: list[str], cwd: Path, env: dict[str, str], what: str) -> str:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
        raise BinaryError(f"{what} failed (exit {proc.returncode}):\n{tail}")
    return proc.stdout


def _count_packages(go: str, cwd: Path, env: dict[str, str], pkgs: list[str]) -> int:
    out = _run([go, "list", "-deps", *pkgs], cwd, env, "go list")
    return len(out.split())


def _run_with_progress(
    cmd: list[str],
    cwd: Path,
    env: dict[str, str],
    comp: Component,
    total: int,
    started: float,
    say: Callable[[str], None],
) -> None:
    proc = subprocess.Popen(
        cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    built = 0
    tail: list[str] = []
    stop = threading.Event()

    def ticker() -> None:
        while not stop.wait(15):
            say(
                f"gpucheck: building {comp.name} {comp.version}: {built}/{total} packages, "
                f"{time.monotonic() - started:.0f}s elapsed"
            )

    t = threading.Thread(target=ticker, daemon=True)
    t.start()
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            built += 1
            tail = (tail + [line.rstrip()])[-20:]
        rc = proc.wait()
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    finally:
        stop.set()
    if rc != 0:
        raise BinaryError(f"go build of {comp.name} {comp.version} failed (exit {rc}):\n" + "\n".join(tail))
