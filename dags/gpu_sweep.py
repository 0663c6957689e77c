"""A hyperparameter sweep as one GPU pod per experiment: the shape gpucheck load-tests.

`make_experiments` turns the run's params into one set of KubernetesPodOperator arguments per
experiment; `train` is mapped over them with `expand_kwargs`, so Airflow starts one pod per
experiment, at most `max_active_tis_per_dag` at a time, and retries a task whose pod was
preempted or evicted. Every param can be overridden by the run's `conf`.

Copy it as a template: replace the image and `arguments` with your training entry point.
Nothing here touches the cluster or the network at import time.
"""

from __future__ import annotations

import os
from datetime import timedelta

from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
from airflow.sdk import DAG, Param, task

DAG_ID = "gpucheck_gpu_sweep"
# Parse-time limits (task-level concurrency cannot come from a run's conf).
MAX_ACTIVE = int(os.environ.get("GPUCHECK_SWEEP_MAX_ACTIVE", "16"))
RETRIES = int(os.environ.get("GPUCHECK_SWEEP_RETRIES", "2"))

with DAG(
    dag_id=DAG_ID,
    description="Mapped KubernetesPodOperator GPU sweep: one pod per experiment",
    schedule=None,
    catchup=False,
    max_active_runs=1,
    tags=["gpucheck", "gpu", "sweep"],
    params={
        "experiments": Param(8, type="integer", minimum=1, maximum=10000, description="Experiments (pods)"),
        "gpus_per_pod": Param(1, type="integer", minimum=1, description="nvidia.com/gpu per pod"),
        "image": Param("nvcr.io/nvidia/cuda:12.4.1-base-ubuntu22.04", type="string"),
        "command": Param(["nvidia-smi", "-L"], type="array", description="Container command per experiment"),
        "namespace": Param("default", type="string"),
        "node_selector": Param({}, type="object"),
        "tolerations": Param([{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
                             type="array"),
        "duration": Param("10s", type="string", description="Simulated run time (gpucheck's simulated cluster)"),
        "run_label": Param("manual", type="string", description="Label value that marks this sweep's pods"),
        "stage": Param("0", type="string", description="Ramp stage, as a label on the pods"),
        "schedule_timeout": Param(300, type="integer", minimum=1),
        "startup_timeout": Param(120, type="integer", minimum=1),
    },
) as dag:

    @task
    def make_experiments(params: dict | None = None) -> list[dict]:
        """One dict of KubernetesPodOperator arguments per experiment (plain data: it travels
        through XCom, where Kubernetes model objects would not survive)."""
        p = params or {}
        gpus = str(p["gpus_per_pod"])
        labels = {"app.kubernetes.io/managed-by": "gpucheck", "gpucheck.dev/run": p["run_label"],
                  "gpucheck.dev/sweep-stage": str(p["stage"])}
        out = []
        for i in range(int(p["experiments"])):
            out.append({
                "name": f"sweep-exp-{i}",
                "namespace": p["namespace"],
                "image": p["image"],
                "cmds": list(p["command"]),
                "arguments": [],
                "labels": {**labels, "gpucheck.dev/experiment": str(i)},
                "annotations": {"sim.gpucheck.io/duration": p["duration"],
                                "gpucheck.dev/experiment-config": f'{{"lr": {10 ** -(2 + i % 4)}, "seed": {i}}}'},
                "node_selector": dict(p["node_selector"]),
                "tolerations": list(p["tolerations"]),
                "container_resources": {"limits": {"nvidia.com/gpu": gpus}, "requests": {"nvidia.com/gpu": gpus}},
                "schedule_timeout_seconds": int(p["schedule_timeout"]),
                "startup_timeout_seconds": int(p["startup_timeout"]),
            })
        return out

    KubernetesPodOperator.partial(
        task_id="train",
        # Restricted PodSecurity: a training pod needs no privilege to use its GPU.
        security_context={"runAsNonRoot": True, "runAsUser": 1000, "seccompProfile": {"type": "RuntimeDefault"}},
        container_security_context={"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
        on_finish_action="delete_pod",
        termination_grace_period=0,
        get_logs=False,
        do_xcom_push=False,
        log_events_on_startup=False,
        reattach_on_restart=True,
        retries=RETRIES,
        retry_delay=timedelta(seconds=2),
        max_active_tis_per_dag=MAX_ACTIVE,
    ).expand_kwargs(make_experiments())
