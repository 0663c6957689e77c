"""gpucheck.smi on what is not a whole nvidia-smi output: a clear SmiParseError, never a
half-filled report and never another exception."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings, strategies as st

from gpucheck import smi

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
ALL_FILES = sorted(CORPUS.glob("nvidia-smi-*/*"))
CORPUS_LINES = sorted({line for p in ALL_FILES for line in p.read_text().splitlines()})
TABLE = (CORPUS / "nvidia-smi-table" / "thamada_l4_550.90.07.txt").read_text()
XML = (CORPUS / "nvidia-smi-xml" / "telegraf_tesla-t4_515.105.01_v11.xml").read_text()
BODY = XML[XML.index("<nvidia_smi_log>"):]


def test_the_corpus_is_there():
    assert len(ALL_FILES) == 45


@pytest.mark.parametrize("text, reason", [
    ("", "empty"),
    ("   \n\t\n", "empty"),
    ("hello world", "not a known nvidia-smi output"),
    (b"\xff\xfe\x00\x9cgarbage\x80\x81".decode("utf-8", errors="replace"), "not a known nvidia-smi output"),
    (bytes(range(256)).decode("utf-8", errors="replace") * 4, "not a known nvidia-smi output"),
    ("$ nvidia-smi\n", "empty"),
    ("<nvidia_smi_log/>", "XML: nvidia_smi_log has no <gpu> element"),
    ("<html><body>502 Bad Gateway</body></html>", "XML: the root element is <html>"),
    ("<nvidia_smi_log><gpu id='x'></gpu></nvidia_smi_log>", "XML: <gpu id='x'> has neither"),
    ("<nvidia_smi_log><gpu>", "XML: not well-formed"),
    ("==============NVSMI LOG==============\nDriver Version : 1\n", "-q text: no 'GPU <bus id>' section"),
    ("\n".join(TABLE.splitlines()[:2] + TABLE.splitlines()[:1]), "table: no GPU rows"),
    ("\n".join(TABLE.splitlines()[:7] + TABLE.splitlines()[:1]), "table: no GPU rows"),  # header, no rows
    ("\n".join(TABLE.splitlines()[:9]), "table: the table ends at line 9 without its closing"),
    (TABLE.replace("00000000:01:00.0 Off", "   what is this here"), "table: line 8: 'what is this here'"),
    ("name, uuid, memory.total [MiB]\n", "CSV: a header and no rows"),
    ("NVIDIA L4, GPU-453f8851-d1a3-e72d-4d85-3ef04418205b, 23034 MiB\n", "not a known nvidia-smi output"),
    ("name, uuid\nNVIDIA L4\n", "CSV: line 2 has 1 values, the header 2"),
    ("temperature.gpu, pstate\n33, P8\n", "not a known nvidia-smi output"),
    ("GPU 0: NVIDIA L4 (UUID: GPU-453f8851-d1a3-e72d-4d85-3ef04418205b)\nrm -rf /\n", "-L listing: line 2"),
    ("Successfully created GPU instance ID 13 on GPU  0 using profile MIG 1g.5gb (ID 19)\nlol\n", "mig output: line 2"),
    ("All done.\n", "not a known nvidia-smi output"),
    ("No devices were found\nbut here is a table anyway\n", "not a known nvidia-smi output"),
])
def test_garbage_is_a_clear_parse_error(text, reason):
    with pytest.raises(smi.SmiParseError, match=re.escape(reason)):
        smi.parse(text)


def test_an_unknown_format_name_is_refused():
    with pytest.raises(smi.SmiParseError, match="unknown format 'yaml'"):
        smi.parse(TABLE, "yaml")


def _contained(cut: Any, full: Any) -> bool:
    """Everything in `cut` is in `full`: lists may be shorter, strings cut short, nothing else differs."""
    if isinstance(cut, dict):
        return cut.keys() == full.keys() and all(_contained(cut[k], full[k]) for k in cut)
    if isinstance(cut, list):
        return len(cut) <= len(full) and all(_contained(c, f) for c, f in zip(cut, full))
    if isinstance(cut, str) and isinstance(full, str):
        return full.startswith(cut)
    return cut == full


@pytest.mark.parametrize("path", ALL_FILES, ids=[p.name for p in ALL_FILES])
def test_a_file_cut_in_half_is_refused_or_a_part_of_the_whole(path):
    text = path.read_text()
    try:
        cut = smi.parse(text[: len(text) // 2])
    except smi.SmiParseError:
        return
    # Line formats cut on a line boundary read as shorter outputs; nothing in them is invented.
    assert cut.has_entries() and _contained(cut.to_json(), smi.parse(text).to_json())


@pytest.mark.parametrize("path", ALL_FILES, ids=[p.name for p in ALL_FILES])
def test_cuts_and_dropped_lines_raise_nothing_but_parse_errors(path):
    text = path.read_text()
    lines = text.splitlines(keepends=True)
    variants = [text[:i] for i in range(0, len(text), max(1, len(text) // 40))]
    variants += ["".join(lines[:i] + lines[i + 1:]) for i in range(0, len(lines), max(1, len(lines) // 40))]
    for variant in variants:
        try:
            assert smi.parse(variant).has_entries()
        except smi.SmiParseError:
            pass


@pytest.mark.parametrize("text", [
    # billion laughs
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>'
    "<nvidia_smi_log><driver_version>&lol2;</driver_version></nvidia_smi_log>",
    # an external entity inside nvidia-smi's own DOCTYPE line
    XML.replace('"nvsmi_device_v11.dtd">', '"nvsmi_device_v11.dtd" [<!ENTITY x SYSTEM "file:///etc/passwd">]>')
    .replace("<driver_version>515.105.01", "<driver_version>&x;"),
    # a DTD from somewhere else
    XML.replace('"nvsmi_device_v11.dtd"', '"http://attacker.example/evil.dtd"'),
    # a second declaration after nvidia-smi's own
    XML.replace("<nvidia_smi_log>", '<!ENTITY y "y"><nvidia_smi_log>', 1),
    '<!doctype nvidia_smi_log [<!entity z "z">]>' + BODY,
])
def test_xml_declarations_other_than_nvidia_smis_own_are_refused(text):
    with pytest.raises(smi.SmiParseError, match="refusing a DOCTYPE or ENTITY declaration"):
        smi.parse(text)


def test_xml_entity_references_without_a_declaration_are_not_expanded():
    with pytest.raises(smi.SmiParseError, match="not well-formed XML"):
        smi.parse(BODY.replace("<driver_version>515.105.01", "<driver_version>&x;"))


def test_xml_nvidia_smis_own_doctype_is_fine():
    assert smi.parse(XML).gpus[0].name == "Tesla T4" and smi.parse(BODY).gpus[0].name == "Tesla T4"


@pytest.mark.parametrize("text", [
    "x" * (smi.MAX_BYTES + 1),
    "garbage line\n" * (19 * 1024 * 1024 // 13),
    ("|" + "-" * 77 + "|\n") * 200_000,
    TABLE.splitlines(keepends=True)[0] * 200_000,
    "<" * 19_000_000,
    "GPU 0: NVIDIA L4 (UUID: GPU-0)\n" * 600_000,  # one GPU listed over and over
    "Warning: x\n" + "Reboot the system or try nvidia-smi --gpu-reset to make MIG mode effective on GPU 0\n" * 200_000,
])
def test_huge_input_is_refused_quickly(text):
    start = time.monotonic()
    with pytest.raises(smi.SmiParseError):
        smi.parse(text)
    assert time.monotonic() - start < 10


def test_huge_but_valid_input_is_read_in_linear_time():
    line = "  MIG 1g.10gb     Device  0: (UUID: MIG-3f6f389f-b0cc-5e5c-8e32-eaa8fd067902)\n"
    text = "GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-b4895dbf-9350-2524-a89b-98161ddd9fe4)\n" + line * 200_000
    start = time.monotonic()
    assert len(smi.parse(text).gpus[0].mig_devices) == 200_000
    assert time.monotonic() - start < 10


def _parse_or_refuse(text: str) -> None:
    try:
        report = smi.parse(text)
    except smi.SmiParseError:
        return
    assert report.failure is not None or report.has_entries()
    assert report.failure is None or not report.gpus


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_any_text_parses_to_something_or_raises_a_parse_error(text):
    _parse_or_refuse(text)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(CORPUS_LINES), max_size=30), st.sampled_from(["auto", *smi.FORMATS]))
def test_any_mix_of_real_lines_parses_to_something_or_raises_a_parse_error(lines, fmt):
    try:
        report = smi.parse("\n".join(lines), fmt)
    except smi.SmiParseError:
        return
    assert report.has_entries()
