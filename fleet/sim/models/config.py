"""A router's configuration as sections of lines, edited the way IOS and VRP edit theirs.

A section is a top-level line with indented children (``interface …``, ``ip sla 10``). Setting a
line whose key is single-valued replaces the old one (``hostname``, ``description``,
``ip address``); other lines are added once; ``no``/``undo`` removes.

Like the real systems, the configuration is rendered from state in a fixed order, not in the order
of edits: top-level lines by a per-model rank of their keywords, children by a per-mode rank, ties
by the line's text (numbers compared as numbers). Removing a line and adding it back, or changing a
value and putting the old one back, gives the same text again.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

NaturalKey = tuple[tuple[int, int, str], ...]
SortKey = tuple[int, NaturalKey, str]


def natural(text: str) -> NaturalKey:
    """A sort key comparing runs of digits as numbers: '10.9.0.1' < '10.10.0.1', 'Gi0/0/2' < 'Gi0/0/10'."""
    runs = re.findall(r"[0-9]+|[^0-9]+", text)
    return tuple((0, int(run), "") if run[0] in "0123456789" else (1, 0, run) for run in runs)


def _same(line: str) -> str:
    return line


def _rank(table: tuple[str, ...], line: str) -> int | None:
    """Position of the longest keyword prefix of ``line`` in ``table`` (whole words), or None."""
    best, best_len = None, -1
    for index, prefix in enumerate(table):
        if (line == prefix or line.startswith(prefix + " ")) and len(prefix) > best_len:
            best, best_len = index, len(prefix)
    return best


@dataclass(frozen=True, slots=True)
class Ordering:
    """How a model orders its configuration when it prints it."""

    top: tuple[str, ...]  # top-level keyword prefixes, in the order the device prints them
    unknown_before: str  # top-level lines no prefix names go just before this prefix's lines
    # Section keyword prefix -> child keyword prefixes in order; None: children stay in the order
    # they were configured (where order is meaning, like the classes of a policy-map).
    children: dict[str, tuple[str, ...] | None]
    negation: str  # "no" or "undo": a negated line ranks with the line it negates
    # Section keyword prefix -> (key, line shown when no child has that key): IOS's " no ip address".
    implied: dict[str, tuple[str, str]] = field(default_factory=dict)
    # The text ties are broken by (IOS: 'ip sla schedule N' sorts as if right after 'ip sla N').
    tie: Callable[[str], str] = _same

    def _plain(self, line: str) -> str:
        prefix = self.negation + " "
        return line[len(prefix) :] if line.startswith(prefix) else line

    def top_key(self, line: str) -> SortKey:
        rank = _rank(self.top, self._plain(line))
        if rank is None:
            before = _rank(self.top, self.unknown_before)
            position = 2 * (before if before is not None else len(self.top)) - 1
        else:
            position = 2 * rank
        return position, natural(self.tie(line)), line

    def kind(self, header: str) -> str | None:
        """The children table a section uses: the longest prefix of its header that has one."""
        found = [k for k in self.children if header == k or header.startswith(k + " ")]
        return max(found, key=len) if found else None

    def sorts_children(self, header: str) -> bool:
        kind = self.kind(header)
        return kind is None or self.children[kind] is not None

    def child_key(self, header: str, line: str) -> SortKey:
        """Children no table names go last, in the order of their text."""
        kind = self.kind(header)
        table = (self.children[kind] if kind is not None else None) or ()
        rank = _rank(table, self._plain(line))
        return 2 * (rank if rank is not None else len(table)), natural(line), line

    def implied_line(self, header: str) -> tuple[str, str] | None:
        found = [k for k in self.implied if header == k or header.startswith(k + " ")]
        return self.implied[max(found, key=len)] if found else None


@dataclass(slots=True)
class Section:
    header: str
    children: list[str] = field(default_factory=list)


def _has_key(lines: list[str], key: str) -> bool:
    return any(c == key or c.startswith(key + " ") for c in lines)


@dataclass(slots=True)
class ConfigTree:
    sections: list[Section]
    single_valued: tuple[str, ...]  # keys (leading words) that hold one value per context
    negation: str  # "no" or "undo"
    order: Ordering | None = None  # None: print in the order of edits

    @classmethod
    def parse(
        cls,
        text: str,
        single_valued: tuple[str, ...],
        negation: str,
        comment: str,
        order: Ordering | None = None,
    ) -> ConfigTree:
        sections: list[Section] = []
        for raw in text.splitlines():
            if not raw.strip() or raw.strip() == comment:
                continue
            if raw.startswith(" ") and sections:
                implied = order.implied_line(sections[-1].header) if order is not None else None
                if implied is None or raw.strip() != implied[1]:  # shown from state, not stored
                    sections[-1].children.append(raw.strip())
            else:
                sections.append(Section(raw.strip()))
        return cls(sections, single_valued, negation, order)

    def value(self, keyword: str) -> str | None:
        """The argument of a top-level single-value line, e.g. value('hostname') -> 'vn00004-rtr'."""
        prefix = keyword + " "
        return next((s.header[len(prefix) :] for s in self.sections if s.header.startswith(prefix)), None)

    def find(self, header: str) -> Section | None:
        return next((s for s in self.sections if s.header == header), None)

    def enter(self, header: str) -> Section:
        section = self.find(header)
        if section is None:
            section = Section(header)
            self.sections.append(section)
        return section

    def _key(self, line: str) -> str | None:
        for key in self.single_valued:
            if line == key or line.startswith(key + " "):
                return key
        return None

    def apply(self, line: str, context: Section | None) -> None:
        """Set or remove ``line`` at top level (context None) or inside ``context``."""
        lines = context.children if context is not None else None
        prefix = self.negation + " "
        if line.startswith(prefix):
            target = line[len(prefix) :]
            key = self._key(target)
            if lines is None:
                self.sections = [
                    s
                    for s in self.sections
                    if not (s.header == target or (key and self._key(s.header) == key))
                ]
            else:
                lines[:] = [c for c in lines if not (c == target or (key and self._key(c) == key))]
            return
        key = self._key(line)
        if lines is None:
            if key:
                for section in self.sections:
                    if self._key(section.header) == key:
                        section.header = line
                        return
            if self.find(line) is None:
                self.sections.append(Section(line))
            return
        if key:
            for i, existing in enumerate(lines):
                if self._key(existing) == key:
                    lines[i] = line
                    return
        if line not in lines:
            lines.append(line)

    def ordered(self) -> list[Section]:
        """The sections as the device prints them (copies): canonical order, implied lines added."""
        order = self.order
        if order is None:
            return [Section(s.header, list(s.children)) for s in self.sections]
        out = []
        for section in sorted(self.sections, key=lambda s: order.top_key(s.header)):
            children = list(section.children)
            implied = order.implied_line(section.header)
            if implied is not None and not _has_key(children, implied[0]):
                children.append(implied[1])
            if order.sorts_children(section.header):
                header = section.header
                children.sort(key=lambda c: order.child_key(header, c))
            out.append(Section(section.header, children))
        return out

    def render(self, separator: str) -> list[str]:
        out: list[str] = []
        sections = self.ordered()
        for i, section in enumerate(sections):
            out.append(section.header)
            out.extend(" " + c for c in section.children)
            nxt = sections[i + 1] if i + 1 < len(sections) else None
            if section.children or (nxt is not None and nxt.children):
                out.append(separator)
        return out


def replace_header(tree: ConfigTree, old: str, new: str) -> bool:
    section = tree.find(old)
    if section is None:
        return False
    section.header = new
    return True


def drift_line(tree: ConfigTree, undo: list[tuple[str, str]], original: str, drifted: str) -> None:
    """Change a top-level line the way a technician on site would, remembering how to undo it."""
    if replace_header(tree, original, drifted):
        undo.append((drifted, original))


def undo_drift(tree: ConfigTree, undo: list[tuple[str, str]]) -> None:
    """Put drifted lines back, unless someone has changed them since."""
    for drifted, original in undo:
        replace_header(tree, drifted, original)
    undo.clear()


def expand_second_word(
    words: list[str], second: dict[str, tuple[str, ...]], keyword: str
) -> list[str] | None:
    """The line's words with the one after ``keyword`` spelled out, or None for a typo ('ntp servr')."""
    allowed = second.get(keyword)
    if allowed is None or len(words) < 2:
        return [keyword, *words[1:]]
    typed = words[1].lower()
    matches = [w for w in allowed if w.lower() == typed] or [
        w for w in allowed if w.lower().startswith(typed)
    ]
    if len(matches) != 1:
        return None
    return [keyword, matches[0], *words[2:]]
