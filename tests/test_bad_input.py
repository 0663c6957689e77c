"""Bad input through the command line, as a user types it: every one a clear message naming
the input and the documented exit code, never a traceback. (The settings layer's own cases
are in test_config.py, the pytest options' in test_plugin.py, nvidia-smi outputs' in
test_smi_garbage.py and test_smi_cli.py.)"""

from __future__ import annotations

import subprocess
import sys

import pytest

from gpucheck import exitcodes

GOOD_YAML = "profile: quick\n"


@pytest.mark.parametrize("args,files,code,needle", [
    (["run", "--profile=turbo"], {}, exitcodes.USAGE, "--gpucheck-profile: 'turbo' is not a profile"),
    (["run", "--fail-on=sometimes"], {}, exitcodes.USAGE, "'sometimes' is not one of critical, major, warn"),
    (["run", "--timeout=-1"], {}, exitcodes.USAGE, "the timeout must be more than 0"),
    (["run", "--select=GPU-NOPE-001"], {}, exitcodes.USAGE, "unknown check id GPU-NOPE-001"),
    (["run", "--namespace=Not_A_Name"], {}, exitcodes.USAGE, "'Not_A_Name' is not a valid namespace name"),
    (["run", "--config={d}/missing.yaml"], {}, exitcodes.USAGE, "missing.yaml does not exist"),
    (["run", "--config={d}/c.yaml"], {"c.yaml": b"\xff\xfe\x00 not utf-8"}, exitcodes.USAGE, "not valid YAML"),
    (["run", "--config={d}/c.yaml"], {"c.yaml": b"failOn: urgent\n"}, exitcodes.USAGE,
     "failOn: 'urgent' is not one of critical, major, warn"),
    (["run", "--config={d}/c.yaml"], {"c.yaml": b"probes: {parallelism: many}\n"}, exitcodes.USAGE,
     "probes.parallelism: input should be a valid integer"),
    (["run", "--config={d}/c.yaml"], {"c.yaml": b"trainig: {namespace: ml}\n"}, exitcodes.USAGE,
     "trainig: extra inputs are not permitted"),
    (["run", "--kubeconfig={d}/kc", "--profile=quick", "--report={d}/r"], {"kc": b"\xff\xfe garbage"},
     exitcodes.UNREACHABLE, "is not usable"),
    (["run", "--kubeconfig={d}/kc", "--context=nope", "--profile=quick", "--report={d}/r"],
     {"kc": b"apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'https://127.0.0.1:9'}}]\n"
            b"users: [{name: u, user: {token: t}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\n"
            b"current-context: c\n"}, exitcodes.UNREACHABLE, "has no context 'nope'"),
    (["gate", "--baseline={d}/b.json", "--profile=quick"], {"b.json": b"{not json"}, exitcodes.USAGE, "b.json"),
    (["report", "render", "{d}/r.json", "--format=html"], {"r.json": b"[]"}, exitcodes.USAGE,
     "is not a gpucheck report"),
    (["deploy", "cronjob", "--schedule=every night"], {}, exitcodes.USAGE, "--schedule"),
    (["smi", "parse", "{d}/smi.txt"], {"smi.txt": b"\x00\x01\x02 not nvidia-smi"}, exitcodes.USAGE, "smi.txt"),
    (["clean", "--kubeconfig={d}/missing"], {}, exitcodes.UNREACHABLE, "missing does not exist"),
])
def test_bad_input_is_named_with_the_documented_exit_code(tmp_path, args, files, code, needle):
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)
    argv = [a.replace("{d}", str(tmp_path)) for a in args]
    res = subprocess.run([sys.executable, "-m", "gpucheck", *argv], capture_output=True, text=True, timeout=120,
                         cwd=tmp_path)
    out = res.stdout + res.stderr
    assert res.returncode == code, out[-2000:]
    assert needle.replace("{d}", str(tmp_path)) in out, out[-2000:]
    assert "Traceback" not in out
