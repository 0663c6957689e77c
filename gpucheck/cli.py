"""The `gpucheck` command line. Commands parse options and hand work to the modules."""

from __future__ import annotations

import os
import sys
from typing import Any, Callable

import click

from gpucheck import __version__, exitcodes


def _say(line: str) -> None:
    click.echo(line, err=True)


def _fail(message: str, code: int) -> None:
    click.echo(f"gpucheck: error: {message}", err=True)
    sys.exit(code)


class _Group(click.Group):
    """Click's usage errors exit 2; ours exit with the documented USAGE code."""

    def main(self, *args: Any, **kwargs: Any) -> Any:  # noqa: D401
        kwargs.setdefault("standalone_mode", True)
        try:
            return super().main(*args, **{**kwargs, "standalone_mode": False})
        except click.exceptions.Abort:
            click.echo("gpucheck: interrupted", err=True)
            sys.exit(exitcodes.INTERRUPTED)
        except click.UsageError as exc:
            exc.show()
            sys.exit(exitcodes.USAGE)
        except click.exceptions.Exit as exc:
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            exc.show()
            sys.exit(exitcodes.USAGE)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="gpucheck")
def cli() -> None:
    """Is this Kubernetes cluster ready for GPU training?"""


# -- sim ------------------------------------------------------------------------------------
@cli.group(cls=_Group)
def sim() -> None:
    """A simulated GPU cluster: a real control plane with KWOK nodes."""


_name_opt = click.option("--name", default=lambda: os.environ.get("GPUCHECK_SIM_NAME", "gpucheck"),
                         show_default="gpucheck (or $GPUCHECK_SIM_NAME)", help="Cluster name.")


def _sim_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    import functools

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from gpucheck.sim.binaries import BinaryError
        from gpucheck.sim.cluster import SimError
        from gpucheck.sim.processes import ProcessError
        from gpucheck.sim.profiles import ProfileError
        from gpucheck.sim.scenarios import ScenarioError

        try:
            return fn(*args, **kwargs)
        except (ProfileError, ScenarioError) as exc:
            _fail(str(exc), exitcodes.USAGE)
        except (BinaryError, SimError, ProcessError) as exc:
            _fail(str(exc), exitcodes.SIM_FAILED)
        except KeyboardInterrupt:
            _fail("interrupted; the partly started cluster was removed", exitcodes.INTERRUPTED)

    return wrapper


@sim.command("up")
@_name_opt
@click.option("--profile", default="default", show_default=True,
              help="Built-in profile name or a profile YAML file.")
@click.option("--scenario", "scenarios", multiple=True, metavar="SCENARIO",
              help="Fault scenario to apply once up (repeatable). See `gpucheck sim scenarios`.")
@click.option("--timeout", default=300.0, show_default=True, help="Seconds to wait for the cluster.")
@click.option("--owner-pid", type=int, default=None, hidden=True,
              help="Remove this cluster at the next `sim up` once this process is gone.")
@_sim_errors
def sim_up(name: str, profile: str, scenarios: tuple[str, ...], timeout: float, owner_pid: int | None) -> None:
    """Start a simulated cluster (building its binaries on first use)."""
    from gpucheck.sim import cluster

    cluster.prune_orphans(say=_say)
    info = cluster.up(name=name, profile=profile, scenarios=scenarios, owner_pid=owner_pid,
                      timeout=timeout, say=_say)
    click.echo(f"export KUBECONFIG={info.kubeconfig}")


@sim.command("kubeconfig")
@_name_opt
@_sim_errors
def sim_kubeconfig(name: str) -> None:
    """Print the kubeconfig path of a running cluster (on the last line)."""
    from gpucheck.sim import cluster

    info = cluster.info(name)
    if info is None or not info.healthy:
        _fail(f"no running simulated cluster named {name!r}; start one with `gpucheck sim up --name {name}`",
              exitcodes.SIM_FAILED)
    click.echo(str(info.kubeconfig))


@sim.command("status")
@click.option("--name", default=None, help="Only this cluster (default: all).")
@_sim_errors
def sim_status(name: str | None) -> None:
    """Show simulated clusters, their processes and nodes."""
    from gpucheck.sim import cluster, processes

    infos = [i for i in [cluster.info(name)] if i] if name else cluster.list_all()
    if not infos:
        click.echo(f"no simulated cluster{' named ' + repr(name) if name else ''} (under {cluster.sims_root()})")
        if name:
            sys.exit(exitcodes.SIM_FAILED)
        return
    for i in infos:
        state = "running" if i.healthy else i.phase if i.phase != "ready" else "degraded"
        click.echo(f"{i.name}: {state}  profile={i.profile}  server={i.server}")
        if i.scenarios:
            click.echo(f"  scenarios: {', '.join(i.scenarios)}")
        for p in i.procs:
            click.echo(f"  {p.name:<24} pid {p.pid:<8} {'up' if processes.alive(p) else 'DOWN'}  log {p.log}")
        click.echo(f"  kubeconfig: {i.kubeconfig}")
    if name and not infos[0].healthy:
        sys.exit(exitcodes.SIM_FAILED)


@sim.command("down")
@_name_opt
@click.option("--all", "all_", is_flag=True, help="Stop every simulated cluster of this user.")
@_sim_errors
def sim_down(name: str, all_: bool) -> None:
    """Stop a simulated cluster and remove all it left (processes, ports, files)."""
    from gpucheck.sim import cluster

    names = [i.name for i in cluster.list_all()] if all_ else [name]
    for n in names:
        if not cluster.down(n, say=_say) and not all_:
            _say(f"gpucheck sim: no cluster named {n!r}; nothing to do")


@sim.command("build")
def sim_build() -> None:
    """Find or build the control-plane and KWOK binaries into the cache."""
    from gpucheck.sim import binaries

    try:
        found = binaries.ensure_all(progress=_say)
    except binaries.BinaryError as exc:
        _fail(str(exc), exitcodes.SIM_FAILED)
    for b, p in sorted(found.items()):
        click.echo(f"{b:<24} {p}")


@sim.command("profiles")
def sim_profiles() -> None:
    """List the built-in node profiles."""
    from gpucheck.sim import profiles

    for n in profiles.builtin_names():
        p = profiles.load(n)
        click.echo(f"{n:<10} {p.node_count:>4} nodes ({p.gpu_node_count} GPU)  {p.description}")


@sim.command("scenarios")
def sim_scenarios() -> None:
    """List the fault scenarios and the check that must catch each."""
    from gpucheck.sim import scenarios

    for s in scenarios.catalog().values():
        click.echo(f"{s.name:<30} {s.caught_by:<14} {s.description}")


def main(argv: list[str] | None = None) -> int:
    try:
        cli.main(args=argv, prog_name="gpucheck")
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0
