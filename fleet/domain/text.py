"""Text that reaches a device or the audit trail must be one clean line."""

from __future__ import annotations

import unicodedata


def unsafe(text: str) -> str | None:
    """Why ``text`` may not reach a device (None: it may)."""
    for ch in text:
        if ch in "\r\n\x0b\x0c\x85\u2028\u2029":
            return "contains a line break"
        if unicodedata.category(ch) in {"Cc", "Cf", "Cs", "Co", "Cn"}:
            return f"contains the control character U+{ord(ch):04X}"
    return None
