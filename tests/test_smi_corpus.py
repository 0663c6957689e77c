"""gpucheck.smi over every file of the nvidia-smi corpus, checked against what SOURCES.md says."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gpucheck import smi

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
CATEGORIES = ("nvidia-smi-table", "nvidia-smi-xml", "nvidia-smi-csv", "nvidia-smi-list", "nvidia-smi-mig",
              "nvidia-smi-errors")
FILES = {c: sorted((CORPUS / c).glob("*")) for c in CATEGORIES}

H100 = "NVIDIA H100 80GB HBM3"
A100_80 = "NVIDIA A100-SXM4-80GB"

# file -> (format, driver, CUDA, GPU names in order); the facts SOURCES.md states for each file.
SMI_FACTS = {
    # nvidia-smi-table
    "carlesloriente_aws-g4dn_tesla-t4_440.43-grid.txt": ("table", "440.43", "10.2", ["Tesla T4"]),
    "cloud-native-docs_a100-sxm4-40gb_450.80.02_mig-disabled.txt": ("table", "450.80.02", "11.0", ["A100-SXM4-40GB"]),
    "cloud-native-docs_a100-sxm4-40gb_450.80.02_mig-enabled-no-mig-devices.txt":
        ("table", "450.80.02", "11.0", ["A100-SXM4-40GB"]),
    "jear_a100-pcie-40gb_460.32.03_mig-7x1g.5gb.txt": ("table", "460.32.03", "11.2", ["A100-PCIE-40GB"]),
    "cs259_titan-v_515.65.01.txt": ("table", "515.65.01", "11.7", ["NVIDIA TITAN V"]),
    "thamada_l4_550.90.07.txt": ("table", "550.90.07", "12.4", ["NVIDIA L4"]),
    "thamada_4x-a100-sxm4-80gb_555.42.02.txt": ("table", "555.42.02", "12.5", [A100_80] * 4),
    "thamada_8x-h100-80gb-hbm3_565.57.01.txt": ("table", "565.57.01", "12.7", [H100] * 8),
    "thamada_rtx-3090_560.35.03.txt": ("table", "560.35.03", "12.6", ["NVIDIA GeForce RTX 3090"] * 2),
    "gpu-exporter_h100-80gb-hbm3_590.48.01_load.txt": ("table", "590.48.01", "13.1", [H100]),
    "gpu-exporter_h100-80gb-hbm3_590.48.01_mig-enabled_idle.txt": ("table", "590.48.01", "13.1", [H100]),
    # nvidia-smi-xml: -q -x documents and -q texts
    "telegraf_a100-sxm4-80gb_535.54.03_v12.xml": ("xml", "535.54.03", "12.2", [A100_80]),
    "telegraf_a10g_515.105.01_v11.xml": ("xml", "515.105.01", "11.7", ["NVIDIA A10G"]),
    "telegraf_tesla-t4_515.105.01_v11.xml": ("xml", "515.105.01", "11.7", ["Tesla T4"]),
    "telegraf_quadro-p400_418.43.xml": ("xml", "418.43", "10.1", ["Quadro P400"]),
    "telegraf_rtx-3080_595.58.03_v13.xml": ("xml", "595.58.03", "13.2", ["NVIDIA GeForce RTX 3080"]),
    "telegraf_rtx-4000-sff-ada_595.84_v13.xml": ("xml", "595.84", "13.2", ["NVIDIA RTX 4000 SFF Ada Generation"]),
    "telegraf_dual-rtx-a5000_590.44.01_v13.xml": ("xml", "590.44.01", "13.1", ["NVIDIA RTX A5000"] * 2),
    "netdata_tesla-p100-pcie-16gb_510.47.03_v11.xml": ("xml", "510.47.03", "11.6", ["Tesla P100-PCIE-16GB"]),
    "netdata_rtx-4090_535.86.05_v12.xml": ("xml", "535.86.05", "12.2", ["NVIDIA GeForce RTX 4090"]),
    "thamada_8x-h100-80gb-hbm3_565.57.01_nvidia-smi-q.txt": ("query", "565.57.01", "12.7", [H100] * 8),
    "thamada_4x-a100-sxm4-80gb_555.42.02_nvidia-smi-q.txt": ("query", "555.42.02", "12.5", [A100_80] * 4),
    "thamada_l4_550.90.07_nvidia-smi-q.txt": ("query", "550.90.07", "12.4", ["NVIDIA L4"]),
    "gpu-exporter_h100-80gb-hbm3_590.48.01_mig_nvidia-smi-q.txt": ("query", "590.48.01", "13.1", [H100]),
    # nvidia-smi-csv: the driver is in the file only when queried; no CSV field carries CUDA
    "netdata_tesla-p100_query-gpu.csv": ("csv", None, None, ["Tesla P100-PCIE-16GB"]),
    "gpu-exporter_h100-80gb-hbm3_590.48.01_mig_query-gpu-all-fields.csv": ("csv", "590.48.01", None, [H100]),
    "gpu-exporter_h100_590.48.01_query-compute-apps_load.csv": ("csv", None, None, [H100]),
    # nvidia-smi-list
    "gpu-exporter_h100-80gb-hbm3_590.48.01_nvidia-smi-L.txt": ("list", None, None, [H100]),
    "gpu-exporter_h100-80gb-hbm3_590.48.01_mig-mixed_nvidia-smi-L.txt": ("list", None, None, [H100]),
    "cloud-native-docs_a100-sxm4-40gb_450.80.02_mig-7x1g.5gb_nvidia-smi-L.txt":
        ("list", None, None, ["A100-SXM4-40GB"]),
    "cloud-native-docs_h100-80gb-hbm3_mig-all-1g.10gb_nvidia-smi-L.txt": ("list", None, None, [H100]),
    "cloud-native-docs_h100-80gb-hbm3_mig-mixed_nvidia-smi-L.txt": ("list", None, None, [H100]),
}

# nvidia-smi-mig: file -> what `nvidia-smi mig` listed or did.
MIG_FACTS = {
    "jear_a100-pcie-40gb_460.32.03_mig-lgip.txt":
        {"gpu_instance_profiles": [("1g.5gb", 19, 7, 7, 4.75), ("2g.10gb", 14, 3, 3, 9.75), ("3g.20gb", 9, 2, 2, 19.62),
                                   ("4g.20gb", 5, 1, 1, 19.62), ("7g.40gb", 0, 1, 1, 39.5)]},
    "mps-test_a100-sxm4-40gb_mig-lgip.txt":
        {"gpu_instance_profiles": [("1g.5gb", 19, 7, 7, 4.75), ("1g.5gb+me", 20, 1, 1, 4.75),
                                   ("1g.10gb", 15, 4, 4, 9.62), ("2g.10gb", 14, 3, 3, 9.62), ("3g.20gb", 9, 2, 2, 19.5),
                                   ("4g.20gb", 5, 1, 1, 19.5), ("7g.40gb", 0, 1, 1, 39.25)]},
    "docker-configuration_a30_mig-lgip_all-used.txt":
        {"gpu_instance_profiles": [("1g.6gb", 14, 0, 4, 5.81), ("1g.6gb+me", 21, 0, 1, 5.81),
                                   ("2g.12gb", 5, 0, 2, 11.69), ("4g.24gb", 0, 0, 1, 23.5)]},
    "jear_a100-pcie-40gb_460.32.03_mig-lcip.txt":
        {"compute_instance_profiles": [(gi, "1g.5gb", 0, True, 1, 1) for gi in range(7, 14)]},
    "jear_a100-pcie-40gb_460.32.03_mig-cgi_create-output.txt":
        {"mig_operations": [("create", "gpu_instance", True, gi, None, "1g.5gb", 19, None)
                            for gi in (13, 11, 12, 7, 8, 9, 10)]},
    "mps-test_a100-sxm4-40gb_mig-cgi-C_create-output.txt":
        {"mig_operations": [("create", "gpu_instance", True, 2, None, "3g.20gb", 9, None),
                            ("create", "compute_instance", True, 2, 0, "3g.20gb", 2, None),
                            ("create", "gpu_instance", True, 1, None, "3g.20gb", 9, None),
                            ("create", "compute_instance", True, 1, 0, "3g.20gb", 2, None)]},
    "jear_a100-pcie-40gb_460.32.03_mig-dci_in-use-by-another-client.txt":
        {"mig_operations": [("destroy", "compute_instance", False, 7, 0, None, None, "In use by another client")]
         + [("destroy", "compute_instance", True, gi, 0, None, None, None) for gi in range(8, 14)],
         "warnings": ["Failed to destroy compute instances: In use by another client"]},
    "jear_a100-pcie-40gb_460.32.03_mig-enable_persistence-warning.txt":
        {"mig_operations": [("enable", "mig_mode", True, None, None, None, None, None)],
         "warnings": ["persistence mode is disabled on device 00000000:61:00.0."]},
    "mps-test_mig-enable_pending-warning.txt":
        {"warnings": ["MIG mode is in pending enable state for GPU 00000000:00:03.0:Not Supported Reboot the system"]},
}

# nvidia-smi-errors: file -> the failure kind, or the reason it is refused (not nvidia-smi output).
ERROR_FACTS = {
    "docker-k8s-tips_nvidia-smi-has-failed_couldnt-communicate.txt": ("driver_not_loaded", 9),
    "genv-docs_no-devices-were-found.txt": ("no_devices", 6),
    "cloud-native-docs_dmesg_xid79_fallen-off-bus.txt": "kernel log lines (NVRM Xid)",
    "cloud-native-docs_device-plugin-log_xid79_unhealthy.txt": "Kubernetes component log lines",
}


def _ids(paths: list[Path]) -> list[str]:
    return [p.name for p in paths]


def test_every_corpus_file_has_facts_here():
    names = {p.name for c in CATEGORIES for p in FILES[c]}
    assert len(names) == 45, "the corpus changed: add facts for the new files"
    assert names == set(SMI_FACTS) | set(MIG_FACTS) | set(ERROR_FACTS)


GPU_FILES = [p for c in CATEGORIES[:4] for p in FILES[c]]


@pytest.mark.parametrize("path", GPU_FILES, ids=_ids(GPU_FILES))
def test_gpu_outputs_are_detected_and_parsed_with_their_facts(path):
    text = path.read_text()
    fmt, driver, cuda, names = SMI_FACTS[path.name]
    rep = smi.parse(text)
    assert smi.detect(text) == fmt and rep.format == fmt and rep.failure is None
    assert (rep.driver_version, rep.cuda_version) == (driver, cuda)
    assert [g.name for g in rep.gpus] == names
    for g in rep.gpus:  # nothing invented: every UUID and bus id is in the text
        assert g.uuid is None or g.uuid in text
        assert g.bus_id is None or g.bus_id in text
    assert smi.parse(text, fmt) == rep


@pytest.mark.parametrize("path", GPU_FILES + FILES["nvidia-smi-mig"],
                         ids=_ids(GPU_FILES + FILES["nvidia-smi-mig"]))
def test_an_explicit_format_that_does_not_fit_is_refused(path):
    text = path.read_text()
    right = smi.detect(text)
    for wrong in set(smi.FORMATS) - {right}:
        with pytest.raises(smi.SmiParseError, match="but the text is"):
            smi.parse(text, wrong)


def _by_name(prefix: str) -> smi.SmiReport:
    path = next(p for c in CATEGORIES for p in FILES[c] if p.name.startswith(prefix))
    return smi.parse(path.read_text())


def test_table_79_columns_with_a_process_and_no_mig_row():
    gpu, = _by_name("carlesloriente_aws-g4dn").gpus
    assert (gpu.index, gpu.bus_id, gpu.memory_used_mib, gpu.memory_total_mib) == (0, "00000000:00:1E.0", 1430, 15109)
    assert gpu.mig_mode is None and gpu.ecc_mode == "Enabled"
    assert gpu.ecc_errors == smi.EccErrors(volatile_uncorrected=0)
    assert gpu.processes == (smi.Process(gpu_index=0, pid=14402, type="C+G", name="./yourproc", used_memory_mib=1425),)


def test_table_mig_enabled_shows_ecc_on_and_no_mig_devices():
    gpu, = _by_name("cloud-native-docs_a100-sxm4-40gb_450.80.02_mig-enabled").gpus
    assert (gpu.mig_mode, gpu.ecc_mode, gpu.ecc_errors, gpu.mig_devices, gpu.processes) == ("Enabled", "Enabled", None,
                                                                                            (), ())
    assert _by_name("cloud-native-docs_a100-sxm4-40gb_450.80.02_mig-disabled").gpus[0].mig_mode == "Disabled"


def test_table_mig_devices_with_their_instance_ids():
    gpu, = _by_name("jear_a100-pcie-40gb").gpus
    assert [(m.index, m.gpu_instance, m.compute_instance) for m in gpu.mig_devices] == [(i, 7 + i, 0) for i in range(7)]
    gpu, = _by_name("gpu-exporter_h100-80gb-hbm3_590.48.01_mig-enabled_idle").gpus
    assert [m.gpu_instance for m in gpu.mig_devices] == [2, 3, 9, 10] and gpu.mig_mode == "Enabled"
    assert all(m.profile is None and m.uuid is None for m in gpu.mig_devices)  # the table does not print them


def test_table_590_processes_under_load():
    gpu, = _by_name("gpu-exporter_h100-80gb-hbm3_590.48.01_load").gpus
    assert [(p.pid, p.type, p.name, p.used_memory_mib) for p in gpu.processes] == [
        (11327, "C", "/root/tools/memhog", 2566), (11328, "C", "/root/tools/memhog", 1542),
        (11345, "C", "./gpu_burn", 15690)]
    assert (gpu.memory_used_mib, gpu.memory_total_mib, gpu.mig_mode) == (19818, 81559, "Disabled")


def test_table_na_ecc_and_mig_are_none():
    for prefix in ("thamada_rtx-3090", "cs259_titan-v"):
        for gpu in _by_name(prefix).gpus:
            assert (gpu.ecc_mode, gpu.ecc_errors, gpu.mig_mode) == (None, None, None)
    rep = _by_name("thamada_8x-h100-80gb-hbm3_565.57.01.txt")
    assert [g.index for g in rep.gpus] == list(range(8)) and len({g.bus_id for g in rep.gpus}) == 8


def test_table_with_a_truncated_name_keeps_it_as_printed():
    text = (CORPUS / "nvidia-smi-table" / "thamada_l4_550.90.07.txt").read_text()
    cut = "NVIDIA RTX 4000 Ada Gene..."  # how R550+ prints "NVIDIA RTX 4000 Ada Generation"
    text = text.replace("NVIDIA L4".ljust(31), cut.ljust(31))
    assert smi.parse(text).gpus[0].name == cut


def test_xml_trimmed_fixture_keeps_mig_devices_and_does_not_guess_the_index():
    gpu, = _by_name("telegraf_a100-sxm4-80gb_535.54.03").gpus  # attached_gpus=4, one <gpu> kept
    assert gpu.index is None and gpu.uuid == "GPU-513536b6-7d19-9063-b049-1e69664bb298"
    assert gpu.mig_mode == "Enabled" and [m.gpu_instance for m in gpu.mig_devices] == [3, 4, 5, 6]
    assert gpu.memory_total_mib == 81920  # the GPU's own fb_memory_usage, not a MIG device's


def test_xml_ecc_remapped_rows_and_retired_pages():
    p100, = _by_name("netdata_tesla-p100").gpus  # old single_bit/double_bit layout
    assert p100.ecc_errors == smi.EccErrors(0, 0, 3, 0)
    assert p100.retired_pages == smi.RetiredPages(0, 0, False) and p100.remapped_rows is None
    a10g, = _by_name("telegraf_a10g").gpus
    assert a10g.ecc_mode == "Enabled" and a10g.ecc_errors == smi.EccErrors(0, 0, 0, 0)
    assert a10g.remapped_rows == smi.RemappedRows(0, 0, False, False)
    ada, = _by_name("telegraf_rtx-4000-sff-ada").gpus
    assert ada.remapped_rows == smi.RemappedRows(0, 0, False, False) and ada.ecc_mode == "Disabled"
    assert ada.ecc_errors is None  # every counter "N/A"
    p400, = _by_name("telegraf_quadro-p400").gpus  # pre-Ampere, no DOCTYPE, ECC N/A
    assert (p400.ecc_mode, p400.ecc_errors, p400.remapped_rows, p400.mig_mode) == (None, None, None, None)


def test_xml_processes():
    t4, = _by_name("telegraf_tesla-t4").gpus
    assert [(p.gpu_index, p.pid, p.type, p.name, p.used_memory_mib) for p in t4.processes] == [
        (0, 675, "G", "/usr/lib/xorg/Xorg", 22), (0, 5762, "C", "python", 1005)]
    ada, = _by_name("telegraf_rtx-4000-sff-ada").gpus
    assert [p.type for p in ada.processes] == ["G", "G", "C", "C+G"]
    a5000 = _by_name("telegraf_dual-rtx-a5000").gpus
    assert [g.index for g in a5000] == [0, 1] and [g.processes[0].used_memory_mib for g in a5000] == [22430, 17246]


def test_q_text_ecc_sums_sram_and_dram_and_remapped_rows():
    a100 = {g.bus_id: g for g in _by_name("thamada_4x-a100-sxm4-80gb_555.42.02_nvidia-smi-q").gpus}
    pending = a100["00000000:9E:00.0"]
    assert pending.ecc_errors == smi.EccErrors(353, 0, 353, 0)  # DRAM Correctable 353, SRAM 0
    assert pending.remapped_rows == smi.RemappedRows(1, 0, True, False)
    assert a100["00000000:C2:00.0"].remapped_rows == smi.RemappedRows(1, 0, False, False)
    assert a100["00000000:68:00.0"].remapped_rows == smi.RemappedRows(0, 0, False, False)
    h100 = _by_name("thamada_8x-h100-80gb-hbm3_565.57.01_nvidia-smi-q").gpus
    assert all(g.ecc_errors == smi.EccErrors(0, 0, 0, 0) and g.retired_pages is None for g in h100)
    assert len({g.uuid for g in h100}) == 8 and [g.index for g in h100] == list(range(8))


def test_q_text_mig_devices_and_na_remapped_rows():
    gpu, = _by_name("gpu-exporter_h100-80gb-hbm3_590.48.01_mig_nvidia-smi-q").gpus
    assert gpu.mig_mode == "Enabled" and gpu.remapped_rows is None
    assert [(m.index, m.gpu_instance, m.compute_instance) for m in gpu.mig_devices] == [
        (0, 2, 0), (1, 3, 0), (2, 9, 0), (3, 10, 0)]
    assert gpu.memory_total_mib == 81559 and gpu.memory_used_mib == 59


def test_csv_query_gpu_units_and_na():
    p100, = _by_name("netdata_tesla-p100_query-gpu").gpus  # nounits: "[MiB]" in the header only
    assert (p100.uuid, p100.memory_used_mib, p100.memory_total_mib) == ("GPU-ef1b2c9b-38d8-2090-2bd1-f567a3eb42a6", 0,
                                                                       None)
    h100, = _by_name("gpu-exporter_h100-80gb-hbm3_590.48.01_mig_query-gpu-all-fields").gpus
    assert (h100.index, h100.bus_id, h100.memory_total_mib, h100.memory_used_mib) == (0, "00000000:00:09.0", 81559, 59)
    assert h100.mig_mode == "Enabled" and h100.ecc_mode == "Enabled" and h100.ecc_errors == smi.EccErrors(0, 0, 0, 0)
    assert h100.remapped_rows is None and h100.retired_pages is None  # all "[N/A]"


def test_csv_compute_apps_group_processes_under_their_gpu():
    gpu, = _by_name("gpu-exporter_h100_590.48.01_query-compute-apps").gpus
    assert gpu.uuid == "GPU-00000000-0000-0000-0000-000000000000" and gpu.index is None
    assert [(p.pid, p.name, p.used_memory_mib) for p in gpu.processes] == [
        (11327, "/root/tools/memhog", 2566), (11328, "/root/tools/memhog", 1542), (11345, "./gpu_burn", 15690)]


@pytest.mark.parametrize("prefix, profiles, ids", [
    ("cloud-native-docs_a100-sxm4-40gb_450.80.02_mig-7x1g.5gb", ["1g.5gb"] * 7, [(gi, 0) for gi in range(7, 14)]),
    ("cloud-native-docs_h100-80gb-hbm3_mig-all-1g.10gb", ["1g.10gb"] * 7, [(None, None)] * 7),
    ("cloud-native-docs_h100-80gb-hbm3_mig-mixed", ["3g.40gb", "2g.20gb", "1g.10gb", "1g.10gb"], [(None, None)] * 4),
    ("gpu-exporter_h100-80gb-hbm3_590.48.01_mig-mixed", ["3g.40gb", "2g.20gb", "1g.10gb", "1g.10gb"],
     [(None, None)] * 4),
    ("gpu-exporter_h100-80gb-hbm3_590.48.01_nvidia-smi-L", [], []),
])
def test_list_mig_devices_in_both_forms(prefix, profiles, ids):
    gpu, = _by_name(prefix).gpus
    assert gpu.index == 0 and gpu.uuid.startswith("GPU-")
    assert [m.profile for m in gpu.mig_devices] == profiles
    assert [(m.gpu_instance, m.compute_instance) for m in gpu.mig_devices] == ids
    assert [m.index for m in gpu.mig_devices] == list(range(len(profiles)))
    r450 = "450.80.02" in prefix
    assert all(m.uuid.startswith("MIG-GPU-" if r450 else "MIG-") for m in gpu.mig_devices)


@pytest.mark.parametrize("path", FILES["nvidia-smi-mig"], ids=_ids(FILES["nvidia-smi-mig"]))
def test_mig_outputs_are_detected_and_parsed_with_their_facts(path):
    text = path.read_text()
    rep = smi.parse(text)
    assert smi.detect(text) == "mig" and rep.format == "mig" and rep.failure is None and not rep.gpus
    facts = MIG_FACTS[path.name]
    got = {
        "gpu_instance_profiles": [(p.name, p.profile_id, p.free, p.total, p.memory_gib)
                                  for p in rep.gpu_instance_profiles],
        "compute_instance_profiles": [(p.gpu_instance, p.name, p.profile_id, p.default, p.free, p.total)
                                      for p in rep.compute_instance_profiles],
        "mig_operations": [(o.action, o.target, o.ok, o.gpu_instance, o.compute_instance, o.profile, o.profile_id,
                            o.reason) for o in rep.mig_operations],
    }
    for key, value in got.items():
        assert value == facts.get(key, []), key
    assert len(rep.warnings) == len(facts.get("warnings", []))
    for warning, start in zip(rep.warnings, facts.get("warnings", [])):
        assert warning.startswith(start)
    assert all(p.gpu == 0 for p in rep.gpu_instance_profiles + rep.compute_instance_profiles)


def test_mig_enable_names_the_gpu_by_bus_id():
    op, = _by_name("jear_a100-pcie-40gb_460.32.03_mig-enable").mig_operations
    assert op.bus_id == "00000000:61:00.0" and op.gpu is None


@pytest.mark.parametrize("path", FILES["nvidia-smi-errors"], ids=_ids(FILES["nvidia-smi-errors"]))
def test_error_files_are_typed_failures_or_refused(path):
    text = path.read_text()
    fact = ERROR_FACTS[path.name]
    if isinstance(fact, str):  # a kernel or device-plugin log, not nvidia-smi output: refused, saying so
        for fmt in ("auto", *smi.FORMATS):
            with pytest.raises(smi.SmiParseError):
                smi.parse(text, fmt)
        with pytest.raises(smi.SmiParseError, match=re.escape(fact)):
            smi.parse(text)
        return
    kind, exit_code = fact
    rep = smi.parse(text)
    assert smi.detect(text) == "error" and rep.format == "error" and not rep.gpus
    assert (rep.failure.kind, rep.failure.exit_code) == (kind, exit_code)
    assert rep.failure.message in text.replace("\n", " ")
    assert all(smi.parse(text, fmt) == rep for fmt in smi.FORMATS)  # a failure is one whatever was asked


# Layouts the corpus lacks, as public captures print them.

LGI = """\
+----------------------------------------------------+
| GPU instances:                                     |
| GPU   Name          Profile  Instance   Placement  |
|                       ID       ID       Start:Size |
|====================================================|
|   0  MIG 1g.5gb       19       13          6:1     |
+----------------------------------------------------+
|   0  MIG 2g.10gb      14        5          4:2     |
+----------------------------------------------------+
|   0  MIG 4g.20gb       5        1          0:4     |
+----------------------------------------------------+
"""


def test_mig_lgi_lists_gpu_instances_with_placements():
    rep = smi.parse(LGI)
    assert smi.detect(LGI) == "mig" and rep.format == "mig"
    assert [(i.gpu, i.name, i.profile_id, i.instance_id, i.placement_start, i.placement_size)
            for i in rep.gpu_instances] == [(0, "1g.5gb", 19, 13, 6, 1), (0, "2g.10gb", 14, 5, 4, 2),
                                            (0, "4g.20gb", 5, 1, 0, 4)]


@pytest.mark.parametrize("line, expected", [
    # R450 names no instance ID and gives the profile by ID only
    ("Successfully created GPU instance on GPU  0 using profile ID  9", ("create", True, None, None, None, 9, None)),
    ("Successfully created compute instance on GPU  0 GPU instance ID  1 using profile ID  0",
     ("create", True, 1, None, None, 0, None)),
    # a refused create names the profile as it was asked for
    ("Unable to create a GPU instance on GPU  0 using profile 9: Insufficient Resources",
     ("create", False, None, None, None, 9, "Insufficient Resources")),
    ("Unable to create a GPU instance on GPU  0 using profile 7g.40gb: Invalid Argument",
     ("create", False, None, None, "7g.40gb", None, "Invalid Argument")),
])
def test_mig_operation_line_forms(line, expected):
    op, = smi.parse(line).mig_operations
    assert (op.action, op.ok, op.gpu_instance, op.compute_instance, op.profile, op.profile_id, op.reason) == expected


def test_mig_listing_without_mig_enabled_gpus_is_a_warning():
    assert smi.parse("No MIG-enabled devices found.\n").warnings == ("No MIG-enabled devices found.",)


def test_table_windows_driver_model_column():
    text = (CORPUS / "nvidia-smi-table" / "thamada_l4_550.90.07.txt").read_text()
    text = text.replace("NVIDIA L4                      On  ", "NVIDIA RTX 3000 Ada Gene...  WDDM  ")
    assert smi.parse(text).gpus[0].name == "NVIDIA RTX 3000 Ada Gene..."
