"""Read inventory files into raw records that remember where each value came from.

Structure is checked here (encoding, header, ragged rows, unknown or missing columns);
values are checked by the validator. Every problem in a file is reported, not only the first.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from fleet.inventory.problems import Problem
from fleet.inventory.schema import COLUMNS, Kind

CSV_SUFFIXES = {".csv"}
YAML_SUFFIXES = {".yaml", ".yml"}
_MAX_LINE_PROBLEMS = 50  # per file, for encoding errors


@dataclass(slots=True)
class RawRecord:
    kind: Kind
    path: Path
    line: int
    values: dict[str, str | list[str]] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict)

    def line_of(self, name: str) -> int:
        return self.lines.get(name, self.line)


@dataclass(slots=True)
class ReadResult:
    records: list[RawRecord] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)


def expand(paths: list[Path]) -> tuple[list[Path], list[Problem]]:
    """Directories stand for the inventory files directly inside them, in name order."""
    files: list[Path] = []
    problems: list[Problem] = []
    for path in paths:
        if path.is_dir():
            found = sorted(
                p for p in path.iterdir() if p.is_file() and p.suffix.lower() in CSV_SUFFIXES | YAML_SUFFIXES
            )
            if not found:
                problems.append(
                    Problem(path, None, None, None, "directory holds no .csv, .yaml or .yml file")
                )
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            problems.append(Problem(path, None, None, None, "no such file or directory"))
    return files, problems


def kind_from_name(path: Path) -> Kind | None:
    stem = path.stem.lower()
    for kind in Kind:
        if stem.startswith(kind.value):
            return kind
    return None


def read_paths(paths: list[Path]) -> ReadResult:
    files, problems = expand(paths)
    result = ReadResult(problems=problems, files=files)
    for path in files:
        records, file_problems = read_file(path)
        result.records.extend(records)
        result.problems.extend(file_problems)
    return result


def read_file(path: Path) -> tuple[list[RawRecord], list[Problem]]:
    suffix = path.suffix.lower()
    if suffix not in CSV_SUFFIXES | YAML_SUFFIXES:
        return [], [Problem(path, None, None, None, "not an inventory file: use .csv, .yaml or .yml")]
    try:
        data = path.read_bytes()
    except OSError as exc:
        return [], [Problem(path, None, None, None, f"cannot read: {exc.strerror}")]
    text, problems = decode(path, data)
    if text is None:
        return [], problems
    if suffix in CSV_SUFFIXES:
        return read_csv(path, text)
    return read_yaml(path, text)


def decode(path: Path, data: bytes) -> tuple[str | None, list[Problem]]:
    """Strict UTF-8 (a leading BOM is dropped); every line that is not UTF-8 is named."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8"), []
    except UnicodeDecodeError:
        pass
    problems = []
    for number, raw in enumerate(data.split(b"\n"), start=1):
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            bad = raw[exc.start : exc.start + 4].hex(" ")
            problems.append(
                Problem(
                    path,
                    number,
                    None,
                    None,
                    f"not UTF-8 (byte {exc.start + 1} of the line: {bad}); save the file as UTF-8",
                )
            )
            if len(problems) >= _MAX_LINE_PROBLEMS:
                break
    return None, problems


# --- CSV -------------------------------------------------------------------------------------


def read_csv(path: Path, text: str) -> tuple[list[RawRecord], list[Problem]]:
    kind = kind_from_name(path)
    if kind is None:
        names = ", ".join(f"{k.value}*.csv" for k in Kind)
        return [], [Problem(path, None, None, None, f"cannot tell what the file holds: name it {names}")]
    problems: list[Problem] = []
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
    except csv.Error as exc:
        return [], [Problem(path, 1, None, None, f"malformed CSV: {exc}")]
    if header is None or not any(h.strip() for h in header):
        return [], [Problem(path, 1, None, None, "empty file: the first line must be the header")]
    header = [h.strip() for h in header]
    problems.extend(_check_header(path, kind, header))
    known = {c.name for c in COLUMNS[kind]}
    records: list[RawRecord] = []
    line = reader.line_num
    while True:
        start = line + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            problems.append(Problem(path, reader.line_num, None, None, f"malformed CSV: {exc}"))
            break
        line = reader.line_num
        if not row or (len(row) == 1 and not row[0].strip()):
            continue  # blank line
        if len(row) != len(header):
            problems.append(
                Problem(
                    path, start, None, None, f"row has {len(row)} fields but the header has {len(header)}"
                )
            )
            continue
        values: dict[str, str | list[str]] = {}
        for name, value in zip(header, row, strict=True):
            if name in known and name not in values:
                values[name] = value.strip(" ")
        records.append(RawRecord(kind, path, start, values))
    return records, problems


def _check_header(path: Path, kind: Kind, header: list[str]) -> list[Problem]:
    problems = []
    seen: set[str] = set()
    known = {c.name for c in COLUMNS[kind]}
    for name in header:
        if name in seen:
            problems.append(Problem(path, 1, name, None, "column appears twice in the header"))
        elif name not in known:
            problems.append(
                Problem(
                    path,
                    1,
                    name,
                    None,
                    f"unknown column for {kind.value} (expected: {', '.join(c.name for c in COLUMNS[kind])})",
                )
            )
        seen.add(name)
    problems.extend(
        Problem(path, 1, c.name, None, "required column is missing from the header")
        for c in COLUMNS[kind]
        if c.required and c.name not in seen
    )
    return problems


# --- YAML ------------------------------------------------------------------------------------


def read_yaml(path: Path, text: str) -> tuple[list[RawRecord], list[Problem]]:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        reason = getattr(exc, "problem", None) or str(exc)
        return [], [Problem(path, line, None, None, f"malformed YAML: {reason}")]
    if root is None:
        return [], []
    sections: list[tuple[Kind, SequenceNode]] = []
    problems: list[Problem] = []
    if isinstance(root, SequenceNode):
        kind = kind_from_name(path)
        if kind is None:
            kinds = ", ".join(k.value for k in Kind)
            return [], [
                Problem(
                    path,
                    1,
                    None,
                    None,
                    f"cannot tell what the list holds: name the file after a kind ({kinds})"
                    " or use a mapping with those keys",
                )
            ]
        sections.append((kind, root))
    elif isinstance(root, MappingNode):
        for key_node, value_node in root.value:
            key = key_node.value if isinstance(key_node, ScalarNode) else None
            kind = next((k for k in Kind if k.value == key), None)
            if kind is None:
                kinds = ", ".join(k.value for k in Kind)
                problems.append(
                    Problem(
                        path,
                        key_node.start_mark.line + 1,
                        str(key),
                        None,
                        f"unknown section (expected: {kinds})",
                    )
                )
            elif not isinstance(value_node, SequenceNode):
                problems.append(
                    Problem(path, value_node.start_mark.line + 1, key, None, "must be a list of records")
                )
            else:
                sections.append((kind, value_node))
    else:
        return [], [
            Problem(path, 1, None, None, "the top level must be a list of records or a mapping of sections")
        ]

    records: list[RawRecord] = []
    for kind, seq in sections:
        for item in seq.value:
            record, item_problems = _yaml_record(path, kind, item)
            problems.extend(item_problems)
            if record is not None:
                records.append(record)
    return records, problems


def _yaml_record(path: Path, kind: Kind, node: Node) -> tuple[RawRecord | None, list[Problem]]:
    line = node.start_mark.line + 1
    if not isinstance(node, MappingNode):
        return None, [Problem(path, line, None, None, f"each {kind.value} entry must be a mapping of fields")]
    columns = {c.name: c for c in COLUMNS[kind]}
    record = RawRecord(kind, path, line)
    problems: list[Problem] = []
    for key_node, value_node in node.value:
        key = str(key_node.value) if isinstance(key_node, ScalarNode) else "?"
        key_line = key_node.start_mark.line + 1
        column = columns.get(key)
        if column is None:
            problems.append(
                Problem(
                    path,
                    key_line,
                    key,
                    None,
                    f"unknown field for {kind.value} (expected: {', '.join(columns)})",
                )
            )
            continue
        if key in record.values:
            problems.append(Problem(path, key_line, key, None, "field appears twice"))
            continue
        record.lines[key] = value_node.start_mark.line + 1
        if isinstance(value_node, ScalarNode):
            is_null = value_node.tag == "tag:yaml.org,2002:null"
            record.values[key] = "" if is_null else str(value_node.value)
        elif isinstance(value_node, SequenceNode) and column.is_list:
            items = []
            for item in value_node.value:
                if not isinstance(item, ScalarNode):
                    problems.append(
                        Problem(path, item.start_mark.line + 1, key, None, "list items must be plain values")
                    )
                    break
                items.append(str(item.value))
            record.values[key] = items
        else:
            problems.append(
                Problem(path, record.lines[key], key, None, "must be a single value, not a list or mapping")
            )
    problems.extend(
        Problem(path, line, c.name, None, "required field is missing")
        for c in COLUMNS[kind]
        if c.required and c.name not in record.values and not any(p.field == c.name for p in problems)
    )
    return record, problems
