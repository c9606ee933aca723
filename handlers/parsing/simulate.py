"""The what-if, read before the rest of the parser: "模拟 6205 补货线 40 安全线 90",
"simulate 6205 min 40 max 90" (one of the two figures may be left out). Its min and max words
are the amendments' ([amendments] in the vocabulary), so the two phrases read alike.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from itertools import pairwise

from handlers.parsing.amendments import named_item, whole_figure
from handlers.parsing.normalise import lowered, normalise
from handlers.parsing.parsed import Refusal, Simulate
from handlers.parsing.vocabulary import VOCABULARY, alternation
from vmi_rules.terms import Item

_WORD_OF = {
    word: field for field in ("min", "max") for word in VOCABULARY.words("amendments", field)
}
_START_RE = re.compile(rf"^(?:{alternation(VOCABULARY.words('simulate', 'simulate'))})\s*")
_FIELD_RE = re.compile(rf"({alternation(_WORD_OF)})\s*(?:[:=：]|为)?\s*(-?[0-9][0-9,.]*)?")
_EDGE = " \t\n,.;:!?、。，：；()（）?？"


def read_simulate(text: str, items: Sequence[Item]) -> Simulate | Refusal | None:
    """The what-if in `text`, a Refusal saying what is wrong with it, or None when the message
    is something else."""
    raw = normalise(text)
    low = lowered(raw)
    start = _START_RE.match(low)
    if start is None:
        return None
    matches = list(_FIELD_RE.finditer(low, start.end()))
    end = matches[0].start() if matches else len(low)
    subject = raw[start.end() : end].strip(_EDGE)
    item = named_item(subject, items)
    if item is None:
        if not subject:
            return Refusal("ambiguous", hint="simulate", missing="item")
        return Refusal("unknown_item", detail=subject[:40], hint="simulate")
    if not matches:
        return Refusal("ambiguous", detail=item.sku, hint="simulate", missing="qty", sku=item.sku)
    between = "".join(low[a.end() : b.start()] for a, b in pairwise(matches))
    tail = low[matches[-1].end() :].strip(_EDGE)
    if between.strip(_EDGE) or tail:
        extra = (between.strip(_EDGE) or tail)[:40]
        return Refusal("not_understood", detail=extra, hint="simulate", sku=item.sku)
    figures: dict[str, int] = {}
    for match in matches:
        field = _WORD_OF[match[1]]
        if match[2] is None:
            return Refusal("ambiguous", detail=match[1], hint="simulate", missing="qty",
                           sku=item.sku)  # fmt: skip
        if field in figures:
            return Refusal("ambiguous", detail=match[1], hint="simulate", missing="duplicate",
                           sku=item.sku)  # fmt: skip
        value = whole_figure(match[2], item.sku, "simulate")
        if isinstance(value, Refusal):
            return value
        figures[field] = value
    return Simulate(item.sku, figures.get("min"), figures.get("max"))
