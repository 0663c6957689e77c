"""Benchmark and proof, without a Docker engine: the image's two pip steps work and pin everything.

    python bench/image_install.py                  # core image
    python bench/image_install.py --extras airflow # the airflow variant

Runs the Dockerfile's own `# step: wheels` and `# step: install` pip commands (read from the
Dockerfile, paths mapped to a temporary directory): wheels from PyPI with the constraints
file, then an offline install (`--no-index`) into a fresh virtualenv. Then, as the image's
user would: `gpucheck --version` and `gpucheck deploy cronjob` with HOME in a temporary
directory and PYTHONDONTWRITEBYTECODE=1, and every installed distribution checked against
the constraints file's pin. Needs PyPI (the wheels step downloads), so it is not a test.
"""

from __future__ import annotations

import argparse
import re
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONSTRAINTS = ROOT / "constraints" / "airflow-3.3.2-py3.11.txt"


def step(name: str) -> str:
    """The pip command of the RUN line after `# step: NAME` (up to the first `&&`)."""
    lines = (ROOT / "Dockerfile").read_text().splitlines()
    i = lines.index(f"# step: {name}")
    run = lines[i + 1]
    assert run.startswith("RUN "), run
    return run[4:].split("&&")[0].rstrip(" \\")


def pins() -> dict[str, str]:
    out = {}
    for line in CONSTRAINTS.read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9_.\-]+)==(\S+)", line)
        if m:
            out[re.sub(r"[-_.]+", "-", m.group(1)).lower()] = m.group(2)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--extras", default="")
    args = ap.parse_args()
    suffix = f"[{args.extras}]" if args.extras else ""
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        wheels, venv, home = t / "wheels", t / "venv", t / "home"
        home.mkdir()
        wheel_cmd = step("wheels").replace("/wheels", str(wheels)).replace(
            "constraints/airflow-3.3.2-py3.11.txt", str(CONSTRAINTS)).replace('".${EXTRAS:+[${EXTRAS}]}"',
                                                                                shlex.quote(f"{ROOT}{suffix}"))
        install_cmd = step("install").replace("/wheels", str(wheels)).replace(
            "/tmp/constraints.txt", str(CONSTRAINTS)).replace('"gpucheck${EXTRAS:+[${EXTRAS}]}"',
                                                              shlex.quote(f"gpucheck{suffix}"))
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        pip = f"{venv}/bin/python -m pip"
        started = time.monotonic()
        subprocess.run(f"{pip} {wheel_cmd.removeprefix('pip ')} -q", shell=True, check=True, cwd=ROOT)
        wheeled = time.monotonic() - started
        started = time.monotonic()
        subprocess.run(f"{pip} {install_cmd.removeprefix('pip ')} -q", shell=True, check=True, cwd=t)
        installed = time.monotonic() - started
        env = {"PATH": f"{venv}/bin:/usr/bin:/bin", "HOME": str(home), "PYTHONDONTWRITEBYTECODE": "1"}
        version = subprocess.run([f"{venv}/bin/gpucheck", "--version"], env=env, cwd=home, check=True,
                                 capture_output=True, text=True).stdout.strip()
        subprocess.run([f"{venv}/bin/gpucheck", "deploy", "cronjob"], env=env, cwd=home, check=True,
                       capture_output=True)
        freeze = subprocess.run(f"{pip} freeze --exclude-editable", shell=True, check=True, capture_output=True,
                                text=True).stdout.splitlines()
        want = pins()
        unpinned = []
        for line in freeze:
            name, _, ver = line.partition("==")
            key = re.sub(r"[-_.]+", "-", name).lower()
            if key != "gpucheck" and want.get(key) != ver:
                unpinned.append(f"{line} (constraints: {want.get(key, 'none')})")
        print(f"wheels {wheeled:.1f}s, offline install {installed:.1f}s, {len(freeze)} distributions; {version}")
        if unpinned:
            print("not pinned by the constraints file:\n  " + "\n  ".join(unpinned))
            return 1
        print("every installed distribution is pinned by the constraints file")
    return 0


if __name__ == "__main__":
    sys.exit(main())
