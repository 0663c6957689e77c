"""Lifecycle of a named simulated cluster: up, status, down, and finding leftovers.

Layout of one cluster's directory (under /dev/shm when it exists, for etcd's sake):
    state.json      name, ports, profile, scenarios, phase, owner pid
    procs.json      the daemons with their kernel start times
    pki/            certificates and keys
    etcd/           etcd data
    logs/           one log per daemon
    smi/            container outputs written by the agent
    kubeconfig      admin kubeconfig for users and tests
"""

from __future__ import annotations

import getpass
import json
import os
import shutil
import ssl
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Callable, Iterable

import yaml

from gpucheck.sim import binaries, pki, processes, profiles
from gpucheck.sim.processes import Proc

DEFAULT_NAME = "gpucheck"
_NAME_OK = set("abcdefghijklmnopqrstuvwxyz0123456789-")


class SimError(RuntimeError):
    """The simulated cluster cannot do what was asked; the message says why and what to do."""


@dataclass(frozen=True)
class SimInfo:
    name: str
    dir: Path
    kubeconfig: Path
    server: str
    profile: str
    scenarios: tuple[str, ...]
    phase: str
    procs: tuple[Proc, ...]

    @property
    def healthy(self) -> bool:
        return self.phase == "ready" and all(processes.alive(p) for p in self.procs)


def sims_root() -> Path:
    base = os.environ.get("GPUCHECK_SIM_DIR")
    if base:
        return Path(base)
    shm = Path("/dev/shm")
    parent = shm if shm.is_dir() and os.access(shm, os.W_OK) else Path(tempfile.gettempdir())
    return parent / f"gpucheck-sims-{getpass.getuser()}"


def _check_name(name: str) -> None:
    if not name or len(name) > 40 or not set(name) <= _NAME_OK or name[0] == "-":
        raise SimError(f"invalid cluster name {name!r}: use 1-40 lowercase letters, digits and '-'")


def cluster_dir(name: str) -> Path:
    _check_name(name)
    return sims_root() / name


def info(name: str) -> SimInfo | None:
    d = cluster_dir(name)
    try:
        state = json.loads((d / "state.json").read_text())
    except (OSError, ValueError):
        return None if not d.exists() else SimInfo(name, d, d / "kubeconfig", "", "?", (), "broken", ())
    try:
        procs = tuple(Proc(**p) for p in json.loads((d / "procs.json").read_text()))
    except (OSError, ValueError, TypeError):
        procs = ()
    return SimInfo(
        name=name, dir=d, kubeconfig=d / "kubeconfig", server=state.get("server", ""),
        profile=state.get("profile", "?"), scenarios=tuple(state.get("scenarios", [])),
        phase=state.get("phase", "?"), procs=procs,
    )


def list_all() -> list[SimInfo]:
    root = sims_root()
    if not root.is_dir():
        return []
    out = []
    for d in sorted(root.iterdir()):
        if d.is_dir() and set(d.name) <= _NAME_OK:
            i = info(d.name)
            if i:
                out.append(i)
    return out


def down(name: str, say: Callable[[str], None] = lambda s: None) -> bool:
    """Stop every daemon of `name` and remove its directory. True if anything was there."""
    d = cluster_dir(name)
    if not d.exists():
        return False
    i = info(name)
    procs = list(i.procs) if i else []
    processes.terminate(list(reversed(procs)))
    left = [p for p in procs if processes.alive(p)]
    if left:
        raise SimError(f"could not stop {', '.join(f'{p.name} (pid {p.pid})' for p in left)}")
    shutil.rmtree(d, ignore_errors=True)
    say(f"gpucheck sim: cluster {name!r} stopped and removed")
    return True


# KWOK renews each node's lease every quarter of this. A kubelet's 40 s (a renewal every 10 s)
# is 60 writes a second on the 600-node profile, most of what two cores can give; the node
# controller's grace period follows, so a node still goes NotReady once its leases stop.
NODE_LEASE_S = 120
RESTARTABLE = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok", "sim-agent")


def restart(name: str, component: str, down_for: float = 0.0, timeout: float = 60.0) -> None:
    """Stop one daemon of a running cluster and start it again with the same command line,
    after `down_for` seconds of outage: what an upgrade or a crash does to a control plane.
    Returns once it is back (for the API server: answering /readyz)."""
    if component not in RESTARTABLE:
        raise SimError(f"cannot restart {component!r}; restartable: {', '.join(RESTARTABLE)}")
    i = info(name)
    if i is None or not i.healthy:
        raise SimError(f"no healthy simulated cluster named {name!r}")
    procs = list(i.procs)
    old = next(p for p in procs if p.name == component)
    argv = Path(f"/proc/{old.pid}/cmdline").read_bytes().rstrip(b"\0").split(b"\0")
    environ = dict(e.split(b"=", 1) for e in Path(f"/proc/{old.pid}/environ").read_bytes().split(b"\0") if b"=" in e)
    _write_state(i.dir, phase="restarting")
    try:
        processes.terminate([old], grace=1.0)  # a crash or a hard restart, not a drained shutdown
        if down_for > 0:
            time.sleep(down_for)  # the outage itself: deliberately this long
        new = processes.spawn(component, [a.decode() for a in argv], Path(old.log),
                              env={k.decode(): v.decode() for k, v in environ.items()})
        procs[procs.index(old)] = new
        processes.save(procs, i.dir / "procs.json")
        if component == "kube-apiserver":
            p = pki.Pki(i.dir / "pki")
            processes.wait_until(processes.http_ok(f"{i.server}/readyz", _ssl_ctx(p)), time.monotonic() + timeout,
                                 new, "answering /readyz", interval=0.2)
    finally:
        _write_state(i.dir, phase="ready")


def prune_orphans(say: Callable[[str], None] = lambda s: None) -> list[str]:
    """Remove clusters whose owning process died (a killed test run) or that are broken."""
    removed = []
    for i in list_all():
        state = _read_state(i.dir)
        owner = state.get("owner_pid")
        dead_owner = owner is not None and not _pid_alive(int(owner))
        # "restarting": a daemon is down on purpose (gpucheck.sim.cluster.restart), not broken.
        broken = i.phase not in ("ready", "starting", "restarting") or (i.phase == "ready" and not i.healthy)
        stale_start = i.phase == "starting" and owner is not None and dead_owner
        if dead_owner or broken or stale_start:
            down(i.name)
            removed.append(i.name)
            say(f"gpucheck sim: removed leftover cluster {i.name!r} ({'owner gone' if dead_owner else i.phase})")
    return removed


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _read_state(d: Path) -> dict[str, Any]:
    try:
        return dict(json.loads((d / "state.json").read_text()))
    except (OSError, ValueError):
        return {}


def _write_state(d: Path, **kw: Any) -> None:
    state = _read_state(d)
    state.update(kw)
    tmp = d / "state.json.tmp"
    tmp.write_text(json.dumps(state, indent=1))
    os.replace(tmp, d / "state.json")


def _ssl_ctx(p: pki.Pki) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(p.ca_cert))
    ctx.load_cert_chain(str(p.cert("admin")), str(p.key("admin")))
    return ctx


def up(
    name: str = DEFAULT_NAME,
    profile: str = "default",
    scenarios: Iterable[str] = (),
    binary_paths: dict[str, str | None] | None = None,
    owner_pid: int | None = None,
    timeout: float = 180.0,
    say: Callable[[str], None] = lambda s: print(s, file=sys.stderr, flush=True),
) -> SimInfo:
    """Start cluster `name` (or return it if it already runs healthy with the same profile)."""
    from gpucheck.sim import scenarios as scenario_mod

    _check_name(name)
    prof = profiles.load(profile)
    wanted_scenarios = list(scenarios)
    scenario_mod.validate(wanted_scenarios)
    existing = info(name)
    if existing:
        if existing.healthy and existing.profile == prof.name and not wanted_scenarios:
            say(f"gpucheck sim: cluster {name!r} is already running")
            return existing
        say(f"gpucheck sim: replacing cluster {name!r} ({existing.phase})")
        down(name)
    bins = binaries.ensure_all(binary_paths, progress=say)
    started = time.monotonic()
    deadline = started + timeout
    d = cluster_dir(name)
    d.mkdir(parents=True, exist_ok=True)
    for sub in ("logs", "smi", "etcd"):
        (d / sub).mkdir(exist_ok=True)
    taken: set[int] = set()
    ports = {k: processes.free_port(taken) for k in ("etcd", "etcd_peer", "apiserver", "kcm", "scheduler", "kwok")}
    server = f"https://127.0.0.1:{ports['apiserver']}"
    _write_state(d, name=name, profile=prof.name, scenarios=[], phase="starting", ports=ports,
                 server=server, owner_pid=owner_pid, created=time.time())
    procs: list[Proc] = []
    try:
        p = pki.create(d / "pki")
        for ident in ("admin", "controller-manager", "scheduler", "kwok"):
            (d / f"{ident}.kubeconfig").write_text(pki.kubeconfig(p, server, ident, name))
        (d / "kubeconfig").write_text(pki.kubeconfig(p, server, "admin", name))
        _start_control_plane(d, p, bins, ports, procs, deadline, say)
        api = _api(d / "kubeconfig")
        _bootstrap(api, prof, say)
        _start_nodes(d, bins, ports, procs, deadline)
        _wait_ready(api, prof, deadline, say)
        _write_state(d, phase="ready")
        for s in wanted_scenarios:
            scenario_mod.apply(api, s)
        _write_state(d, scenarios=wanted_scenarios)
    except BaseException:
        processes.save(procs, d / "procs.json")
        _write_state(d, phase="failed")
        down(name)
        raise
    say(f"gpucheck sim: cluster {name!r} ready in {time.monotonic() - started:.1f}s "
        f"({prof.node_count} nodes, {prof.gpu_node_count} with GPUs) at {server}")
    result = info(name)
    assert result is not None
    return result


def _start_control_plane(d: Path, p: pki.Pki, bins: dict[str, Path], ports: dict[str, int],
                         procs: list[Proc], deadline: float, say: Callable[[str], None]) -> None:
    etcd = processes.spawn("etcd", [
        str(bins["etcd"]), "--name=sim", f"--data-dir={d / 'etcd'}",
        f"--listen-client-urls=http://127.0.0.1:{ports['etcd']}",
        f"--advertise-client-urls=http://127.0.0.1:{ports['etcd']}",
        f"--listen-peer-urls=http://127.0.0.1:{ports['etcd_peer']}",
        f"--initial-advertise-peer-urls=http://127.0.0.1:{ports['etcd_peer']}",
        f"--initial-cluster=sim=http://127.0.0.1:{ports['etcd_peer']}",
        "--unsafe-no-fsync", "--log-level=warn", "--quota-backend-bytes=4294967296",
    ], d / "logs" / "etcd.log")
    procs.append(etcd)
    processes.save(procs, d / "procs.json")
    processes.wait_until(processes.http_ok(f"http://127.0.0.1:{ports['etcd']}/health", expect="true"),
                         deadline, etcd, "answering /health")
    apiserver = processes.spawn("kube-apiserver", [
        str(bins["kube-apiserver"]),
        f"--etcd-servers=http://127.0.0.1:{ports['etcd']}",
        "--bind-address=127.0.0.1", f"--secure-port={ports['apiserver']}",
        "--advertise-address=127.0.0.1", "--endpoint-reconciler-type=none",
        f"--tls-cert-file={p.cert('apiserver')}", f"--tls-private-key-file={p.key('apiserver')}",
        f"--client-ca-file={p.ca_cert}",
        f"--service-account-key-file={p.sa_pub}", f"--service-account-signing-key-file={p.sa_key}",
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        "--authorization-mode=Node,RBAC",
        "--enable-admission-plugins=NodeRestriction,PodSecurity,ServiceAccount,ResourceQuota,Priority",
        "--service-cluster-ip-range=10.96.0.0/16",
        f"--kubelet-client-certificate={p.cert('apiserver-kubelet-client')}",
        f"--kubelet-client-key={p.key('apiserver-kubelet-client')}",
        "--kubelet-preferred-address-types=InternalIP",
        "--allow-privileged=true", "--profiling=false",
        "--max-requests-inflight=800", "--max-mutating-requests-inflight=400",
    ], d / "logs" / "kube-apiserver.log")
    procs.append(apiserver)
    processes.save(procs, d / "procs.json")
    say("gpucheck sim: etcd up; waiting for kube-apiserver")
    processes.wait_until(processes.http_ok(f"https://127.0.0.1:{ports['apiserver']}/readyz", _ssl_ctx(p)),
                         deadline, apiserver, "answering /readyz", interval=0.2)
    sched_cfg = d / "scheduler-config.yaml"
    sched_cfg.write_text(yaml.safe_dump({
        "apiVersion": "kubescheduler.config.k8s.io/v1",
        "kind": "KubeSchedulerConfiguration",
        "clientConnection": {"kubeconfig": str(d / "scheduler.kubeconfig"), "qps": 500, "burst": 1000},
        "leaderElection": {"leaderElect": False},
    }))
    procs.append(processes.spawn("kube-controller-manager", [
        str(bins["kube-controller-manager"]),
        f"--kubeconfig={d / 'controller-manager.kubeconfig'}",
        f"--authentication-kubeconfig={d / 'controller-manager.kubeconfig'}",
        f"--authorization-kubeconfig={d / 'controller-manager.kubeconfig'}",
        "--bind-address=127.0.0.1", f"--secure-port={ports['kcm']}",
        "--leader-elect=false", "--use-service-account-credentials=true",
        f"--service-account-private-key-file={p.sa_key}", f"--root-ca-file={p.ca_cert}",
        f"--cluster-signing-cert-file={p.ca_cert}", f"--cluster-signing-key-file={d / 'pki' / 'ca.key'}",
        "--kube-api-qps=500", "--kube-api-burst=1000",
        # No kube-proxy or network reads Endpoints in the sim: their controllers would only
        # rewrite a 550-address object per dcgm-exporter pod on a large profile.
        "--controllers=*,-nodeipam,-service-lb-controller,-cloud-node-lifecycle-controller,-endpoints-controller,"
        "-endpointslice-controller,-endpointslice-mirroring-controller",
        "--concurrent-daemonset-syncs=4", "--concurrent-gc-syncs=20",
        f"--node-monitor-grace-period={NODE_LEASE_S + 60}s",
    ], d / "logs" / "kube-controller-manager.log"))
    procs.append(processes.spawn("kube-scheduler", [
        str(bins["kube-scheduler"]), f"--config={sched_cfg}",
        f"--authentication-kubeconfig={d / 'scheduler.kubeconfig'}",
        f"--authorization-kubeconfig={d / 'scheduler.kubeconfig'}",
        "--bind-address=127.0.0.1", f"--secure-port={ports['scheduler']}",
    ], d / "logs" / "kube-scheduler.log"))
    processes.save(procs, d / "procs.json")


def _start_nodes(d: Path, bins: dict[str, Path], ports: dict[str, int], procs: list[Proc],
                 deadline: float) -> None:
    kwok_cfg = d / "kwok.yaml"
    kwok_cfg.write_text((resources.files("gpucheck.sim") / "data" / "kwok.yaml").read_text())
    kwok = processes.spawn("kwok", [
        str(bins["kwok"]), f"--config={kwok_cfg}", f"--kubeconfig={d / 'kwok.kubeconfig'}",
        "--manage-all-nodes=false", f"--manage-nodes-with-annotation-selector={profiles.KWOK_NODE_ANN}=fake",
        "--node-ip=127.0.0.1", f"--node-port={ports['kwok']}", f"--server-address=127.0.0.1:{ports['kwok']}",
        "--cidr=10.0.0.1/16", "--enable-crds=Logs", f"--node-lease-duration-seconds={NODE_LEASE_S}",
    ], d / "logs" / "kwok.log")
    procs.append(kwok)
    agent = processes.spawn("sim-agent", [
        sys.executable, "-m", "gpucheck.sim.agent", f"--kubeconfig={d / 'kubeconfig'}", f"--dir={d / 'smi'}",
    ], d / "logs" / "sim-agent.log", env={**os.environ, "PYTHONUNBUFFERED": "1"})
    procs.append(agent)
    processes.save(procs, d / "procs.json")
    processes.wait_until(processes.http_ok(f"http://127.0.0.1:{ports['kwok']}/healthz"), deadline, kwok,
                         "answering /healthz")


def _api(kubeconfig: Path) -> Any:
    from kubernetes import client, config

    cfg = client.Configuration()
    config.load_kube_config(config_file=str(kubeconfig), client_configuration=cfg)
    return client.ApiClient(cfg)


def _bootstrap(api: Any, prof: profiles.Profile, say: Callable[[str], None]) -> None:
    from kubernetes import client, utils

    docs = [doc for doc in yaml.safe_load_all(
        (resources.files("gpucheck.sim") / "data" / "bootstrap.yaml").read_text()) if doc]
    ext = client.ApiextensionsV1Api(api)
    custom = [d for d in docs if d["apiVersion"].split("/")[0] in CUSTOM_GROUPS]
    for doc in docs:
        if doc not in custom:
            utils.create_from_dict(api, doc)
    _wait_crd(ext, "logs.kwok.x-k8s.io")
    for doc in custom:
        create_custom(api, doc)
    nodes = profiles.node_objects(prof)
    core = client.CoreV1Api(api)
    say(f"gpucheck sim: creating {len(nodes)} nodes of profile {prof.name!r}")
    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(lambda n: core.create_node(n), nodes))


# API groups of bootstrap objects defined by a CRD in the same file (no typed client for them).
CUSTOM_GROUPS = frozenset({"karpenter.sh"})


def create_custom(api: Any, doc: dict[str, Any]) -> None:
    """Create a custom resource, once its CRD serves it."""
    from kubernetes import client

    group, version = doc["apiVersion"].split("/")
    plural = doc["kind"].lower() + "s"
    _wait_crd(client.ApiextensionsV1Api(api), f"{plural}.{group}")
    client.CustomObjectsApi(api).create_cluster_custom_object(group, version, plural, doc)


def _wait_crd(ext: Any, name: str) -> None:
    from kubernetes import watch

    w = watch.Watch()
    for ev in w.stream(ext.list_custom_resource_definition, field_selector=f"metadata.name={name}",
                       timeout_seconds=30):
        conds = ev["object"].status.conditions or []
        if any(c.type == "Established" and c.status == "True" for c in conds):
            w.stop()
            return
    raise SimError(f"CustomResourceDefinition {name} was not Established within 30s")


def _wait_ready(api: Any, prof: profiles.Profile, deadline: float, say: Callable[[str], None]) -> None:
    """Watch until every node is Ready and the device plugin is ready on every GPU node."""
    from kubernetes import client, watch

    core = client.CoreV1Api(api)
    apps = client.AppsV1Api(api)
    want_nodes = prof.node_count
    ready: set[str] = set()
    nodes = core.list_node()
    for n in nodes.items:
        if _node_ready(n):
            ready.add(n.metadata.name)
    rv = nodes.metadata.resource_version
    while len(ready) < want_nodes:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise SimError(f"only {len(ready)}/{want_nodes} nodes became Ready in time; see the kwok log")
        for ev in watch.Watch().stream(core.list_node, resource_version=rv,
                                       timeout_seconds=max(1, int(remaining))):
            n = ev["object"]
            rv = n.metadata.resource_version
            (ready.add if _node_ready(n) else ready.discard)(n.metadata.name)
            if len(ready) >= want_nodes:
                break
    say(f"gpucheck sim: {want_nodes} nodes Ready; waiting for the device plugin on {prof.gpu_node_count} GPU nodes")
    want = prof.gpu_node_count
    sel = "metadata.name=nvidia-device-plugin-daemonset"
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise SimError("the device-plugin DaemonSet did not become ready on every GPU node in time")
        w = watch.Watch()
        for ev in w.stream(apps.list_namespaced_daemon_set, "kube-system", field_selector=sel,
                           timeout_seconds=max(1, int(remaining))):
            st = ev["object"].status
            if st and st.desired_number_scheduled == want and st.number_ready == want:
                w.stop()
                return


def _node_ready(n: Any) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in (n.status.conditions or []))
