"""GPU-SWEEP-001 (the mapped sweep completes, nothing left) and GPU-SWEEP-002 (its pods are
scheduled promptly at the expected concurrency), graded from one SweepResult."""

from __future__ import annotations

import math
from typing import Any

from gpucheck.model import CheckResult, Finding, Status
from gpucheck.sweep.runner import StageResult, SweepResult

CHECKS = ("GPU-SWEEP-001", "GPU-SWEEP-002")


def _reasons(stage: StageResult, untolerated: tuple[str, ...] = ()) -> str:
    """Pending reasons with their pod counts. The scheduler does not always name the taint
    ("had untolerated taint(s)"); the plan knows which of the pool's taints were missed."""
    out = []
    for k, v in sorted(stage.metrics.pending_reasons.items(), key=lambda kv: -kv[1]):
        if k == "untolerated taint" and untolerated:
            k = f"untolerated taint {', '.join(untolerated)}"
        out.append(f"{k} ({v} pod{'s' if v != 1 else ''})")
    return ", ".join(out)


def _stage_json(stage: StageResult) -> dict[str, Any]:
    return {"experiments": stage.experiments, "state": stage.state, "run_id": stage.run_id,
            "task_states": stage.task_states, "retries": stage.retries, "left_pods": stage.left_pods,
            "preempted": stage.preempted, "run_seconds": round(stage.run_seconds, 1), **stage.metrics.to_json()}


def completes(result: SweepResult) -> CheckResult:
    cid = "GPU-SWEEP-001"
    if result.skipped:
        return CheckResult.skip(cid, result.skipped)
    where = f"DAG on {result.airflow}" if result.airflow else "sweep"
    if result.error and not result.stages:
        return CheckResult.error(cid, f"the sweep could not run: {result.error}")
    assert result.plan is not None
    ev = {"plan": result.plan.to_json(), "stages": [_stage_json(s) for s in result.stages], "airflow": result.airflow,
          "dag_paused": result.paused}
    findings = []
    for s in result.stages:
        obj = f"DagRun/{s.run_id}" if s.run_id else "DagRun"
        failed = sum(v for k, v in s.task_states.items() if k not in ("success",))
        if s.ok:
            extra = f"; {len(s.preempted)} pod(s) preempted and retried" if s.preempted else ""
            findings.append(Finding(Status.PASS, f"stage {s.experiments}: {s.metrics.succeeded} of {s.experiments} "
                                    f"experiment pods succeeded, {s.retries} retr{'y' if s.retries == 1 else 'ies'}"
                                    f"{extra}, 0 pods left", obj, _stage_json(s)))
            continue
        why = []
        if s.state == "timeout":
            why.append("the run outlived sweep.timeout and was stopped")
        if failed:
            why.append(f"{failed} of {s.experiments} tasks did not succeed ({', '.join(f'{k} {v}' for k, v in sorted(s.task_states.items()))})")
        if s.metrics.pending_reasons:
            why.append(f"pods waited: {_reasons(s, result.plan.untolerated)}")
        elif s.metrics.never_scheduled and result.plan.untolerated:
            why.append(f"{s.metrics.never_scheduled} pod(s) never scheduled; the sweep does not tolerate "
                       f"{', '.join(result.plan.untolerated)}")
        if s.left_pods:
            why.append(f"{s.left_pods} pod(s) left behind after the run (removed by gpucheck)")
        findings.append(Finding(Status.FAIL, f"stage {s.experiments}: " + "; ".join(why or [f"run {s.state}"]), obj,
                                _stage_json(s)))
    if result.error:
        findings.append(Finding(Status.ERROR, f"the sweep stopped: {result.error}", "DagRun"))
    bad = [f for f in findings if f.status != Status.PASS]
    ramp = " -> ".join(str(s.experiments) for s in result.stages)
    summary = ("; ".join(f.message for f in bad) if bad else
               f"{result.plan.experiments} experiments, one GPU pod each, completed through the {where} "
               f"(ramp {ramp}); 0 pods left")
    plan = Finding(Status.SKIP, f"plan: pool {result.plan.pool}, {result.plan.pod_slots} GPU slots, cap "
                   f"{result.plan.cap()}, stages {list(result.plan.stages)}, on the {where}", "Sweep", ev)
    return CheckResult.of(cid, [*findings, plan], summary)


def promptly(result: SweepResult, sweep: Any) -> CheckResult:
    cid = "GPU-SWEEP-002"
    if result.skipped:
        return CheckResult.skip(cid, result.skipped)
    done = [s for s in result.stages if s.ok]
    if not done or result.plan is None:
        return CheckResult.skip(cid, "no sweep stage completed (see GPU-SWEEP-001)")
    s = done[-1]
    m = s.metrics
    plan = result.plan
    ideal = plan.ideal_makespan(s.experiments)
    ratio = m.makespan / ideal if ideal and not math.isnan(m.makespan) else math.nan
    cap = min(plan.cap(), s.experiments)
    findings = []
    text = (f"{s.experiments} pods: scheduling latency p50 {m.latency_p50:.1f}s, p95 {m.latency_p95:.1f}s, "
            f"max {m.latency_max:.1f}s; peak {m.peak} concurrent (cap {cap}: {plan.pod_slots} GPU slots in pool "
            f"{plan.pool}, max_active_tis_per_dag {plan.max_active}); makespan {m.makespan:.1f}s vs ideal {ideal:.1f}s"
            + (f"; queued: {_reasons(s, plan.untolerated)}" if m.pending_reasons else ""))
    t0 = min((t.created for t in s.timelines if t.created), default=0.0)
    ev = {**_stage_json(s), "cap": cap, "ideal_makespan": ideal, "makespan_ratio": None if math.isnan(ratio) else ratio,
          "timeline": [{"experiment": t.experiment, "node": t.node, "phase": t.phase,
                        **{k: (round(getattr(t, k) - t0, 3) if getattr(t, k) else None)
                           for k in ("created", "scheduled", "running", "finished", "deleted")}}
                       for t in sorted(s.timelines, key=lambda t: t.created or 0)]}
    if m.latency_p95 > sweep.schedulingP95FailSeconds:
        findings.append(Finding(Status.FAIL, f"{text}; p95 scheduling latency above {sweep.schedulingP95FailSeconds:g}s",
                                "Sweep", ev))
    elif m.latency_p95 > sweep.schedulingP95WarnSeconds:
        findings.append(Finding(Status.WARN, f"{text}; p95 scheduling latency above {sweep.schedulingP95WarnSeconds:g}s",
                                "Sweep", ev))
    elif not math.isnan(ratio) and ratio > sweep.makespanRatioWarn:
        findings.append(Finding(Status.WARN, f"{text}; makespan {ratio:.1f}x the ideal (limit "
                                f"{sweep.makespanRatioWarn:g}x)", "Sweep", ev))
    else:
        findings.append(Finding(Status.PASS, text, "Sweep", ev))
    return CheckResult.of(cid, findings, findings[0].message)
