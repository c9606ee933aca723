"""The parser's words, read once from messages/vocabulary/{zh,en}.toml, and how a list of
words becomes a pattern.

The files hold the words; this module holds what each list means to the parser. A list the
parser does not know, a word in two lists or a word in upper case is an error at import, so a
slip in the data cannot quietly change what a message means.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from importlib import resources
from importlib.resources.abc import Traversable

from handlers.parsing.normalise import lowered
from vmi_rules.periods import Period, month_of, next_month, next_week, week_of

WORDS = resources.files("messages") / "vocabulary"  # beside the templates, in the wheel too
LANGUAGES = ("zh", "en")

# The intents a strong or weak word may name (the parser's `_decide` knows each of them).
INTENT_FAMILIES = frozenset(
    {
        "help", "review", "status", "todo", "undo", "correction", "count", "withdrawal",
        "receipt", "plan", "emergency", "confirm", "adjust", "reject", "ship", "decline",
        "cancel", "eta", "retro", "suggest",
    }
)  # fmt: skip
# Words that are no intent: agreement, question, "the old value", filler and thanks.
# "guess" marks a number as not counted: 约 40, 40 左右, 老王说…, about 40.
OTHER_FAMILIES = ("yes", "question", "guess", "was", "filler", "thanks")


def _past(_: date) -> Period:
    raise ValueError("a period that is over")  # 上月 / last week: plans are for the future


# Each list of [periods] names the period it means, from today.
PERIOD_OF: Mapping[str, Callable[[date], Period]] = {
    "week_after_next": lambda day: next_week(next_week(day).start),
    "month_after_next": lambda day: next_month(next_month(day).start),
    "next_month": next_month,
    "this_month": month_of,
    "next_week": next_week,
    "this_week": week_of,
    "past": _past,
}
# Each list of [days] names a day this many days from today.
DAYS_AHEAD: Mapping[str, int] = {
    "today": 0,
    "tomorrow": 1,
    "day_after_tomorrow": 2,
    "in_three_days": 3,
    "yesterday": -1,  # a back-dated entry: "昨天 6205 库存 80"
    "day_before_yesterday": -2,
}
_SECTIONS: Mapping[str, frozenset[str]] = {
    "strong": INTENT_FAMILIES,
    "weak": INTENT_FAMILIES,
    "words": frozenset(OTHER_FAMILIES),
    "units": frozenset({"pieces", "other"}),
    "periods": frozenset(PERIOD_OF),
    "days": frozenset(DAYS_AHEAD),
    # read by handlers/parsing/amendments.py before the rest: 修改 6205 补货线 55, 同意 A1
    "amendments": frozenset(
        {
            "change",
            "agree",
            "disagree",
            "min",
            "max",
            "pack_size",
            "moq",
            "uncounted",
            "reminder",
            "count_at",
            "weekly_plan_at",
            "monthly_plan_at",
        }
    ),
    # read by handlers/parsing/pages.py as the whole message: 表格, 总览
    "pages": frozenset({"sheet", "overview"}),
    # read by handlers/parsing/simulate.py first: 模拟 6205 补货线 40 安全线 90
    "simulate": frozenset({"simulate"}),
}


@dataclass(frozen=True)
class Vocabulary:
    """Every word list of both languages, merged: section → list name → words."""

    lists: Mapping[str, Mapping[str, tuple[str, ...]]]

    def words(self, section: str, name: str) -> tuple[str, ...]:
        """One list, both languages; empty when neither file has it."""
        return self.lists.get(section, {}).get(name, ())


def load(folder: Traversable = WORDS, languages: Iterable[str] = LANGUAGES) -> Vocabulary:
    """Read and check the word files of `languages`; raises ValueError naming file and key."""
    merged: dict[str, dict[str, tuple[str, ...]]] = {section: {} for section in _SECTIONS}
    seen: dict[tuple[str, str], str] = {}  # (what it is matched as, word) → where it stands
    for language in languages:
        name = f"{language}.toml"
        for section, list_name, words in _lists(folder, name):
            key = f"{name}: {section}.{list_name}"
            for word in words:
                if word != lowered(word):
                    raise ValueError(f"{key}: {word!r} must be in lower case")
                # units, periods and days are matched apart from keywords, so their words may
                # also be keywords ("set"); within each, one word means one thing
                kind = "keyword" if section in ("strong", "weak", "words") else section
                if (kind, word) in seen:
                    raise ValueError(f"{key}: {word!r} is already in {seen[kind, word]}")
                seen[kind, word] = key
            merged[section][list_name] = merged[section].get(list_name, ()) + words
    return Vocabulary(merged)


def _lists(folder: Traversable, name: str) -> Iterator[tuple[str, str, tuple[str, ...]]]:
    """(section, list name, words) of one file, each a list the parser knows."""
    try:
        document = tomllib.loads((folder / name).read_text("utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise ValueError(f"{name}: {err}") from err
    for section, lists in document.items():
        if section not in _SECTIONS or not isinstance(lists, dict):
            raise ValueError(f"{name}: {section} is no section of the parser's words")
        for list_name, words in lists.items():
            key = f"{name}: {section}.{list_name}"
            if list_name not in _SECTIONS[section]:
                raise ValueError(f"{key} is no list the parser knows")
            if not isinstance(words, list) or not all(isinstance(w, str) and w for w in words):
                raise ValueError(f"{key} must be a list of words")
            yield section, list_name, tuple(words)


VOCABULARY = load()


def _keyword_table(vocabulary: Vocabulary) -> dict[str, tuple[str, bool]]:
    """keyword → (family, strong); fillers, yes-words and question words are families too."""
    table: dict[str, tuple[str, bool]] = {}
    for family in OTHER_FAMILIES:
        table.update(dict.fromkeys(vocabulary.words("words", family), (family, False)))
    for family, words in vocabulary.lists["weak"].items():
        table.update(dict.fromkeys(words, (family, False)))
    for family, words in vocabulary.lists["strong"].items():
        table.update(dict.fromkeys(words, (family, True)))
    return table


def alternation(words: Iterable[str], glued: bool = False) -> str:
    """A regex matching any of the words, longest first; ASCII words only as whole words.

    `glued` words may follow a digit directly (units: "45pcs").
    """
    parts = []
    for word in sorted(set(words), key=len, reverse=True):
        part = re.escape(word)
        if word[0].isascii() and word[0].isalnum() and not glued:
            part = r"(?<![0-9a-z])" + part
        if word[-1].isascii() and word[-1].isalnum():
            part += r"(?![0-9a-z])"
        parts.append(part)
    return "|".join(parts)


KEYWORDS = _keyword_table(VOCABULARY)
KEYWORD_RE = re.compile(alternation(KEYWORDS))

# Units that mean "pieces" and can be dropped after a number; other units ("5箱") change the
# quantity and are refused unless the item itself is counted in them.
PIECE_UNITS = VOCABULARY.words("units", "pieces")
OTHER_UNITS = VOCABULARY.words("units", "other")

# 下月 / next week → the period it names, given today.
RELATIVE_PERIODS: Mapping[str, Callable[[date], Period]] = {
    word: PERIOD_OF[name] for name, words in VOCABULARY.lists["periods"].items() for word in words
}
# 明天 / tomorrow → how many days from today.
RELATIVE_DAYS: Mapping[str, int] = {
    word: DAYS_AHEAD[name] for name, words in VOCABULARY.lists["days"].items() for word in words
}
TODAY = frozenset(word for word, ahead in RELATIVE_DAYS.items() if ahead == 0)
