"""Reading docs/user/occopus-compatibility.rst (and the parts it includes): its rows."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

DOCS = Path(__file__).resolve().parents[2] / "docs" / "user"
CONTRACT = DOCS / "occopus-compatibility.rst"
#: How a row's last cell begins: the same as Occopus, or why not.
VERDICTS = ("Same", "Deliberate:", "Extension:", "Not supported:")
_ROW = re.compile(r"^   \* - ``([^`]+)``\s*$")
_CELL = re.compile(r"^     - (.*)$")
_MORE = re.compile(r"^       (.*)$")
_INCLUDE = re.compile(r"^\.\. include:: (\S+)\s*$", re.M)


@dataclass(frozen=True)
class Row:
    item: str
    occopus: str
    occo: str
    difference: str
    file: str

    @property
    def same(self) -> bool:
        return self.difference.startswith("Same")


def _files() -> list[Path]:
    text = CONTRACT.read_text()
    return [CONTRACT] + [(CONTRACT.parent / inc).resolve() for inc in _INCLUDE.findall(text)]


def _rows(path: Path) -> list[Row]:
    rows: list[Row] = []
    item: str | None = None
    cells: list[str] = []

    def flush() -> None:
        if item is not None:
            if len(cells) != 3:
                raise AssertionError(f"{path.name}: row {item!r} has {len(cells) + 1} cells, "
                                     "not 4 (item, Occopus 1.10, OCCO, difference)")
            rows.append(Row(item, *(" ".join(c.split()) for c in cells), file=path.name))

    for line in path.read_text().splitlines():
        if m := _ROW.match(line):
            flush()
            item, cells = m.group(1), []
        elif item is not None and (m := _CELL.match(line)):
            cells.append(m.group(1))
        elif item is not None and cells and (m := _MORE.match(line)):
            cells[-1] += " " + m.group(1)
        elif item is not None and line.strip() and not line.startswith(" "):
            flush()
            item, cells = None, []
    flush()
    return rows


@lru_cache(maxsize=1)
def contract_rows() -> dict[str, Row]:
    """Every row of the contract by its item; duplicates and malformed rows fail."""
    out: dict[str, Row] = {}
    for path in _files():
        for row in _rows(path):
            if row.item in out:
                raise AssertionError(f"row {row.item!r} is in {out[row.item].file} and "
                                     f"{row.file}")
            if not row.difference.startswith(VERDICTS):
                raise AssertionError(f"{row.file}: row {row.item!r}: the last cell must "
                                     f"begin with one of {VERDICTS}, got {row.difference!r}")
            out[row.item] = row
    return out
