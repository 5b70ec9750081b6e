"""Write inventory records as CSV or YAML, in the same columns the reader takes.

Used by the generator and by export, so an exported inventory imports back unchanged. Files are
written to a temporary name and renamed into place: a reader never sees half a file.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from collections.abc import Mapping, Sequence
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml

from fleet.domain.secrets import SecretRef
from fleet.inventory.schema import COLUMNS, Kind, Record


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, StrEnum):
        return value.value
    if isinstance(value, SecretRef):
        return str(value)
    if isinstance(value, tuple):
        return " ".join(value)
    return str(value)


def to_row(kind: Kind, record: Record) -> dict[str, str]:
    return {c.name: _cell(getattr(record, c.name)) for c in COLUMNS[kind]}


def render_csv(kind: Kind, records: Sequence[Record]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([c.name for c in COLUMNS[kind]])
    for record in records:
        writer.writerow(to_row(kind, record).values())
    return buffer.getvalue()


def render_yaml(sections: Mapping[Kind, Sequence[Record]]) -> str:
    doc: dict[str, list[dict[str, Any]]] = {}
    for kind, records in sections.items():
        items = []
        for record in records:
            item: dict[str, Any] = {}
            for column in COLUMNS[kind]:
                value = getattr(record, column.name)
                if value is None or value in ("", ()):
                    continue
                item[column.name] = list(value) if column.is_list else _cell(value)
            items.append(item)
        doc[kind.value] = items
    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, width=1000)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_atomic(path: Path, content: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(content)
        Path(tmp).chmod(0o666 & ~_umask())  # mkstemp makes 0600; give the file ordinary permissions
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# How the shipped inventory is laid out: bulk tables as CSV, hand-edited sections as YAML.
SHIPPED_LAYOUT: dict[Kind, str] = {
    Kind.SITES: "csv",
    Kind.DEVICES: "csv",
    Kind.CREDENTIALS: "yaml",
    Kind.GROUPS: "yaml",
}


def write_inventory(
    directory: Path, sections: Mapping[Kind, Sequence[Record]], layout: Mapping[Kind, str]
) -> list[Path]:
    """Write one file per kind into ``directory``; returns the paths written."""
    written = []
    for kind, records in sections.items():
        fmt = layout[kind]
        path = directory / f"{kind.value}.{fmt}"
        content = render_csv(kind, records) if fmt == "csv" else render_yaml({kind: records})
        write_atomic(path, content)
        written.append(path)
    return written
