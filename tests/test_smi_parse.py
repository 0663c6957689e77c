"""The nvidia-smi parsers the probes rely on, over every corpus file of their kinds."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from gpucheck import smi

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
Q_FILES = sorted(CORPUS.glob("nvidia-smi-xml/*_nvidia-smi-q.txt"))
L_FILES = sorted(CORPUS.glob("nvidia-smi-list/*.txt"))
ERROR_FILES = sorted(CORPUS.glob("nvidia-smi-errors/*.txt"))


def test_the_corpus_is_there():
    assert len(Q_FILES) == 4 and len(L_FILES) == 5 and len(ERROR_FILES) == 4


@pytest.mark.parametrize("path", Q_FILES, ids=lambda p: p.name)
def test_every_q_text_file_parses_with_its_facts(path):
    rep = smi.parse(path.read_text())
    assert rep.format == "query" and rep.failure is None
    # The file names carry the driver version and GPU count the sources state.
    assert rep.driver_version in path.name
    count = int(path.name.split("_")[1].split("x-")[0]) if "x-" in path.name.split("_")[1] else 1
    assert len(rep.gpus) == count
    for g in rep.gpus:
        assert g.name and g.name.startswith("NVIDIA") and g.uuid and g.uuid.startswith("GPU-")
        assert g.memory_total_mib and g.memory_total_mib > 20000
        if g.remapped_rows and g.remapped_rows.pending is not None:
            # One real A100 in the corpus has a row remap pending (1 correctable error).
            pending = "a100" in path.name and g.bus_id == "00000000:9E:00.0"
            assert g.remapped_rows.pending is pending and g.remapped_rows.failure is False
            assert g.remapped_rows.uncorrectable == 0 and (g.remapped_rows.correctable or 0) >= pending


def test_q_text_ecc_counters_are_summed():
    rep = smi.parse(next(p for p in Q_FILES if "8x-h100" in p.name).read_text())
    assert rep.cuda_version == "12.7"
    assert all(g.ecc_errors and g.ecc_errors.volatile_uncorrected == 0 for g in rep.gpus)
    assert len({g.uuid for g in rep.gpus}) == 8


@pytest.mark.parametrize("path", L_FILES, ids=lambda p: p.name)
def test_every_list_file_parses_with_mig_devices(path):
    rep = smi.parse(path.read_text())
    assert rep.format == "list" and len(rep.gpus) == 1
    migs = rep.gpus[0].mig_devices
    expected = {"mig-7x1g.5gb": 7, "mig-all-1g.10gb": 7, "mig-mixed": 4}
    want = next((n for key, n in expected.items() if key in path.name), 0)
    assert len(migs) == want
    assert all(m.profile and m.uuid.startswith("MIG-") for m in migs)
    if "450.80.02" in path.name:  # the R450 form carries GPU and compute instance ids
        assert [m.gpu_instance for m in migs] == [7, 8, 9, 10, 11, 12, 13]


@pytest.mark.parametrize("path", ERROR_FILES, ids=lambda p: p.name)
def test_error_files_are_typed_failures_or_refused(path):
    text = path.read_text()
    if "dmesg" in path.name or "device-plugin-log" in path.name:
        with pytest.raises(smi.SmiParseError):  # kernel and plugin logs are not nvidia-smi output
            smi.parse(text)
        return
    rep = smi.parse(text)
    kind = {"couldnt-communicate": "driver_not_loaded", "no-devices": "no_devices"}
    assert rep.failure is not None and rep.failure.kind == next(v for k, v in kind.items() if k in path.name)
    assert not rep.gpus


@pytest.mark.parametrize("path", Q_FILES + L_FILES, ids=lambda p: p.name)
def test_a_truncated_output_is_an_error_not_a_half_success(path):
    text = path.read_text()
    cut = text[: len(text) // 2]
    try:
        rep = smi.parse(cut)
    except smi.SmiParseError:
        return
    # -L lines are independent: a cut keeps whole lines parsed, never invents any.
    assert rep.format == "list" and all(g.uuid for g in rep.gpus)


@pytest.mark.parametrize("text", ["", "   \n", "hello world", "\x00\xff garbage", "<nvidia_smi_log/>",
                                  "==============NVSMI LOG==============\nDriver Version : 1\n"])
def test_garbage_is_a_clear_parse_error(text):
    with pytest.raises(smi.SmiParseError):
        smi.parse(text)


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_nothing_but_parse_error_escapes(text):
    try:
        rep = smi.parse(text)
    except smi.SmiParseError:
        return
    assert rep.failure is not None or rep.gpus


def _cli(*args: str):
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "gpucheck", "smi", "parse", *args], capture_output=True,
                          text=True, timeout=60)


def test_cli_prints_the_model_as_json():
    import json

    res = _cli(str(next(p for p in Q_FILES if "l4" in p.name)))
    data = json.loads(res.stdout)
    assert res.returncode == 0 and data["driver_version"] == "550.90.07" and data["cuda_version"] == "12.4"
    assert data["gpus"][0]["name"] == "NVIDIA L4" and data["gpus"][0]["mig_devices"] == []
    res = _cli(str(next(p for p in L_FILES if "mig-mixed" in p.name)))
    assert len(json.loads(res.stdout)["gpus"][0]["mig_devices"]) == 4


def test_cli_names_failures_and_bad_files(tmp_path):
    res = _cli(str(next(p for p in ERROR_FILES if "couldnt" in p.name)))
    assert res.returncode == 1 and "nvidia-smi failure: driver_not_loaded" in res.stderr
    junk = tmp_path / "junk.txt"
    junk.write_bytes(b"\xff\xfe\x00garbage")
    res = _cli(str(junk))
    assert res.returncode == 4 and str(junk) in res.stderr and "Traceback" not in res.stderr
    res = _cli(str(tmp_path / "missing.txt"))
    assert res.returncode == 4 and "missing.txt" in res.stderr
    res = _cli("--format", "list", str(next(p for p in Q_FILES)))
    assert res.returncode == 4
