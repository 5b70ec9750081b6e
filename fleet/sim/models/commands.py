"""Match a typed line against a command table, with unique-prefix abbreviations (``sh ip int br``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum


class MatchError(StrEnum):
    INVALID = "invalid"
    INCOMPLETE = "incomplete"
    AMBIGUOUS = "ambiguous"


@dataclass(frozen=True, slots=True)
class Command:
    words: tuple[str, ...]
    handler: Callable[[list[str]], object]
    takes_args: bool = False


@dataclass(frozen=True, slots=True)
class Match:
    command: Command | None
    args: list[str]
    error: MatchError | None = None
    position: int = 0  # character position of the offending word


def match(line: str, table: list[Command]) -> Match:
    words = line.split()
    positions = []
    cursor = 0
    for word in words:
        cursor = line.index(word, cursor)
        positions.append(cursor)
        cursor += len(word)
    candidates = table
    for depth, word in enumerate(words):
        at_depth = [c for c in candidates if len(c.words) > depth]
        if not at_depth:
            done = [c for c in candidates if len(c.words) == depth and c.takes_args]
            if done:
                return Match(done[0], words[depth:])
            return Match(None, [], MatchError.INVALID, positions[depth])
        exact = [c for c in at_depth if c.words[depth] == word.lower()]
        prefixed = exact or [c for c in at_depth if c.words[depth].startswith(word.lower())]
        keywords = {c.words[depth] for c in prefixed}
        if not prefixed:
            done = [c for c in candidates if len(c.words) == depth and c.takes_args]
            if done:
                return Match(done[0], words[depth:])
            return Match(None, [], MatchError.INVALID, positions[depth])
        if len(keywords) > 1:
            return Match(None, [], MatchError.AMBIGUOUS, positions[depth])
        candidates = prefixed
    complete = [c for c in candidates if len(c.words) == len(words)]
    if complete:
        return Match(complete[0], [])
    return Match(None, [], MatchError.INCOMPLETE, len(line))


def output_filter(line: str) -> tuple[str, Callable[[str], str]]:
    """Split off an output modifier ('| include ntp', '| exclude', '| begin') as IOS and VRP have."""
    command, bar, modifier = line.partition("|")
    if not bar:
        return line, lambda text: text
    verb, _, pattern = modifier.strip().partition(" ")
    pattern = pattern.strip()
    verb = verb.lower()
    if "include".startswith(verb):
        return command, lambda text: "\n".join(x for x in text.splitlines() if pattern in x)
    if "exclude".startswith(verb):
        return command, lambda text: "\n".join(x for x in text.splitlines() if pattern not in x)
    if "begin".startswith(verb):

        def begin(text: str) -> str:
            lines = text.splitlines()
            start = next((i for i, x in enumerate(lines) if pattern in x), len(lines))
            return "\n".join(lines[start:])

        return command, begin
    return line, lambda text: text
