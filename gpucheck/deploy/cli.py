"""`gpucheck deploy cronjob`: print the nightly cluster-audit manifests as multi-document YAML.

Bad values are usage errors (exit 4) naming the option; nothing is sent to a cluster.
"""

from __future__ import annotations

from pathlib import Path

import click

from gpucheck import __version__


@click.group("deploy")
def deploy() -> None:
    """Manifests to run gpucheck inside a cluster."""


@deploy.command("cronjob")
@click.option("--namespace", default=None, help="Workspace namespace: the CronJob, its probe pods, its reports.  [default: gpucheck]")
@click.option("--schedule", default=None, help="Cron schedule, in UTC (5 fields or @daily...).  [default: 0 3 * * *]")
@click.option("--image", default=None, help=f"gpucheck image, pinned by tag or digest.  [default: gpucheck:{__version__}]")
@click.option("--profile", default=None, help="quick (API reads only) | standard (+ probe pods).  [default: standard]")
@click.option("--config", "config_file", default=None, metavar="FILE",
              help="gpucheck config file, mounted for the run; its training namespace and Secrets shape the RBAC.")
@click.option("--reports", default=None, help="configmap (a summary ConfigMap per run) | pvc (full reports on a claim).  [default: configmap]")
@click.option("--keep-reports", type=int, default=None, help="Summary ConfigMaps to keep.  [default: 14]")
@click.option("--pvc-size", default=None, help="Size of the reports claim (--reports pvc).  [default: 1Gi]")
@click.option("--pushgateway", default=None, metavar="URL", help="Push verdict, score and per-check metrics here.")
@click.option("--cluster-name", default=None, help="The `cluster` grouping key of pushed metrics.  [default: the API server's host]")
def cronjob(namespace: str | None, schedule: str | None, image: str | None, profile: str | None,
            config_file: str | None, reports: str | None, keep_reports: int | None, pvc_size: str | None,
            pushgateway: str | None, cluster_name: str | None) -> None:
    """Print Namespace, ServiceAccount, RBAC, config and the CronJob; pipe to `kubectl apply -f -`."""
    from gpucheck.config import SettingsError, resolve
    from gpucheck.deploy import manifests
    from gpucheck.deploy.options import OptionError, validate

    config_text = ""
    try:
        settings = resolve(cli={"config_file": config_file}, env={})
        if config_file:
            config_text = Path(config_file).read_text(encoding="utf-8")
            if settings.kubeconfig:
                raise SettingsError(f"config file {config_file}: kubeconfig: a pod uses its service account; "
                                    "remove the key")
        opts = validate(namespace=namespace, schedule=schedule, image=image, profile=profile,
                        config_file=config_file, config_text=config_text, reports=reports,
                        keep_reports=keep_reports, pvc_size=pvc_size, pushgateway=pushgateway,
                        cluster_name=cluster_name)
    except OptionError as exc:
        raise click.BadParameter(str(exc).split(": ", 1)[1], param_hint=f"'{exc.option}'") from None
    except SettingsError as exc:
        raise click.BadParameter(str(exc).removeprefix("--gpucheck-config: "), param_hint="'--config'") from None
    docs = manifests.render(opts, settings)
    click.echo(f"# gpucheck {__version__}: gpucheck deploy cronjob | kubectl apply -f -")
    click.echo(manifests.to_yaml(docs), nl=False)
