"""Secret references.

A credential profile never holds a secret, only where to find it: ``env:NAME`` (an environment
variable) or ``file:PATH`` (a file whose first line is the secret). Values are resolved at the
moment a transport needs them and are never stored, printed or logged.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from fleet.errors import SecretError

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class SecretScheme(StrEnum):
    ENV = "env"
    FILE = "file"


@dataclass(frozen=True, slots=True)
class SecretRef:
    scheme: SecretScheme
    target: str

    def __str__(self) -> str:
        return f"{self.scheme}:{self.target}"

    @classmethod
    def parse(cls, text: str) -> SecretRef:
        """Parse ``env:NAME`` or ``file:PATH``.

        The error never repeats ``text``: a value that is not a reference may be a pasted secret.
        """
        scheme, sep, target = text.partition(":")
        if not sep or scheme not in {s.value for s in SecretScheme}:
            raise ValueError("a secret must be a reference 'env:NAME' or 'file:PATH', not a value")
        if not target:
            raise ValueError(f"the reference '{scheme}:' names nothing")
        if scheme == SecretScheme.ENV and not _ENV_NAME.match(target):
            raise ValueError(f"'{target}' is not a valid environment variable name")
        return cls(SecretScheme(scheme), target)

    def resolve(self) -> str:
        """Return the secret value. Errors name the reference, never the value."""
        if self.scheme is SecretScheme.ENV:
            value = os.environ.get(self.target)
            if value is None:
                raise SecretError(f"secret {self} is not set in the environment")
            return value
        path = Path(self.target).expanduser()
        try:
            first_line = path.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise SecretError(f"secret {self} cannot be read: {exc.strerror}") from None
        if not first_line or not first_line[0]:
            raise SecretError(f"secret {self} is empty")
        return first_line[0]
