"""`nvidia-smi -q -x`: the nvidia_smi_log document, DTD v10 to v13.

The fields read here kept their names through the renames at 535 (clocks_event_reasons,
gpu_power_readings) and 590 (instant_power_draw); what moved is the ECC block (single/double
bit totals before R535, sram_/dram_ counters after, the uncorrectable SRAM split in v13).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from gpucheck.smi import values
from gpucheck.smi.model import Gpu, MigDevice, Process, SmiParseError, SmiReport

# nvidia-smi's own line; it names an external DTD that is never fetched.
_OWN_DOCTYPE = re.compile(r'<!DOCTYPE\s+nvidia_smi_log\s+SYSTEM\s+"nvsmi_device_v\d+\.dtd"\s*>', re.ASCII)
# Anything else that declares: internal subsets, entities (billion laughs, external entities).
_DECLARATION = re.compile(r"<!\s*(?:DOCTYPE|ENTITY|ELEMENT|ATTLIST|NOTATION)", re.IGNORECASE)


def parse(text: str) -> SmiReport:
    root = _root(text)
    gpus = root.findall("gpu")
    if not gpus:
        raise SmiParseError("nvidia_smi_log has no <gpu> element")
    # Positions are indexes only when every attached GPU is listed (fixtures get trimmed).
    complete = values.to_int(root.findtext("attached_gpus")) == len(gpus)
    return SmiReport(format="xml", driver_version=values.text(root.findtext("driver_version")),
                     cuda_version=values.text(root.findtext("cuda_version")),
                     gpus=tuple(_gpu(i if complete else None, g) for i, g in enumerate(gpus)))


def _root(text: str) -> ET.Element:
    body = _OWN_DOCTYPE.sub("", text, count=1)
    if _DECLARATION.search(body):
        raise SmiParseError("refusing a DOCTYPE or ENTITY declaration other than nvidia-smi's own")
    try:
        root = ET.fromstring(body)
    except (ET.ParseError, ValueError, LookupError) as exc:  # LookupError: an unknown declared encoding
        raise SmiParseError(f"not well-formed XML ({exc})") from None
    if root.tag != "nvidia_smi_log":
        raise SmiParseError(f"the root element is <{root.tag}>, not <nvidia_smi_log>")
    return root


def _gpu(index: int | None, gpu: ET.Element) -> Gpu:
    name, uuid = values.text(gpu.findtext("product_name")), values.text(gpu.findtext("uuid"))
    if not name and not uuid:
        raise SmiParseError(f"<gpu id={gpu.get('id')!r}> has neither <product_name> nor <uuid>")
    pages, rows = gpu.find("retired_pages"), gpu.find("remapped_rows")
    return Gpu(
        index=index,
        name=name,
        uuid=uuid,
        bus_id=values.text(gpu.findtext("pci/pci_bus_id") or gpu.get("id")),
        memory_total_mib=values.to_int(gpu.findtext("fb_memory_usage/total")),
        memory_used_mib=values.to_int(gpu.findtext("fb_memory_usage/used")),
        ecc_mode=values.mode(gpu.findtext("ecc_mode/current_ecc")),
        ecc_errors=values.ecc_errors(_counters(gpu, "volatile"), _counters(gpu, "aggregate")),
        retired_pages=values.retired_pages(
            pages.findtext("multiple_single_bit_retirement/retired_count"),
            pages.findtext("double_bit_retirement/retired_count"),
            pages.findtext("pending_retirement") or pages.findtext("pending_blacklist")) if pages is not None else None,
        remapped_rows=values.remapped_rows(
            rows.findtext("remapped_row_corr"), rows.findtext("remapped_row_unc"),
            rows.findtext("remapped_row_pending"), rows.findtext("remapped_row_failure")) if rows is not None else None,
        mig_mode=values.mode(gpu.findtext("mig_mode/current_mig")),
        mig_devices=tuple(_mig_device(m) for m in gpu.iterfind("mig_devices/mig_device")),
        processes=tuple(_process(index, p) for p in gpu.iterfind("processes/process_info")),
    )


def _counters(gpu: ET.Element, block: str) -> list[tuple[str, str | None]]:
    return [(c.tag, c.findtext("total") if len(c) else c.text) for c in gpu.iterfind(f"ecc_errors/{block}/*")]


def _mig_device(node: ET.Element) -> MigDevice:
    return MigDevice(profile=None, uuid=None, gpu_instance=values.to_int(node.findtext("gpu_instance_id")),
                     compute_instance=values.to_int(node.findtext("compute_instance_id")),
                     index=values.to_int(node.findtext("index")))


def _process(gpu_index: int | None, node: ET.Element) -> Process:
    return Process(gpu_index=gpu_index, pid=values.to_int(node.findtext("pid")),
                   type=values.text(node.findtext("type")), name=values.text(node.findtext("process_name")),
                   used_memory_mib=values.to_int(node.findtext("used_memory")))
