"""Running gpucheck inside a cluster: the nightly audit CronJob and its least-privilege RBAC,
rendered as manifests (manifests.py) from validated options (options.py); cli.py is the
`gpucheck deploy` command."""
