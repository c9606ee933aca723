"""表格 / sheet and 总览 / overview: asking for the shared sheet's link, as the whole message
(so "6205 库存表" or a sentence about a page is read by the rest of the parser)."""

from __future__ import annotations

from handlers.parsing.normalise import lowered, normalise
from handlers.parsing.parsed import SheetLink
from handlers.parsing.vocabulary import VOCABULARY

_SHEET = frozenset(VOCABULARY.words("pages", "sheet"))
_OVERVIEW = frozenset(VOCABULARY.words("pages", "overview"))
_EDGE = " ?？!！。.吗呢@"


def read_page(text: str) -> SheetLink | None:
    """The page asked for, or None when the message is something else."""
    said = " ".join(lowered(normalise(text)).strip(_EDGE).split())
    if said in _SHEET:
        return SheetLink("sheet")
    if said in _OVERVIEW:
        return SheetLink("overview")
    return None
