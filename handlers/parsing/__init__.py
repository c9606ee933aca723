"""Chat text → intent: what keepers, buyers and suppliers type, turned into data.

`parse` is pure: no I/O and no clock (the caller passes `today` in the agreement's time zone).
It reads Chinese and English, skus and aliases, full-width text, units, Chinese numerals and
Excel pastes, and answers either an intent or a `Refusal` that says why and what it looked like.

How it works, in three steps:

1. `normalise` the text (NFKC, mentions, spaces): normalise.py.
2. `Message` scans it into tokens, most specific first: items, proposal ids, dates, periods,
   keywords, times, numbers, part-number-like codes; what is left becomes text chunks. Each pass
   masks what it took, so later passes never re-read it (an item's digits are never a quantity):
   tokens.py, with dates.py and numbers.py, and the words of vocabulary.py, which reads them
   from messages/vocabulary/{zh,en}.toml.
3. `_decide` picks the intent from the keywords present, and that intent's reader pairs items
   with quantities and checks them: readers.py. What comes out is in parsed.py.
"""

from handlers.parsing.normalise import normalise
from handlers.parsing.parsed import (
    HINTS,
    MAX_QTY,
    MAX_TEXT,
    Action,
    Amend,
    AmendAnswer,
    ConfirmCount,
    ConfirmImport,
    Correction,
    CorrectReceipt,
    Count,
    Courtesy,
    Emergency,
    Export,
    Help,
    History,
    Intent,
    ItemQty,
    OverstockChoice,
    Plan,
    ProposalAction,
    Receipt,
    Refusal,
    RefusalReason,
    Retro,
    ReviewNow,
    SheetLink,
    SheetSent,
    Simulate,
    StatementAction,
    StatementQuery,
    Status,
    Suggest,
    Todo,
    Uncounted,
    Undo,
    Withdrawal,
)
from handlers.parsing.readers import parse

__all__ = [
    "HINTS",
    "MAX_QTY",
    "MAX_TEXT",
    "Action",
    "Amend",
    "AmendAnswer",
    "ConfirmCount",
    "ConfirmImport",
    "CorrectReceipt",
    "Correction",
    "Count",
    "Courtesy",
    "Emergency",
    "Export",
    "Help",
    "History",
    "Intent",
    "ItemQty",
    "OverstockChoice",
    "Plan",
    "ProposalAction",
    "Receipt",
    "Refusal",
    "RefusalReason",
    "Retro",
    "ReviewNow",
    "SheetLink",
    "SheetSent",
    "Simulate",
    "StatementAction",
    "StatementQuery",
    "Status",
    "Suggest",
    "Todo",
    "Uncounted",
    "Undo",
    "Withdrawal",
    "normalise",
    "parse",
]
