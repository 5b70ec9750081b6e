"""Validation problems: each names the file, line, field and value, and says what is wrong."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode

from fleet.errors import FleetError

_VALUE_LIMIT = 60
REDACTED = "<redacted>"


def show_value(value: str) -> str:
    """Quote a value for a message, with control characters made visible and long values cut."""
    shown = value if len(value) <= _VALUE_LIMIT else value[:_VALUE_LIMIT] + "…"
    out = []
    for ch in shown:
        if ch in "\r\n\t":
            out.append({"\r": "\\r", "\n": "\\n", "\t": "\\t"}[ch])
        elif unicodedata.category(ch).startswith("C") or ch in "\u2028\u2029":
            out.append(f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return "'" + "".join(out) + "'"


@dataclass(frozen=True, slots=True)
class Problem:
    path: Path
    line: int | None
    field: str | None
    value: str | None
    reason: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else str(self.path)
        what = ""
        if self.field is not None:
            what = f" {self.field}"
            if self.value is not None:
                what += f"={self.value if self.value == REDACTED else show_value(self.value)}"
            what += ":"
        return f"{where}:{what} {self.reason}"

    def to_dict(self) -> dict[str, object]:
        return {
            "file": str(self.path),
            "line": self.line,
            "field": self.field,
            "value": self.value,
            "reason": self.reason,
        }


class InventoryInvalid(FleetError):
    """Raised with every problem found; nothing was written."""

    exit_code = 1

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        files = len({p.path for p in problems})
        super().__init__(f"{len(problems)} problem(s) in {files} file(s); nothing was changed")


class YamlUnreadable(Exception):
    """A YAML file that cannot be read or parsed, as one problem (with the line where known)."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        super().__init__(str(problem))


def compose_yaml(path: Path) -> tuple[Node | None, bytes]:
    """The file's YAML node tree (lines kept, for messages) and its bytes; YamlUnreadable otherwise."""
    try:
        raw = path.read_bytes()
        return yaml.compose(raw.decode("utf-8"), Loader=yaml.SafeLoader), raw
    except OSError as exc:
        raise YamlUnreadable(Problem(path, None, None, None, f"cannot read: {exc.strerror}")) from None
    except UnicodeDecodeError:
        raise YamlUnreadable(Problem(path, None, None, None, "not UTF-8")) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise YamlUnreadable(Problem(path, line, None, None, f"malformed YAML: {exc}")) from None


class YamlReader:
    """Reads values out of a YAML node tree, collecting every problem with its line."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.problems: list[Problem] = []

    def problem(self, node: Node | None, field_name: str | None, value: Any, reason: str) -> None:
        line = node.start_mark.line + 1 if node is not None else None
        shown = None if value is None else str(value)
        self.problems.append(Problem(self.path, line, field_name, shown, reason))

    def value(self, node: Node) -> Any:
        try:
            return SafeConstructor().construct_object(node, deep=True)
        except ConstructorError as exc:
            self.problem(node, None, None, f"unreadable value: {exc.problem}")
            return None

    def mapping(self, node: Node, what: str) -> dict[str, tuple[Node, Node]]:
        if not isinstance(node, MappingNode):
            self.problem(node, what, None, "must be a mapping")
            return {}
        out: dict[str, tuple[Node, Node]] = {}
        for key, value in node.value:
            name = str(key.value)
            if name in out:
                self.problem(key, f"{what}.{name}" if what else name, None, "given twice")
            out[name] = (key, value)
        return out

    def text(self, node: Node, what: str, *, empty: bool = False) -> str:
        value = self.value(node) if isinstance(node, ScalarNode) else None
        if not isinstance(value, str) or (not empty and not value.strip()):
            self.problem(node, what, value, "must be text" if empty else "must be non-empty text")
            return ""
        if any(ord(ch) < 32 and ch not in "\t" for ch in value):
            self.problem(node, what, value, "must be one line of text")
            return ""
        return value


def read_document(
    path: Path, known: set[str], empty: str
) -> tuple[YamlReader, dict[str, tuple[Node, Node]], Node, bytes]:
    """A YAML file's top-level mapping, unknown keys already reported to the reader.

    YamlUnreadable for a file that cannot be read or parsed, or is empty (``empty`` says what it needs).
    """
    root, raw = compose_yaml(path)
    if root is None:
        raise YamlUnreadable(Problem(path, 1, None, None, f"empty: {empty}"))
    reader = YamlReader(path)
    top = reader.mapping(root, "")
    for key, (key_node, _v) in top.items():
        if key not in known:
            reader.problem(key_node, key, None, f"unknown key (known: {', '.join(sorted(known))})")
    return reader, top, root, raw
