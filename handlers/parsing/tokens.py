"""A message scanned into tokens, most specific first: the agreement's items, proposal ids,
dates, periods, keywords, times, numbers, part-number-like codes; what is left becomes text.
Each pass masks what it took, so later passes never re-read it (an item's digits are never a
quantity)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from functools import lru_cache

from handlers.parsing.dates import DATE_RE, PERIOD_RE, read_date, read_period
from handlers.parsing.normalise import lowered, normalise
from handlers.parsing.numbers import NUMBER_RE, read_number
from handlers.parsing.vocabulary import KEYWORD_RE, KEYWORDS, PIECE_UNITS, alternation
from vmi_rules.terms import Item

_CODE_RE = re.compile(r"(?<![0-9a-z])[0-9a-z]+(?:[-_/.][0-9a-z]+)*(?![0-9a-z])")
_PROPOSAL_RE = re.compile(r"(?<![0-9a-z])p([0-9]{1,9})(?![0-9a-z])")
_TIME_RE = re.compile(
    r"(?<![0-9])[0-9]{1,2}:[0-9]{2}(?![0-9])|(?<![0-9])[0-9]{1,2}\s?点(?:\s?[0-9]{1,2}\s?分|半)?"
)
_TEXT_RE = re.compile(r"[^\W_]+")


@dataclass(frozen=True)
class Tok:
    """A recognised piece of the message: where it is, what kind, what it means."""

    kind: str  # item code pid period date kw num text time
    start: int
    end: int
    text: str  # as typed
    value: object = None
    family: str = ""  # for keywords
    strong: bool = False


@dataclass(frozen=True)
class ItemNames:
    """One agreement's items as a regex: skus, aliases and names, longest first."""

    pattern: re.Pattern[str] | None
    skus: dict[str, str]
    units: frozenset[str]


def item_names_of(items: Sequence[Item]) -> ItemNames:
    """The items' names as a regex, cached per agreement (items are frozen, so hashable)."""
    key = tuple(items)
    try:
        return _cached_item_names(key)
    except TypeError:  # an Item built with a list of aliases: fine, just not cacheable
        return _build_item_names(key)


@lru_cache(maxsize=64)
def _cached_item_names(items: tuple[Item, ...]) -> ItemNames:
    return _build_item_names(items)


def _build_item_names(items: tuple[Item, ...]) -> ItemNames:
    skus: dict[str, str] = {}
    for item in items:
        for name in (item.sku, *item.aliases, item.name):
            key = lowered(" ".join(unicodedata.normalize("NFKC", name).split()))
            if key:
                skus.setdefault(key, item.sku)  # a name shared by two items: the first one
    units = frozenset(PIECE_UNITS) | {lowered(item.unit) for item in items if item.unit}
    pattern = re.compile(alternation(list(skus))) if skus else None
    return ItemNames(pattern, skus, units)


class Message:
    """The normalised message and its tokens, in order."""

    def __init__(self, text: str, items: Sequence[Item], today: date) -> None:
        self.raw = normalise(text)
        self._work = lowered(self.raw)
        self._taken: list[tuple[int, int]] = []
        self.tokens: list[Tok] = []
        names = item_names_of(items)
        if names.pattern is not None:
            self._take(names.pattern, "item", lambda m: names.skus[m.group()])
        self._take(_PROPOSAL_RE, "pid", lambda m: f"P{int(m[1])}")
        self._take(DATE_RE, "date", lambda m: read_date(m, today))
        self._take(PERIOD_RE, "period", lambda m: read_period(m, today))
        self._take_keywords()
        self._take(_TIME_RE, "time", lambda m: None)
        self._take_numbers(names.units)
        self._take(_CODE_RE, "code", lambda m: m.group(), keep=_is_code)
        for match in list(_TEXT_RE.finditer(self._work)):
            self._add("text", match.span(), None)
        self._mask()
        self.tokens.sort(key=lambda tok: tok.start)
        self._drop_old_values()
        self.question = "?" in self.raw or self.has("question")
        self.line_starts = [i for i, char in enumerate(self.raw) if char == "\n"]

    # -- building

    def _add(
        self,
        kind: str,
        span: tuple[int, int],
        value: object,
        family: str = "",
        strong: bool = False,
    ) -> None:
        start, end = span
        self.tokens.append(Tok(kind, start, end, self.raw[start:end], value, family, strong))
        self._taken.append(span)

    def _mask(self) -> None:
        """Blank out what the last pass took, so later passes never read it again."""
        if self._taken:
            chars = list(self._work)
            for start, end in self._taken:
                chars[start:end] = "\x00" * (end - start)
            self._work = "".join(chars)
            self._taken.clear()

    def _take(
        self,
        pattern: re.Pattern[str],
        kind: str,
        read: Callable[[re.Match[str]], object],
        keep: Callable[[re.Match[str]], bool] = lambda m: True,
    ) -> None:
        for match in list(pattern.finditer(self._work)):
            if match.group() and keep(match):
                self._add(kind, match.span(), read(match))
        self._mask()

    def _take_keywords(self) -> None:
        for match in list(KEYWORD_RE.finditer(self._work)):
            family, strong = KEYWORDS[match.group()]
            self._add("kw", match.span(), None, family, strong)
        self._mask()
        # 查 alone is a query only at the start ("查 6205"); "我查一下" is chat.
        if self._work.startswith("查"):
            self._add("kw", (0, 1), None, "status", strong=True)
            self._mask()

    def _take_numbers(self, units: frozenset[str]) -> None:
        for match in list(NUMBER_RE.finditer(self._work)):
            before = self._work[max(0, match.start() - 3) : match.start()]
            if not match["digits"] and not match["unit"] and _in_a_word(self._work, match):
                continue  # 一切, 统一, 第一: words, not quantities
            number = read_number(match, units, before)
            if number is not None:
                self._add("num", match.span(), number)
        self._mask()

    def _drop_old_values(self) -> None:
        """Old numbers are no quantities: "从90改为120", "90 改成 120", "120 instead of 90"."""
        significant = [tok for tok in self.tokens if tok.family != "filler"]
        old: set[int] = set()
        for index, tok in enumerate(significant):
            if tok.kind != "num":
                continue
            before = significant[index - 1] if index else None
            after = significant[index + 1 : index + 3]
            after_was = before is not None and before.family == "was"
            before_change = [t.kind for t in after] == ["kw", "num"] and after[0].family == "adjust"
            if after_was or before_change:
                old.add(tok.start)
        self.tokens = [
            replace(tok, kind="old") if tok.kind == "num" and tok.start in old else tok
            for tok in self.tokens
        ]

    # -- reading

    def of(self, *kinds: str) -> list[Tok]:
        """The tokens of these kinds, in order."""
        return [tok for tok in self.tokens if tok.kind in kinds]

    def has(self, family: str, strong_only: bool = False) -> bool:
        """Whether a keyword of this family is present."""
        return any(
            tok.kind == "kw" and tok.family == family and (tok.strong or not strong_only)
            for tok in self.tokens
        )

    @property
    def families(self) -> set[str]:
        """The intent families named by keywords (not fillers, yes-words or question words)."""
        return {
            tok.family
            for tok in self.tokens
            if tok.kind == "kw" and tok.family not in ("filler", "yes", "question", "guess", "was")
        }

    @property
    def has_data(self) -> bool:
        """Items, part numbers, quantities, proposal ids or periods: something to act on."""
        return bool(self.of("item", "code", "num", "pid", "period"))

    def vague(self, family: str) -> bool:
        """True when the message only mentions the family in passing: chat, not a command.

        "库存管理真麻烦" and "收到" are chat; "库存" and "确认" alone are half-typed commands.
        """
        if self.has_data:
            return False
        # A date without data is talk about a day: "明天盘点" announces tomorrow's stocktake.
        return bool(self.of("text", "date")) or not self.has(family, strong_only=True)


def _is_ideograph(char: str) -> bool:
    return "\u4e00" <= char <= "\u9fff"


def _in_a_word(work: str, match: re.Match[str]) -> bool:
    """Chinese numerals glued to other Chinese text are part of a word (一切, 统一, 第一)."""
    start, end = match.span("value")
    return (start > 0 and _is_ideograph(work[start - 1])) or (
        end < len(work) and _is_ideograph(work[end])
    )


def _is_code(match: re.Match[str]) -> bool:
    """A part-number-like token: letters and digits together (BRG-8, 6299A)."""
    text = match.group()
    return any(c.isdigit() for c in text) and any(c.isalpha() for c in text)
