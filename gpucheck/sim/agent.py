"""The simulated node software: device allocation and container output.

A real kubelet asks the NVIDIA device plugin to Allocate devices before it starts a container,
and the container runtime then shows the container only those devices. KWOK plays the kubelet
but has no device manager, so this agent does that part for every pod bound to a KWOK node:

- gives each container the GPU indices or MIG slices it asked for (the lowest free ones);
- writes what `nvidia-smi` prints in that container (a cut of the node's recorded real output,
  or the node's injected failure) as a CRI log file, and a kwok `Logs` object pointing at it,
  owned by the pod so it goes away with the pod;
- then marks the pod `sim.gpucheck.io/started`, which is what KWOK's pod-ready stage waits for.

Run as a process of the simulated cluster: ``python -m gpucheck.sim.agent --kubeconfig K --dir D``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import signal
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

from gpucheck.sim import smi_render
from gpucheck.sim.profiles import KWOK_NODE_ANN, POOL_LABEL, SIM_ANN

log = logging.getLogger("gpucheck.sim.agent")

STARTED = SIM_ANN + "started"
EXIT_CODE = SIM_ANN + "exit-code"
# Node annotations that scenarios set to change what containers on the node see.
PULL_SECONDS = SIM_ANN + "image-pull-seconds"
SMI_FAULT = SIM_ANN + "smi-fault"  # a key of smi_render.ERRORS
DRIVER_OVERRIDE = SIM_ANN + "driver-version"  # the driver the node really runs
GPU_LEAK = SIM_ANN + "gpu-leak"  # containers without a GPU request see every GPU
MIG_WRONG = SIM_ANN + "mig-wrong-slice"  # a slice request gets another profile

_TERMINAL = ("Succeeded", "Failed")


@dataclass
class NodeState:
    annotations: dict[str, str] = field(default_factory=dict)
    # pod uid -> (gpu indices, mig slices)
    used: dict[str, tuple[list[int], list[smi_render.MigSlice]]] = field(default_factory=dict)
    # Images this node has pulled since its pull time was last set: as a kubelet's image
    # cache, only the first pod of an image pays the pull.
    pulled: set[str] = field(default_factory=set)

    def update(self, annotations: dict[str, str]) -> None:
        if annotations.get(PULL_SECONDS) != self.annotations.get(PULL_SECONDS):
            self.pulled.clear()  # a new pull time: as if the node's images were evicted
        self.annotations = annotations

    @property
    def is_kwok(self) -> bool:
        return self.annotations.get(KWOK_NODE_ANN) == "fake"


def _requests(container: Any) -> dict[str, int]:
    res = container.resources
    wanted: dict[str, int] = {}
    for source in (res.limits if res else None, res.requests if res else None):
        for k, v in (source or {}).items():
            if k.startswith("nvidia.com/"):
                wanted[k] = max(wanted.get(k, 0), int(str(v)))
    return wanted


class Agent:
    def __init__(self, api: client.CoreV1Api, custom: client.CustomObjectsApi, out_dir: Path):
        self.api = api
        self.custom = custom
        self.out_dir = out_dir
        self.nodes: dict[str, NodeState] = {}
        self.lock = threading.Lock()
        self.pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="start")
        self.inflight: set[str] = set()
        # Pods already started: a watch event carrying the pod as it was before our own
        # patch must not start it (and allocate devices) a second time.
        self.started: set[str] = set()
        self.stop = threading.Event()

    # -- node cache -------------------------------------------------------------------------
    def _node(self, name: str) -> NodeState:
        st = self.nodes.get(name)
        if st is None:
            try:
                node = self.api.read_node(name)
                ann = dict(node.metadata.annotations or {})
            except ApiException as exc:
                if exc.status != 404:
                    raise
                ann = {}
            st = self.nodes.setdefault(name, NodeState(annotations=ann))
        return st

    def watch_nodes(self) -> None:
        while not self.stop.is_set():
            try:
                rv = ""
                nodes = self.api.list_node()
                with self.lock:
                    for n in nodes.items:
                        self.nodes.setdefault(n.metadata.name, NodeState()).update(
                            dict(n.metadata.annotations or {}))
                rv = nodes.metadata.resource_version
                for ev in watch.Watch().stream(self.api.list_node, resource_version=rv,
                                               timeout_seconds=300):
                    n = ev["object"]
                    with self.lock:
                        if ev["type"] == "DELETED":
                            self.nodes.pop(n.metadata.name, None)
                        else:
                            self.nodes.setdefault(n.metadata.name, NodeState()).update(
                                dict(n.metadata.annotations or {}))
                    if self.stop.is_set():
                        return
            except Exception as exc:  # the apiserver may restart under us; start over
                log.warning("node watch: %s; relisting", exc)
                self.stop.wait(1)

    # -- pods -------------------------------------------------------------------------------
    def watch_pods(self) -> None:
        while not self.stop.is_set():
            try:
                pods = self.api.list_pod_for_all_namespaces()
                for p in pods.items:
                    self.handle(p)
                for ev in watch.Watch().stream(self.api.list_pod_for_all_namespaces,
                                               resource_version=pods.metadata.resource_version,
                                               timeout_seconds=300):
                    p = ev["object"]
                    if ev["type"] == "DELETED":
                        self.release(p, delete_files=True)
                    else:
                        self.handle(p)
                    if self.stop.is_set():
                        return
            except Exception as exc:
                log.warning("pod watch: %s; relisting", exc)
                self.stop.wait(1)

    def handle(self, pod: Any) -> None:
        node_name = pod.spec.node_name
        if not node_name:
            return
        ann = pod.metadata.annotations or {}
        uid = pod.metadata.uid
        if pod.status and pod.status.phase in _TERMINAL:
            self.release(pod, delete_files=False)
            return
        if STARTED in ann:
            self._adopt(pod, node_name, ann[STARTED])
            return
        if pod.metadata.deletion_timestamp:
            return
        with self.lock:
            if uid in self.inflight or uid in self.started:
                return
            self.inflight.add(uid)
        self.pool.submit(self._start_guarded, pod)

    def _adopt(self, pod: Any, node_name: str, record: str) -> None:
        """Rebuild an allocation after an agent restart from what the pod carries."""
        with self.lock:
            st = self._node(node_name)
            self.started.add(pod.metadata.uid)
            if pod.metadata.uid in st.used:
                return
            try:
                data = json.loads(record)
            except ValueError:
                return
            gpus = [int(i) for i in data.get("gpus", [])]
            migs = [smi_render.MigSlice(**m) for m in data.get("migs", [])]
            st.used[pod.metadata.uid] = (gpus, migs)

    def release(self, pod: Any, delete_files: bool) -> None:
        with self.lock:
            if delete_files:
                self.started.discard(pod.metadata.uid)
            st = self.nodes.get(pod.spec.node_name or "")
            if st:
                st.used.pop(pod.metadata.uid, None)
        if delete_files:
            for f in self.out_dir.glob(f"{pod.metadata.uid}_*.log"):
                f.unlink(missing_ok=True)

    def _start_guarded(self, pod: Any) -> None:
        """Start `pod`, retrying as a kubelet's pod sync does. A start that fails while the
        API server restarts must not be dropped: the watch may already have resumed (and
        skipped this in-flight pod), so no further event would ever bring it back."""
        uid, ns, name = pod.metadata.uid, pod.metadata.namespace, pod.metadata.name
        delay = 0.5
        try:
            while not self.stop.is_set():
                try:
                    self.start(pod)
                    with self.lock:
                        self.started.add(uid)
                    return
                except ApiException as exc:
                    if exc.status in (404, 409):  # the pod is gone (or its name was reused)
                        return
                    log.warning("start %s/%s: %s; retrying", ns, name, exc.reason)
                except Exception as exc:  # a dropped connection: the API server restarting
                    log.warning("start %s/%s: %s; retrying", ns, name, exc)
                self._forget(pod)
                self.stop.wait(delay)
                delay = min(delay * 2, 5.0)
                pod = self._current(pod)
                if pod is None:
                    return
        finally:
            with self.lock:
                self.inflight.discard(uid)

    def _forget(self, pod: Any) -> None:
        """Undo a failed start's allocation, so the retry allocates afresh."""
        with self.lock:
            st = self.nodes.get(pod.spec.node_name or "")
            if st:
                st.used.pop(pod.metadata.uid, None)

    def _current(self, pod: Any) -> Any:
        """The pod as the API server has it now; None when there is nothing left to start
        (deleted, replaced by a pod of the same name, terminating, finished or started)."""
        while not self.stop.is_set():
            try:
                now = self.api.read_namespaced_pod(pod.metadata.name, pod.metadata.namespace)
            except ApiException as exc:
                if exc.status == 404:
                    return None
                self.stop.wait(1)
                continue
            except Exception:
                self.stop.wait(1)
                continue
            if (now.metadata.uid != pod.metadata.uid or now.metadata.deletion_timestamp
                    or (now.status and now.status.phase in _TERMINAL)):
                return None
            if STARTED in (now.metadata.annotations or {}):
                self._adopt(now, now.spec.node_name, now.metadata.annotations[STARTED])
                return None
            return now
        return None

    def _allocate(self, pod: Any) -> tuple[NodeState, dict[str, tuple[list[int], list[smi_render.MigSlice]]]]:
        with self.lock:
            st = self._node(pod.spec.node_name)
            layout = {int(k): v for k, v in json.loads(st.annotations.get(SIM_ANN + "mig-layout", "{}")).items()}
            gpu_total = int(st.annotations.get(SIM_ANN + "gpu-count", "0")) or _count_from_recording(st)
            used_gpus = {i for g, _ in st.used.values() for i in g}
            used_migs = {(m.gpu, m.profile, m.index) for _, ms in st.used.values() for m in ms}
            per_container: dict[str, tuple[list[int], list[smi_render.MigSlice]]] = {}
            all_gpus: list[int] = []
            all_migs: list[smi_render.MigSlice] = []
            for c in pod.spec.containers:
                want = _requests(c)
                gpus: list[int] = []
                for _ in range(want.get("nvidia.com/gpu", 0)):
                    free = next((i for i in range(gpu_total) if i not in used_gpus), None)
                    if free is None:
                        break
                    used_gpus.add(free)
                    gpus.append(free)
                migs: list[smi_render.MigSlice] = []
                for res, n in want.items():
                    if not res.startswith("nvidia.com/mig-"):
                        continue
                    profile = res[len("nvidia.com/mig-"):]
                    for _ in range(n):
                        slot = _free_slice(layout, profile, used_migs)
                        if slot is None:
                            break
                        used_migs.add((slot.gpu, slot.profile, slot.index))
                        migs.append(slot)
                per_container[c.name] = (gpus, migs)
                all_gpus += gpus
                all_migs += migs
            st.used[pod.metadata.uid] = (all_gpus, all_migs)
        return st, per_container

    def start(self, pod: Any) -> None:
        st, per_container = self._allocate(pod)
        node = pod.spec.node_name
        exit_code = 0
        logs = []
        for c in pod.spec.containers:
            argv = list(c.command or []) + list(c.args or [])
            mode = smi_render.command_mode(argv)
            if mode is None:
                continue
            gpus, migs = per_container[c.name]
            text, code = self._output(st, node, mode, gpus, migs, bool(_requests(c)))
            exit_code = exit_code or code
            path = self.out_dir / f"{pod.metadata.uid}_{c.name}.log"
            path.write_text(_cri(text))
            logs.append({"containers": [c.name], "logsFile": str(path)})
        if logs:
            body = {
                "apiVersion": "kwok.x-k8s.io/v1alpha1",
                "kind": "Logs",
                "metadata": {
                    "name": pod.metadata.name,
                    "namespace": pod.metadata.namespace,
                    "ownerReferences": [{"apiVersion": "v1", "kind": "Pod", "name": pod.metadata.name,
                                         "uid": pod.metadata.uid}],
                },
                "spec": {"logs": logs},
            }
            try:
                self.custom.create_namespaced_custom_object(
                    "kwok.x-k8s.io", "v1alpha1", pod.metadata.namespace, "logs", body)
            except ApiException as exc:
                if exc.status != 409:
                    raise
                self.custom.replace_namespaced_custom_object(
                    "kwok.x-k8s.io", "v1alpha1", pod.metadata.namespace, "logs", pod.metadata.name,
                    {**body, "metadata": {**body["metadata"], "resourceVersion": self.custom.get_namespaced_custom_object(
                        "kwok.x-k8s.io", "v1alpha1", pod.metadata.namespace, "logs", pod.metadata.name)["metadata"]["resourceVersion"]}})
            self._until_served(pod, logs[0]["containers"][0])
        # A node can be told to pull images slowly (the start-up budget scenario); a pulled
        # image is cached on the node.
        images = {c.image for c in pod.spec.containers}
        with self.lock:
            to_pull = images - st.pulled
        if to_pull:
            self.stop.wait(float(st.annotations.get(PULL_SECONDS, "0") or 0))
            with self.lock:
                st.pulled |= to_pull
        all_gpus = sorted({i for g, _ in per_container.values() for i in g})
        all_migs = [m.__dict__ for _, ms in per_container.values() for m in ms]
        annotations = {STARTED: json.dumps({"gpus": all_gpus, "migs": all_migs}, separators=(",", ":"))}
        if exit_code:
            annotations[EXIT_CODE] = str(exit_code)
        self.api.patch_namespaced_pod(pod.metadata.name, pod.metadata.namespace,
                                      {"metadata": {"annotations": annotations}})

    def _until_served(self, pod: Any, container: str, timeout: float = 20.0) -> None:
        """A kubelet serves a container's log as soon as the container exists. kwok serves it
        once its informer has seen the Logs object, which lags after an API server restart:
        hold the pod back until kwok answers, so a sim pod never runs with an unreadable log."""
        delay, waited = 0.05, 0.0
        while waited < timeout and not self.stop.is_set():
            try:
                self.api.read_namespaced_pod_log(pod.metadata.name, pod.metadata.namespace, container=container,
                                                 limit_bytes=1, _request_timeout=5)
                return
            except ApiException as exc:
                if exc.status == 404:
                    return  # the pod is gone
            except Exception:  # the API server itself restarting: same wait
                pass
            self.stop.wait(delay)
            waited += delay
            delay = min(delay * 2, 1.0)
        log.warning("kwok did not serve the log of %s/%s within %.0fs", pod.metadata.namespace,
                    pod.metadata.name, timeout)

    def _output(self, st: NodeState, node: str, mode: str, gpus: list[int],
                migs: list[smi_render.MigSlice], requested: bool) -> tuple[str, int]:
        ann = st.annotations
        recording = ann.get(SIM_ANN + "recording")
        if not recording:
            return smi_render.render_error("couldnt-communicate")
        fault = ann.get(SMI_FAULT)
        if fault:
            return smi_render.render_error(fault)
        rec = smi_render.parse_q(smi_render.read_recording(recording))
        if not requested and ann.get(GPU_LEAK) == "true":
            gpus = list(range(_count_from_recording(st) or len(rec.gpus)))
        if not gpus and not migs:
            return smi_render.render_error("no-devices")
        if ann.get(MIG_WRONG) == "true" and migs:
            migs = [smi_render.MigSlice(m.gpu, _other_profile(st, m.profile), m.index) for m in migs]
        if mode == "list":
            return smi_render.render_list(rec, node, gpus, migs), 0
        parents = sorted(set(gpus) | {m.gpu for m in migs})
        text = smi_render.render_q(rec, node, parents, mig_enabled=bool(migs))
        driver = ann.get(DRIVER_OVERRIDE)
        if driver:
            text = _replace_driver(text, driver)
        return text, 0

    # -- volumes --------------------------------------------------------------------------------
    def recycle_volumes(self) -> None:
        """Return the sim's released PersistentVolumes to the pool (clear the claim), as a
        dynamic provisioner would hand out a fresh volume for the next claim."""
        while not self.stop.is_set():
            try:
                for ev in watch.Watch().stream(self.api.list_persistent_volume,
                                               label_selector=POOL_LABEL + "=storage", timeout_seconds=300):
                    pv = ev["object"]
                    if ev["type"] != "DELETED" and pv.status and pv.status.phase == "Released":
                        self.api.patch_persistent_volume(pv.metadata.name, {"spec": {"claimRef": None}})
                    if self.stop.is_set():
                        return
            except Exception as exc:
                log.warning("volume watch: %s; relisting", exc)
                self.stop.wait(1)

    def run(self) -> None:
        threads = [threading.Thread(target=self.watch_nodes, daemon=True, name="nodes"),
                   threading.Thread(target=self.watch_pods, daemon=True, name="pods"),
                   threading.Thread(target=self.recycle_volumes, daemon=True, name="volumes")]
        for t in threads:
            t.start()
        self.stop.wait()
        self.pool.shutdown(wait=False, cancel_futures=True)


def _count_from_recording(st: NodeState) -> int:
    layout = st.annotations.get(SIM_ANN + "mig-layout")
    if layout:
        return len(json.loads(layout))
    rec = st.annotations.get(SIM_ANN + "recording")
    if not rec:
        return 0
    return len(smi_render.parse_q(smi_render.read_recording(rec)).gpus)


def _free_slice(layout: dict[int, list[str]], profile: str, used: set[tuple[int, str, int]]
                ) -> smi_render.MigSlice | None:
    for gpu in sorted(layout):
        for idx, prof in enumerate(layout[gpu]):
            if prof == profile and (gpu, prof, idx) not in used:
                return smi_render.MigSlice(gpu=gpu, profile=prof, index=idx)
    return None


def _other_profile(st: NodeState, profile: str) -> str:
    layout = json.loads(st.annotations.get(SIM_ANN + "mig-layout", "{}"))
    profiles = sorted({p for v in layout.values() for p in v} - {profile})
    return profiles[0] if profiles else profile


def _replace_driver(text: str, driver: str) -> str:
    out = []
    for line in text.splitlines():
        if line.startswith("Driver Version"):
            key, _, _ = line.partition(":")
            line = f"{key}: {driver}"
        out.append(line)
    return "\n".join(out) + "\n"


def _cri(text: str) -> str:
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return "".join(f"{now} stdout F {line}\n" for line in text.splitlines())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m gpucheck.sim.agent")
    ap.add_argument("--kubeconfig", required=True)
    ap.add_argument("--dir", required=True, help="where container outputs are written")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    cfg = client.Configuration()
    config.load_kube_config(config_file=args.kubeconfig, client_configuration=cfg)
    cfg.qps = 200  # type: ignore[attr-defined]
    api_client = client.ApiClient(cfg)
    out = Path(args.dir)
    out.mkdir(parents=True, exist_ok=True)
    agent = Agent(client.CoreV1Api(api_client), client.CustomObjectsApi(api_client), out)
    signal.signal(signal.SIGTERM, lambda *_: agent.stop.set())
    signal.signal(signal.SIGINT, lambda *_: agent.stop.set())
    log.info("sim agent watching pods; outputs in %s", out)
    agent.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
