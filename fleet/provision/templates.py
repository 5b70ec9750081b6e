"""Rendering a device's intended configuration from a template, safely.

Templates run in Jinja2's immutable sandbox with StrictUndefined and no autoescaping: a template
cannot reach Python internals (``__class__``, ``__globals__``, …), call unsafe methods or change
the values it is given, and an undefined name is an error, never an empty string. Every value that
reaches a device must be one line of printable text: the variables are checked before rendering
(naming the field that is wrong) and every ``{{ … }}`` output again as it is written, so no
inventory field or variable can add a command to what is sent.
"""

from __future__ import annotations

import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import FileSystemLoader, StrictUndefined, TemplateError, TemplateNotFound, TemplateSyntaxError
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from fleet.domain.text import unsafe
from fleet.errors import FleetError
from fleet.inventory.problems import show_value

TEMPLATES_DIR = Path("playbooks/templates")


class UnsafeValue(FleetError):
    """A value that would reach a device carries a line break or a control character."""

    def __init__(self, where: str, value: str, reason: str) -> None:
        self.where = where
        self.value = value
        self.reason = reason
        super().__init__(f"{where}={show_value(value)}: {reason}; refused, nothing was sent")


class TemplateFailed(FleetError):
    """A template that cannot be loaded or rendered, with its file and line."""

    def __init__(self, template: str, line: int | None, reason: str) -> None:
        self.template = template
        self.line = line
        self.reason = reason
        where = f"{template}:{line}" if line else template
        super().__init__(f"{where}: {reason}")


def check_values(value: Any, where: str) -> None:
    """UnsafeValue for the first text inside ``value`` (dicts and lists walked) that is not one clean line."""
    if isinstance(value, str):
        reason = unsafe(value)
        if reason:
            raise UnsafeValue(where, value, reason)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            check_values(str(key), f"{where} key")
            check_values(item, f"{where}.{key}")
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            check_values(item, f"{where}[{i}]")


def _finalize(value: Any) -> Any:
    """Every {{ … }} output, checked as it is written (a value built inside the template too)."""
    if isinstance(value, str):
        reason = unsafe(value)
        if reason:
            raise UnsafeValue("template output", value, reason)
    return value


@dataclass(frozen=True, slots=True)
class Templates:
    """The template folder, with one sandboxed environment and each template compiled once."""

    root: Path
    env: ImmutableSandboxedEnvironment

    @classmethod
    def open(cls, root: Path = TEMPLATES_DIR) -> Templates:
        env = ImmutableSandboxedEnvironment(
            loader=FileSystemLoader(str(root)),
            undefined=StrictUndefined,
            autoescape=False,
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
            finalize=_finalize,
            auto_reload=False,
        )
        # wordwrap turns spaces inside a value into line breaks after finalize has checked it.
        env.filters.pop("wordwrap", None)
        return cls(root, env)

    def check(self, name: str) -> None:
        """TemplateFailed if the template cannot be found or compiled."""
        try:
            self.env.get_template(name)
        except TemplateNotFound:
            raise TemplateFailed(name, None, f"no such template under {self.root}") from None
        except TemplateSyntaxError as exc:
            raise TemplateFailed(name, exc.lineno, f"syntax error: {exc.message}") from None

    def render(self, name: str, context: Mapping[str, Any]) -> str:
        """The rendered text. UnsafeValue for a bad value; TemplateFailed for a template that fails."""
        for key, value in context.items():
            check_values(value, key)
        self.check(name)
        template = self.env.get_template(name)
        try:
            return template.render(dict(context))
        except UnsafeValue as exc:
            raise UnsafeValue(f"{name}:{_line(exc, name)} output", exc.value, exc.reason) from None
        except SecurityError as exc:
            raise TemplateFailed(name, _line(exc, name), f"refused by the sandbox: {exc}") from None
        except TemplateError as exc:
            raise TemplateFailed(name, _line(exc, name), str(exc.message or exc)) from None
        except Exception as exc:  # a filter or test failing on a value: the template's problem
            raise TemplateFailed(name, _line(exc, name), f"{type(exc).__name__}: {exc}") from None


def _line(exc: BaseException, name: str) -> int | None:
    """The template line an error was raised at (Jinja2 puts template frames in the traceback)."""
    line = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename.replace("\\", "/").endswith(name):
            line = frame.lineno
    return line
