"""Chat text as the parser reads it: NFKC, no mentions, single spaces, no empty lines."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_LEADING_AT = re.compile(r"^(?:@\S+\s+)+|^@\S+$")
_SLASH_COMMAND = re.compile(r"^/(?:vmi\b\s*)?", re.IGNORECASE)
_LINE_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"


@lru_cache(maxsize=32)  # every reader tried on a message normalises it: once is enough
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
    text = _without_trailing_mentions(_LEADING_AT.sub("", text))
    return _SLASH_COMMAND.sub("", text).strip()


def _without_trailing_mentions(text: str) -> str:
    """The text without the mentions at its end: "6205 库存 45 @王仓管 @VMI" → "6205 库存 45".

    Word by word from the end (the text has single separators by now); a regex anchored at the
    end would be tried from every space and read the rest each time, quadratic on long texts.
    """
    end = len(text)
    while True:
        cut = max(text.rfind(" ", 0, end), text.rfind("\n", 0, end))
        if cut < 0 or end - cut < 3 or text[cut + 1] != "@":
            return text[:end]
        end = cut


def lowered(text: str) -> str:
    """Lower case without changing the length, so positions match the original text."""
    whole = text.lower()
    # the common case: no character became two (İ → i̇), and none lowers by its neighbours (Σ)
    if len(whole) == len(text) and "Σ" not in text:
        return whole
    return "".join(low if len(low := char.lower()) == 1 else char for char in text)
