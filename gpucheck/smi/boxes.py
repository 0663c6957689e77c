"""The box-drawn tables of nvidia-smi (the default view, `nvidia-smi mig -lgip` and friends),
cut into blocks of rows whatever their width (79, 89 or 91 columns) or corner style ("|" or,
from R590, "+" on the separator under the version line)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from gpucheck.smi.model import SmiParseError

_SEPARATOR = re.compile(r"[+|][-=+|]*[-=][-=+|]*[+|]")


@dataclass(frozen=True)
class Block:
    """The rows between two separator lines, each row cut into its cells."""

    rows: tuple[tuple[str, ...], ...]
    header: bool  # closed by a "|===|" line: these rows name the columns of the blocks below
    line: int  # where the block starts, for messages

    @property
    def title(self) -> str:
        return self.rows[0][0]


def read(text: str) -> tuple[list[str], list[Block]]:
    """(the lines before the first box, the blocks). Every box line must be as wide as the first
    and the text must end on a closing "+---+" line: a cut output fails here, not later."""
    preamble: list[str] = []
    blocks: list[Block] = []
    rows: list[tuple[str, ...]] = []
    width = start = last = 0
    closed = False
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line:
            continue
        if not width:
            if line[0] not in "+|":
                preamble.append(line)
                continue
            width = len(line)
        if len(line) != width or line[0] not in "+|" or line[-1] not in "+|":
            raise SmiParseError(f"line {n} is not a table line {width} columns wide: {line[:80]!r} "
                                "(cut or edited output?)")
        last = n
        separator = bool(_SEPARATOR.fullmatch(line))
        closed = separator and line[0] == "+"
        if not separator:
            start = start if rows else n
            rows.append(tuple(cell.strip() for cell in line[1:-1].split("|")))
        elif rows:
            blocks.append(Block(tuple(rows), "=" in line, start))
            rows = []
    if not blocks:
        raise SmiParseError("no box-drawn table rows")
    if not closed:
        raise SmiParseError(f"the table ends at line {last} without its closing '+---+' line (cut output?)")
    return preamble, blocks
