"""Fault injection: what real clusters do to a readiness gate, and what gpucheck does then.

Every fault is injected into a real control plane, through a loopback proxy in front of the
API server (tests/faultproxy.py: 403, 429/5xx with Retry-After, cut watches, refused
connections) or directly (signals, a killed xdist worker, a probe pod deleted by someone
else, the run's deadline). Each time the run must end within its deadline, the checks it
affects must say ERROR or FAIL with the reason, the exit code must be the documented one, the
report must be written, and nothing gpucheck created may be left in the cluster.

The API server restart and the node deletion get a cluster of their own (test_faults_cluster.py).
"""

from __future__ import annotations

import json
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from kubernetes import client, watch

from faultproxy import Fault, FaultProxy, verb_is
from gpucheck import exitcodes
from gpucheck.cluster.wait import wait_deleted
from gpucheck.config import resolve
from gpucheck.run import RunState
from gpucheck.sim import expectations_file

pytestmark = pytest.mark.sim

RUN = "gpucheck.dev/run"


def leftovers(api) -> list[str]:
    """What gpucheck runs left in the cluster: labelled namespaces still Active, then labelled
    pods and claims not on their way out (a Terminating namespace is waited for first: its
    pods go with it)."""
    core = client.CoreV1Api(api)
    namespaces = core.list_namespace(label_selector=RUN).items
    out = [f"Namespace/{n.metadata.name}" for n in namespaces if n.status.phase == "Active"]
    for n in namespaces:
        if n.status.phase != "Active":
            wait_deleted(core.list_namespace, name=n.metadata.name, timeout=90, what=f"namespace {n.metadata.name} gone")
    out += [f"Pod/{p.metadata.namespace}/{p.metadata.name}"
            for p in core.list_pod_for_all_namespaces(label_selector=RUN).items if not p.metadata.deletion_timestamp]
    out += [f"PersistentVolumeClaim/{c.metadata.namespace}/{c.metadata.name}"
            for c in core.list_persistent_volume_claim_for_all_namespaces(label_selector=RUN).items
            if not c.metadata.deletion_timestamp]
    return out


def run_cli(*args: str, tmp_path: Path, timeout: float = 300) -> tuple[int, str, dict | None, float]:
    started = time.monotonic()
    res = subprocess.run([sys.executable, "-m", "gpucheck", "run", f"--report={tmp_path / 'report'}", *args],
                         capture_output=True, text=True, timeout=timeout, cwd=tmp_path)
    return res.returncode, res.stdout + res.stderr, _report(tmp_path), time.monotonic() - started


def _report(tmp_path: Path) -> dict | None:
    path = tmp_path / "report" / "report.json"
    return json.loads(path.read_text()) if path.is_file() else None


def statuses(report: dict) -> dict[str, str]:
    return {c["id"]: c["status"] for c in report["checks"]}


@pytest.fixture
def proxy(sim):
    with FaultProxy.for_sim(sim) as p:
        yield p


@pytest.fixture
def proxied(proxy, tmp_path) -> str:
    return str(proxy.kubeconfig(tmp_path / "proxy.kubeconfig"))


# -- transient answers: retried as the server asks -----------------------------------------------

def test_429_and_503_with_retry_after_are_retried_and_the_run_passes(api, proxy, proxied, tmp_path):
    proxy.faults += [Fault(verb_is("list", "nodes"), status=429, retry_after=1, times=2),
                     Fault(verb_is("create", "pods"), status=503, retry_after=0.5, times=2),
                     Fault(verb_is("get", "pods", "log"), status=500, times=1)]
    code, out, report, _ = run_cli(f"--kubeconfig={proxied}", tmp_path=tmp_path)
    assert code == exitcodes.READY, out[-3000:]
    assert [f.hits for f in proxy.faults] == [2, 2, 1]
    assert report["verdict"] == "READY"
    assert leftovers(api) == []


def test_a_persistent_503_makes_exactly_the_checks_that_need_it_error(api, proxy, proxied, tmp_path):
    proxy.faults.append(Fault(verb_is("list", "daemonsets.apps"), status=503))
    code, out, report, elapsed = run_cli(f"--kubeconfig={proxied}", "--profile=quick", tmp_path=tmp_path)
    assert code == exitcodes.NOT_READY and "Traceback" not in out
    errors = {cid for cid, s in statuses(report).items() if s == "ERROR"}
    assert errors == {"GPU-DP-001", "GPU-DP-002", "GPU-DP-003", "GPU-METRICS-001"}
    dp = next(c for c in report["checks"] if c["id"] == "GPU-DP-001")
    assert dp["summary"] == ("list daemonsets.apps failed: 503 Service Unavailable (after 4 attempts): "
                             "injected by the fault proxy")
    assert elapsed < 60


def test_a_retry_after_beyond_the_deadline_fails_at_once_instead_of_sleeping_past_it(proxy, proxied, tmp_path):
    proxy.faults.append(Fault(verb_is("list", "nodes"), status=429, retry_after=30))
    code, out, report, elapsed = run_cli(f"--kubeconfig={proxied}", "--profile=quick", "--timeout=8",
                                         tmp_path=tmp_path)
    assert code == exitcodes.NOT_READY
    inv = next(c for c in report["checks"] if c["id"] == "GPU-INV-001")
    assert inv["status"] == "ERROR" and "429" in inv["summary"]
    assert elapsed < 20


def test_watches_cut_mid_stream_are_resumed(api, proxy, proxied, tmp_path):
    proxy.faults.append(Fault(lambda r: r.watch, cut_after=0.3))
    code, out, report, _ = run_cli(f"--kubeconfig={proxied}", f"--config={expectations_file()}", tmp_path=tmp_path)
    assert code == exitcodes.READY, out[-3000:]
    assert proxy.faults[0].hits >= 3  # every probe's watch was cut at least once
    assert leftovers(api) == []


def test_unreachable_from_the_start_is_every_check_error_and_exit_6(proxy, proxied, tmp_path):
    proxy.down = True
    code, out, report, elapsed = run_cli(f"--kubeconfig={proxied}", tmp_path=tmp_path)
    assert code == exitcodes.UNREACHABLE and "Traceback" not in out
    assert set(statuses(report).values()) <= {"ERROR", "SKIP"} and report["verdict"] == "NOT_READY"
    assert all("cannot reach the API server" in c["summary"] for c in report["checks"] if c["status"] == "ERROR")
    assert elapsed < 60


# -- 403 on every verb gpucheck uses ------------------------------------------------------------

def _traced_run(kubeconfig: str, proxy: FaultProxy, *, profile: str = "standard", only: list[str] | None = None,
                namespace: str | None = None) -> dict:
    """One run in-process, as the plugin drives it (janitor, checks, cleanup, grading), noting
    which API requests each step made. Returns what a user would read and what was used."""
    cli = {"kubeconfig": kubeconfig, "profile": profile, "config_file": expectations_file(), "namespace": namespace}
    state = RunState(resolve(cli=cli, env={}))

    def step(fn):
        before = len(proxy.log)
        value = fn()
        return value, {req.target()[:3] for req, _ in proxy.log[before:]}

    used: dict[str, set] = {}
    janitor, used["janitor"] = step(lambda: state.janitor() or "")
    results = {}
    for cid in only if only is not None else state.expected():
        results[cid], used[cid] = step(lambda cid=cid: state.evaluate(cid))
    problem, used["cleanup"] = step(state.cleanup)
    for r in results.values():
        state.add(r)
    _, code = state.finish()
    text = "\n".join([janitor, problem or ""] + [r.summary for r in results.values()]
                     + [f.message for r in results.values() for f in r.findings])
    return {"text": text, "statuses": {cid: r.status.value for cid, r in results.items()}, "problem": problem,
            "code": code, "used": used}


@pytest.fixture
def fixed_workspace(api):
    """A workspace namespace given with --gpucheck-namespace, as a least-privilege deployment
    uses: runs then create and delete no namespace, which keeps this module fast."""
    core = client.CoreV1Api(api)
    name = "gpucheck-faults"
    core.create_namespace({"metadata": {"name": name, "labels": {"pod-security.kubernetes.io/enforce": "restricted"}}})
    try:
        yield name
    finally:
        core.delete_namespace(name)
        wait_deleted(core.list_namespace, name=name, timeout=90, what=f"namespace {name} gone")


def _deny(proxy: FaultProxy, target: tuple[str, str, str]) -> str:
    verb, resource, sub = target
    name = resource + (f"/{sub}" if sub else "")
    proxy.faults[:] = [Fault(verb_is(*target), status=403, reason=f"injected: {verb} {name} denied")]
    return f"may not {verb} {name}"


def test_403_on_each_list_of_the_snapshot_errors_exactly_the_checks_that_read_that_kind(api, proxy, proxied):
    from gpucheck import access
    from gpucheck.inventory import ANALYZERS
    from gpucheck.inventory.snapshot import KINDS

    base = _traced_run(proxied, proxy, profile="quick")
    assert base["code"] == exitcodes.READY, base["text"]
    by_resource = {(r if not g else f"{r}.{g}"): kind for kind, (g, r) in KINDS.items()}
    lists = sorted({t for used in base["used"].values() for t in used if t[0] == "list"})
    assert sorted(by_resource[r] for _, r, _ in lists) == sorted(KINDS), lists  # one LIST per kind
    for target in lists:
        needle = _deny(proxy, target)
        run = _traced_run(proxied, proxy, profile="quick")
        kind = by_resource[target[1]]
        errors = {cid for cid, st in run["statuses"].items() if st == "ERROR"}
        needs = {cid for cid, (_, kinds) in ANALYZERS.items() if kind in kinds}
        needs |= {cid for cid, kinds in access.KINDS.items() if kind in kinds}
        assert errors == needs, (target, run["statuses"])
        assert needle in run["text"] and run["code"] == exitcodes.NOT_READY
    proxy.faults.clear()


def test_403_on_each_other_verb_names_the_verb_and_resource_and_the_run_ends_clean(
        api, proxy, proxied, fixed_workspace):
    core = client.CoreV1Api(api)
    snapshot = {t for used in _traced_run(proxied, proxy, profile="quick")["used"].values() for t in used
                if t[0] == "list"}
    per_run = _traced_run(proxied, proxy)  # the default: a namespace of its own per run
    fixed = _traced_run(proxied, proxy, namespace=fixed_workspace)
    assert per_run["code"] == fixed["code"] == exitcodes.READY, per_run["text"] + fixed["text"]
    assert leftovers(api) == []
    targets: dict[tuple[str, str, str], tuple[str | None, list[str]]] = {}
    for mode, run in ((None, per_run), (fixed_workspace, fixed)):
        for step, used in run["used"].items():
            for t in used - snapshot:
                ns, checks = targets.setdefault(t, (mode, []))
                if ns == mode and step not in ("janitor", "cleanup"):
                    checks.append(step)
    assert {("create", "pods", ""), ("watch", "pods", ""), ("get", "pods", "log"), ("delete", "pods", ""),
            ("create", "namespaces", ""), ("delete", "namespaces", ""), ("get", "secrets", ""),
            ("create", "subjectaccessreviews.authorization.k8s.io", ""), ("create", "persistentvolumeclaims", ""),
            ("deletecollection", "pods", "")} <= set(targets), sorted(targets)
    unexercised: list[tuple[str, str, str]] = []
    for target, (ns, checks) in sorted(targets.items()):
        needle = _deny(proxy, target)
        # The checks that made this request; a request only the janitor or the cleanup makes is
        # driven by one cheap probe that gives them something to do.
        run = _traced_run(proxied, proxy, only=checks or ["GPU-ISO-002"], namespace=ns)
        denied = proxy.faults[0].hits
        proxy.faults.clear()
        if not denied:
            # Made only when timing calls for it (a watch, when the first read already showed
            # the end state): this run did without it.
            assert target[0] == "watch", target
            unexercised.append(target)
            continue
        assert needle in run["text"], (target, run["text"][-2000:])
        if checks and target[0] in ("create", "get", "list", "watch"):
            assert run["code"] == exitcodes.NOT_READY, target
            assert any(st == "ERROR" for st in run["statuses"].values()), (target, run["statuses"])
            assert set(run["statuses"].values()) <= {"ERROR", "FAIL", "SKIP", "PASS"}
        if run["problem"]:
            # A denied delete of the run's own objects is reported, naming what was denied; the
            # test then removes what is left, as an admin would after reading it.
            assert needle in run["problem"], target
            for n in core.list_namespace(label_selector=RUN).items:
                core.delete_namespace(n.metadata.name)
            core.delete_collection_namespaced_pod(fixed_workspace, label_selector=RUN)
        assert leftovers(api) == [], target
    assert len(unexercised) <= 1, unexercised


# -- signals, lost workers, deadlines ------------------------------------------------------------

def _first_probe_pod(core, timeout: float = 120) -> str:
    rv = core.list_pod_for_all_namespaces(label_selector=RUN).metadata.resource_version
    for ev in watch.Watch().stream(core.list_pod_for_all_namespaces, label_selector=RUN, resource_version=rv,
                                   timeout_seconds=int(timeout)):
        if ev["type"] == "ADDED":
            return ev["object"].metadata.name
    raise AssertionError("no probe pod appeared")


@pytest.mark.parametrize("sig,seed", [(signal.SIGINT, 1), (signal.SIGINT, 2), (signal.SIGTERM, 3),
                                      (signal.SIGTERM, 4), (signal.SIGTERM, 5)])
def test_a_signal_at_a_random_point_ends_the_run_clean(api, sim, tmp_path, sig, seed):
    delay = random.Random(seed).uniform(1.5, 7.0)  # from collection to the last probes
    proc = subprocess.Popen([sys.executable, "-m", "gpucheck", "run", f"--kubeconfig={sim.kubeconfig}",
                             f"--config={expectations_file()}", f"--report={tmp_path / 'report'}"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path)
    try:
        time.sleep(delay)
        assert proc.poll() is None, "the run ended before the signal; pick a shorter delay"
        proc.send_signal(sig)
        sent = time.monotonic()
        out, _ = proc.communicate(timeout=60)
        took = time.monotonic() - sent
    finally:
        proc.kill()
    assert proc.returncode == exitcodes.INTERRUPTED, out[-3000:]
    assert "Traceback" not in out
    assert took < 40
    report = _report(tmp_path)
    assert report is not None and report["verdict"] == "NOT_READY"
    assert any("interrupted" in c["summary"] for c in report["checks"] if c["status"] == "ERROR")
    assert leftovers(api) == []


def _catches_sigterm(pid: int) -> bool:
    """gpucheck's first line holds SIGINT and SIGTERM (gpucheck.signals); Python catches no
    SIGTERM of its own, so a caught SIGTERM means gpucheck's code is running."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigCgt:"):
            return bool(int(line.split()[1], 16) & (1 << (signal.SIGTERM - 1)))
    return False


@pytest.mark.parametrize("sig,delay", [(signal.SIGINT, 0.0), (signal.SIGTERM, 0.0), (signal.SIGINT, 0.3),
                                       (signal.SIGTERM, 0.6)])
def test_a_signal_while_gpucheck_is_still_starting_still_writes_the_report(api, sim, tmp_path, sig, delay):
    """A CronJob's deadline or a cancelled CI job can land while gpucheck is still importing
    and pytest still loading: no check ran, yet the run ends with exit 2 and a report saying
    so, no traceback. (Before gpucheck's first line runs, the interpreter alone decides.)"""
    proc = subprocess.Popen([sys.executable, "-m", "gpucheck", "run", f"--kubeconfig={sim.kubeconfig}",
                             f"--config={expectations_file()}", f"--report={tmp_path / 'report'}"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 20
        while not _catches_sigterm(proc.pid):
            assert time.monotonic() < deadline and proc.poll() is None, "gpucheck never started"
            time.sleep(0.005)
        time.sleep(delay)
        proc.send_signal(sig)
        out, _ = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == exitcodes.INTERRUPTED, out[-3000:]
    assert "Traceback" not in out
    report = _report(tmp_path)
    assert report is not None and report["verdict"] == "NOT_READY", out[-3000:]
    assert all(c["status"] == "ERROR" and "interrupted" in c["summary"] for c in report["checks"]
               if c["status"] != "PASS")
    assert leftovers(api) == []


def test_a_signal_anywhere_from_start_to_exit_leaves_a_report_and_no_traceback(tmp_path):
    """Against an unusable kubeconfig a whole run takes about two seconds: signals spread over
    it land in imports, pytest's configure, the session's start, the checks, the wrap-up and
    the exit. Each run ends interrupted (2) or, signalled at its very end, as it would have
    (6); always with its report and never with a traceback. (A SIGTERM in the last moments of
    the interpreter's exit, once Python has put back the default handlers, kills it after
    everything was written: -15 or -2 then, with the run's whole output.)"""
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "gpucheck", "run", "--kubeconfig=/nonexistent",
                           f"--report={tmp_path / 'whole'}"], capture_output=True, text=True, cwd=tmp_path)
    whole = time.monotonic() - start
    assert proc.returncode == exitcodes.UNREACHABLE, proc.stdout[-2000:]
    for i in range(16):
        report_dir = tmp_path / f"r{i}"
        proc = subprocess.Popen([sys.executable, "-m", "gpucheck", "run", "--kubeconfig=/nonexistent",
                                 f"--report={report_dir}"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, cwd=tmp_path)
        try:
            while not _catches_sigterm(proc.pid) and proc.poll() is None:
                time.sleep(0.005)
            time.sleep(whole * i / 16)
            proc.send_signal(signal.SIGTERM if i % 2 else signal.SIGINT)
            out, _ = proc.communicate(timeout=60)
        finally:
            proc.kill()
        finished = "gpucheck verdict:" in out and re.search(r" in [0-9.]+s =+$", out.rstrip()) is not None
        assert proc.returncode in (exitcodes.INTERRUPTED, exitcodes.UNREACHABLE) or (
            proc.returncode in (-signal.SIGINT, -signal.SIGTERM) and finished), (i, proc.returncode, out[-3000:])
        assert "Traceback" not in out, (i, out[-3000:])
        assert (report_dir / "report.json").is_file(), (i, out[-3000:])


def test_a_killed_xdist_worker_is_error_for_its_checks_and_its_pods_are_removed(api, sim, tmp_path):
    import os

    core = client.CoreV1Api(api)
    proc = subprocess.Popen([sys.executable, "-m", "gpucheck", "run", f"--kubeconfig={sim.kubeconfig}", "-n", "2",
                             f"--report={tmp_path / 'report'}"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path)
    try:
        _first_probe_pod(core)
        workers = [int(p) for p in os.listdir("/proc") if p.isdigit() and _parent(int(p)) == proc.pid]
        assert workers, "no xdist worker found"
        os.kill(workers[0], signal.SIGKILL)
        out, _ = proc.communicate(timeout=300)
    finally:
        proc.kill()
    assert proc.returncode == exitcodes.NOT_READY, out[-3000:]
    report = _report(tmp_path)
    lost = [c for c in report["checks"] if c["status"] == "ERROR"]
    assert lost and all("worker was lost" in c["summary"] for c in lost), [c["summary"] for c in lost]
    assert leftovers(api) == []


def _parent(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def test_the_global_deadline_ends_the_run_on_time_and_still_cleans_up(api, sim, tmp_path):
    code, out, report, elapsed = run_cli(f"--kubeconfig={sim.kubeconfig}", f"--config={expectations_file()}",
                                         "--timeout=4", tmp_path=tmp_path)
    assert code == exitcodes.NOT_READY and "Traceback" not in out
    assert elapsed < 4 + 30 + 10  # the deadline, cleanup's own budget, interpreter start
    late = [c for c in report["checks"] if c["status"] == "ERROR"]
    assert late and all("deadline" in c["summary"] for c in late), [c["summary"] for c in late]
    assert leftovers(api) == []


def test_a_probe_pod_deleted_by_someone_else_fails_its_check_naming_it(api, sim, tmp_path):
    core = client.CoreV1Api(api)
    node = sorted(n.metadata.name for n in core.list_node(label_selector="sim.gpucheck.io/pool=l4").items)[0]
    # Hold that node's pods in ContainerCreating (a slow image pull) so the deletion lands mid-wait.
    core.patch_node(node, {"metadata": {"annotations": {"sim.gpucheck.io/image-pull-seconds": "40"}}})
    try:
        proc = subprocess.Popen([sys.executable, "-m", "gpucheck", "run", f"--kubeconfig={sim.kubeconfig}",
                                 "--select=GPU-SMI-001", f"--report={tmp_path / 'report'}"],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path)
        try:
            victim = _pod_on(core, node)
            core.delete_namespaced_pod(victim.metadata.name, victim.metadata.namespace, grace_period_seconds=0)
            out, _ = proc.communicate(timeout=120)
        finally:
            proc.kill()
    finally:
        core.patch_node(node, {"metadata": {"annotations": {"sim.gpucheck.io/image-pull-seconds": None}}})
    assert proc.returncode == exitcodes.NOT_READY, out[-3000:]
    smi = next(c for c in _report(tmp_path)["checks"] if c["id"] == "GPU-SMI-001")
    assert smi["status"] == "FAIL"
    assert f"{node}: the nvidia-smi pod never ran (Deleted: the pod was deleted by someone else" in smi["summary"]
    assert leftovers(api) == []


def _pod_on(core, node: str, timeout: float = 60):
    rv = core.list_pod_for_all_namespaces(label_selector=RUN).metadata.resource_version
    for ev in watch.Watch().stream(core.list_pod_for_all_namespaces, label_selector=RUN, resource_version=rv,
                                   timeout_seconds=int(timeout)):
        pod = ev["object"]
        if pod.spec.node_name == node:
            return pod
    raise AssertionError(f"no probe pod was scheduled on {node}")
