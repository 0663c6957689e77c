"""`python -m gpucheck` and the `gpucheck` command."""

from gpucheck import signals

signals.hold()  # from the first line: a signal inside an import would break the run's wrap-up

from gpucheck.cli import main  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(main())
