"""A router's configuration as sections of lines, edited the way IOS and VRP edit theirs.

A section is a top-level line with indented children (``interface …``, ``ip sla 10``). Setting a
line whose key is single-valued replaces the old one (``hostname``, ``description``,
``ip address``); other lines are added once; ``no``/``undo`` removes.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class Section:
    header: str
    children: list[str] = field(default_factory=list)


@dataclass(slots=True)
class ConfigTree:
    sections: list[Section]
    single_valued: tuple[str, ...]  # keys (leading words) that hold one value per context
    negation: str  # "no" or "undo"

    @classmethod
    def parse(cls, text: str, single_valued: tuple[str, ...], negation: str, comment: str) -> ConfigTree:
        sections: list[Section] = []
        for raw in text.splitlines():
            if not raw.strip() or raw.strip() == comment:
                continue
            if raw.startswith(" ") and sections:
                sections[-1].children.append(raw.strip())
            else:
                sections.append(Section(raw.strip()))
        return cls(sections, single_valued, negation)

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

    def render(self, separator: str) -> list[str]:
        out: list[str] = []
        for i, section in enumerate(self.sections):
            out.append(section.header)
            out.extend(" " + c for c in section.children)
            nxt = self.sections[i + 1] if i + 1 < len(self.sections) else None
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
