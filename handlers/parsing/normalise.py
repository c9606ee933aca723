"""Chat text as the parser reads it: NFKC, no mentions, single spaces, no empty lines."""

from __future__ import annotations

import re
import unicodedata

_LEADING_AT = re.compile(r"^(?:@\S+\s+)+|^@\S+$")
_TRAILING_AT = re.compile(r"(?:\s+@\S+)+$")
_SLASH_COMMAND = re.compile(r"^/(?:vmi\b\s*)?", re.IGNORECASE)
_LINE_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"


def normalise(text: str) -> str:
    """The message as the parser reads it: NFKC, no mentions, single spaces, no empty lines.

    Case is kept (reasons and details are shown back as typed); matching lower-cases a copy.
    """
    text = unicodedata.normalize("NFKC", text)
    kept = []
    for char in text:
        if char in _LINE_BREAKS:
            kept.append("\n")
        elif char.isspace():
            kept.append(" ")
        elif unicodedata.category(char) in ("Cc", "Cf", "Cs"):
            continue  # zero-width spaces, BOMs, control bytes: invisible, never meant
        else:
            kept.append(char)
    text = "".join(kept).replace("’", "'").replace("‘", "'")
    lines = [" ".join(line.split()) for line in text.split("\n")]
    text = "\n".join(line for line in lines if line)
    # "@VMI机器人 库存 6205 45": the caller usually strips the mention, but be tolerant.
    text = _TRAILING_AT.sub("", _LEADING_AT.sub("", text))
    return _SLASH_COMMAND.sub("", text).strip()


def lowered(text: str) -> str:
    """Lower case without changing the length, so positions match the original text."""
    return "".join(low if len(low := char.lower()) == 1 else char for char in text)
