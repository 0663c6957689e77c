"""`smi parse FILE` through click's runner: JSON out, exit 1 on a failure output, 4 on a bad file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from gpucheck.smi.cli import smi

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"


def _run(*args: str):
    return CliRunner().invoke(smi, ["parse", *args])


@pytest.mark.parametrize("path, fmt, driver, cuda, migs", [
    ("nvidia-smi-table/jear_a100-pcie-40gb_460.32.03_mig-7x1g.5gb.txt", "table", "460.32.03", "11.2", 7),
    ("nvidia-smi-xml/telegraf_a100-sxm4-80gb_535.54.03_v12.xml", "xml", "535.54.03", "12.2", 4),
    ("nvidia-smi-xml/thamada_l4_550.90.07_nvidia-smi-q.txt", "query", "550.90.07", "12.4", 0),
    ("nvidia-smi-csv/gpu-exporter_h100-80gb-hbm3_590.48.01_mig_query-gpu-all-fields.csv", "csv", "590.48.01", None, 0),
    ("nvidia-smi-list/cloud-native-docs_h100-80gb-hbm3_mig-mixed_nvidia-smi-L.txt", "list", None, None, 4),
])
def test_parse_prints_the_report_as_json(path, fmt, driver, cuda, migs):
    for args in ([str(CORPUS / path)], ["--format", fmt, str(CORPUS / path)]):
        res = _run(*args)
        assert res.exit_code == 0 and res.stderr == ""
        data = json.loads(res.stdout)
        assert (data["format"], data["driver_version"], data["cuda_version"]) == (fmt, driver, cuda)
        assert data["failure"] is None
        assert len(data["gpus"]) == 1 and len(data["gpus"][0]["mig_devices"]) == migs


def test_parse_prints_mig_listings_and_operations():
    res = _run(str(CORPUS / "nvidia-smi-mig/jear_a100-pcie-40gb_460.32.03_mig-lgip.txt"))
    data = json.loads(res.stdout)
    assert res.exit_code == 0 and data["gpus"] == [] and data["driver_version"] is None
    assert [p["name"] for p in data["gpu_instance_profiles"]] == ["1g.5gb", "2g.10gb", "3g.20gb", "4g.20gb", "7g.40gb"]
    dci = CORPUS / "nvidia-smi-mig/jear_a100-pcie-40gb_460.32.03_mig-dci_in-use-by-another-client.txt"
    res = _run("--format", "mig", str(dci))
    ops = json.loads(res.stdout)["mig_operations"]
    assert res.exit_code == 0 and [o["ok"] for o in ops] == [False] + [True] * 6


def test_a_failure_output_prints_json_and_exits_1_naming_it():
    res = _run(str(CORPUS / "nvidia-smi-errors/docker-k8s-tips_nvidia-smi-has-failed_couldnt-communicate.txt"))
    assert res.exit_code == 1
    assert json.loads(res.stdout)["failure"]["kind"] == "driver_not_loaded"
    assert res.stderr.startswith("gpucheck: nvidia-smi failure: driver_not_loaded: NVIDIA-SMI has failed because")


DMESG = CORPUS / "nvidia-smi-errors/cloud-native-docs_dmesg_xid79_fallen-off-bus.txt"


@pytest.mark.parametrize("content", [b"\xff\xfe\x00garbage", b"just some words\n", b"", DMESG.read_bytes()])
def test_garbage_exits_4_naming_the_file(tmp_path, content):
    junk = tmp_path / "junk.txt"
    junk.write_bytes(content)
    res = _run(str(junk))
    assert res.exit_code == 4 and res.stdout == ""
    assert res.stderr.startswith(f"gpucheck: error: {junk}: ") and "Traceback" not in res.output


def test_a_format_that_does_not_fit_exits_4():
    listing = CORPUS / "nvidia-smi-list/gpu-exporter_h100-80gb-hbm3_590.48.01_nvidia-smi-L.txt"
    res = _run("--format", "xml", str(listing))
    assert res.exit_code == 4 and "asked for nvidia-smi -q -x XML, but the text is nvidia-smi -L listing" in res.stderr


def test_a_missing_or_unreadable_file_exits_4(tmp_path):
    res = _run(str(tmp_path / "missing.txt"))
    assert res.exit_code == 4 and "missing.txt: cannot read it: No such file or directory" in res.stderr
    res = _run(str(tmp_path))
    assert res.exit_code == 4 and f"{tmp_path}: cannot read it" in res.stderr


def test_a_file_over_the_cap_exits_4(tmp_path, monkeypatch):
    monkeypatch.setattr("gpucheck.smi.cli.MAX_BYTES", 100)
    big = tmp_path / "big.txt"
    big.write_text("x" * 101)
    res = _run(str(big))
    assert res.exit_code == 4 and "larger than 100 bytes" in res.stderr
